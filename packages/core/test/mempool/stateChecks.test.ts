import {expect} from "chai"
import {Block, validatorsHashOf} from "../../src/block/block.js"
import {precommitSigningBytes, quorumSize} from "../../src/block/commit.js"
import {Transaction} from "../../src/tx/transaction.js"
import {Role, TxType} from "../../src/tx/types.js"
import {TxErrorCode} from "../../src/tx/errors.js"
import {genesisBlock, genesisExecution, DEFAULT_CONSENSUS_PARAMS} from "../../src/state/genesis.js"
import {executeBlock} from "../../src/state/execute.js"
import type {Genesis} from "../../src/state/types.js"
import {ChainStore} from "../../src/store/chainStore.js"
import {Mempool} from "../../src/mempool/mempool.js"
import {MempoolError, MempoolErrorCode} from "../../src/mempool/errors.js"
import {selectExecutable, stateMempoolChecks} from "../../src/mempool/stateChecks.js"
import {tempDir, testKey, validatorKeys} from "../store/helpers.js"

describe("mempool with the state machine and the chain store", function () {
  const chainId = "careledger-mempool"
  const hospitals = validatorKeys(4)
  const genesis: Genesis = {
    chainId,
    timestamp: 1_700_000_000_000,
    hospitals: hospitals.map((key, i) => ({id: `hosp-${i}`, name: `Hospital ${i}`, key: key.id, validator: true})),
    consensus: {...DEFAULT_CONSENSUS_PARAMS},
  }
  let store: ChainStore
  let remove: () => void

  beforeEach(async function () {
    const temp = tempDir("mempool")
    remove = temp.remove
    store = await ChainStore.open({dir: temp.dir})
    const execution = genesisExecution(genesis)
    await store.initialize(genesis, genesisBlock(genesis, execution), execution)
  })

  afterEach(async function () {
    await store.close()
    remove()
  })

  function enrol(hospital: number, nonce: number, patientSeed: number): Transaction {
    return Transaction.sign(
      {chainId, type: TxType.IdentityRegister, nonce, payload: {key: testKey(patientSeed).publicKey, role: Role.Patient}},
      hospitals[hospital]!,
    )
  }

  it("admits by state, proposes only an executable sequence, and re-checks after the block is stored", async function () {
    const now = genesis.timestamp + 1000
    const mempool = new Mempool({}, {chainId, reader: store.state(), ...stateMempoolChecks(chainId, {nextHeight: () => store.head().height + 1, now: () => now})})
    const a0 = enrol(0, 0, 0x90)
    const b0 = enrol(1, 0, 0x90) // the same patient, enrolled by another hospital: conflicts with a0
    const a1 = enrol(0, 1, 0x91)
    const a3 = enrol(0, 3, 0x93) // held behind a gap
    for (const tx of [a0, b0, a1]) expect((await mempool.add(tx)).executable).to.equal(true)
    expect((await mempool.add(a3)).executable).to.equal(false)
    // Someone who is not a hospital cannot enrol identities.
    const stranger = Transaction.sign({chainId, type: TxType.IdentityRegister, nonce: 0, payload: {key: testKey(0x99).publicKey, role: Role.Patient}}, testKey(0x98))
    const refused = await mempool.add(stranger).catch((err: unknown) => err)
    expect(refused).to.be.instanceOf(MempoolError)
    expect((refused as MempoolError).code).to.equal(MempoolErrorCode.REJECTED)

    const head = store.head()
    const ctx = {chainId, height: head.height + 1, timestamp: now, parentStateRoot: head.header.stateRoot}
    const candidates = mempool.reap(100, 1 << 20)
    expect(candidates.map((tx) => tx.hashHex())).to.deep.equal([a0, b0, a1].map((tx) => tx.hashHex()))
    const selection = await selectExecutable(store.state(), ctx, candidates)
    expect(selection.txs.map((tx) => tx.hashHex())).to.deep.equal([a0.hashHex(), a1.hashHex()])
    expect(selection.skipped).to.deep.equal([{hash: b0.hashHex(), reason: TxErrorCode.CONFLICT}])

    const execution = await executeBlock(store.state(), ctx, selection.txs)
    const block = Block.create(
      {
        chainId,
        height: ctx.height,
        round: 0,
        parentHash: head.hash,
        timestamp: now,
        proposer: hospitals[1]!.publicKey,
        stateRoot: execution.stateRoot,
        validatorsHash: validatorsHashOf(store.validatorsAt(ctx.height)),
        lastCommit: null,
      },
      selection.txs,
    )
    const message = precommitSigningBytes(chainId, ctx.height, 0, block.hash())
    const signatures = hospitals.slice(0, quorumSize(4)).map((key) => ({validator: key.publicKey, signature: key.sign(message)}))
    await store.commitBlock(block, {height: ctx.height, round: 0, blockHash: block.hash(), signatures}, execution)

    const result = await mempool.onBlockCommitted(block, store.state())
    expect(result.included).to.equal(2)
    expect(result.dropped).to.deep.equal([{hash: b0.hashHex(), reason: TxErrorCode.CONFLICT}])
    expect(mempool.size).to.equal(1)
    expect(mempool.has(a3.hashHex())).to.equal(true)
    expect(mempool.metrics().executable).to.equal(0)
    expect(mempool.pendingNonce(hospitals[0]!.id)).to.equal(2)
    const replay = await mempool.add(a1).catch((err: unknown) => err)
    expect((replay as MempoolError).code).to.equal(MempoolErrorCode.NONCE_TOO_LOW)
  })
})
