import {expect} from "chai"
import {mkdtempSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {
  Block,
  BlockErrorCode,
  ChainStore,
  PrivateKey,
  Role,
  Transaction,
  TxType,
  executeBlock,
  genesisBlock,
  genesisExecution,
  validatorsHashOf,
  type BlockHeader,
  type Genesis,
} from "../../src/index.js"
import {validateNextBlock} from "../../src/chain/index.js"

describe("chain/validation", () => {
  let dir: string
  let store: ChainStore
  const keys = [PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate()]
  const genesis: Genesis = {
    chainId: "validate-chain",
    timestamp: 1_000_000,
    hospitals: keys.map((k, i) => ({id: `hosp-${i}`, name: `Hospital ${i}`, key: k.id, validator: true})),
    consensus: {blockIntervalMs: 1000, roundTimeoutMs: 2000, emptyBlocks: true},
  }
  const validators = keys.map((k) => k.publicKey)

  /** A correct block 1 (proposer of height 1, round 0 is validators[1]), with `change` applied to its header. */
  async function block1(change: Partial<BlockHeader> = {}, txs: Transaction[] = []): Promise<Block> {
    const head = store.head()
    const timestamp = head.header.timestamp + 500
    const execution = await executeBlock(store.state(), {chainId: genesis.chainId, height: 1, timestamp, parentStateRoot: head.header.stateRoot}, txs)
    return Block.create(
      {
        chainId: genesis.chainId,
        height: 1,
        round: 0,
        parentHash: head.hash,
        timestamp,
        proposer: validators[1]!,
        stateRoot: execution.stateRoot,
        validatorsHash: validatorsHashOf(validators),
        lastCommit: null,
        ...change,
      },
      txs,
    )
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "careledger-validate-"))
    store = await ChainStore.open({dir})
    const execution = genesisExecution(genesis)
    await store.initialize(genesis, genesisBlock(genesis, execution), execution)
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, {recursive: true, force: true})
  })

  it("accepts a correct next block with transactions and returns its execution", async () => {
    const tx = Transaction.sign({chainId: genesis.chainId, type: TxType.IdentityRegister, nonce: 0, payload: {key: PrivateKey.generate().publicKey, role: Role.Patient}}, keys[0]!)
    const block = await block1({}, [tx])
    const execution = await validateNextBlock(store, block, {now: block.header.timestamp})
    expect(execution.stateRoot).to.deep.equal(block.header.stateRoot)
  })

  it("refuses each kind of wrong header with its code", async () => {
    const cases: [Partial<BlockHeader>, BlockErrorCode][] = [
      [{chainId: "another-chain"}, BlockErrorCode.WRONG_CHAIN],
      [{height: 2}, BlockErrorCode.BAD_HEIGHT],
      [{parentHash: new Uint8Array(32).fill(7)}, BlockErrorCode.BAD_PARENT],
      [{timestamp: genesis.timestamp}, BlockErrorCode.BAD_TIMESTAMP],
      [{proposer: validators[2]!}, BlockErrorCode.BAD_PROPOSER],
      [{validatorsHash: validatorsHashOf(validators.slice(1))}, BlockErrorCode.BAD_VALIDATORS_HASH],
      [{stateRoot: new Uint8Array(32).fill(1)}, BlockErrorCode.BAD_STATE_ROOT],
    ]
    for (const [change, code] of cases) {
      const err = await validateNextBlock(store, await block1(change)).catch((e: unknown) => e)
      expect(err, JSON.stringify(Object.keys(change))).to.have.property("code", code)
    }
    const future = await block1({timestamp: Date.now() + 60_000})
    expect(await validateNextBlock(store, future, {now: Date.now()}).catch((e: unknown) => e)).to.have.property("code", BlockErrorCode.BAD_TIMESTAMP)
  })

  it("refuses a block whose transaction the state does not allow", async () => {
    const stranger = PrivateKey.generate()
    const tx = Transaction.sign({chainId: genesis.chainId, type: TxType.IdentityRegister, nonce: 0, payload: {key: PrivateKey.generate().publicKey, role: Role.Patient}}, stranger)
    const head = store.head()
    const block = Block.create(
      {
        chainId: genesis.chainId,
        height: 1,
        round: 0,
        parentHash: head.hash,
        timestamp: head.header.timestamp + 500,
        proposer: validators[1]!,
        stateRoot: head.header.stateRoot,
        validatorsHash: validatorsHashOf(validators),
        lastCommit: null,
      },
      [tx],
    )
    expect(await validateNextBlock(store, block).catch((e: unknown) => e)).to.have.property("code", BlockErrorCode.BAD_TX)
    expect(store.head().height).to.equal(0)
  })
})
