import {expect} from "chai"
import type {PrivateKey} from "../../src/crypto/keys.js"
import {bytesEqual, toHex} from "../../src/encoding/bytes.js"
import {encode} from "../../src/encoding/index.js"
import {MAX_BLOCK_BYTES, type Block} from "../../src/block/block.js"
import {MAX_CHAIN_ID_LENGTH, Transaction} from "../../src/tx/transaction.js"
import {ChainStore} from "../../src/store/chainStore.js"
import {
  ConsensusError,
  ConsensusErrorCode,
  ConsensusMachine,
  VoteKind,
  consensusRecordEntries,
  consensusRecordPrefix,
  restoreConsensusRecords,
  signProposal,
  signVote,
  type ConsensusAction,
  type ConsensusRecord,
  type Vote,
} from "../../src/consensus/index.js"
import {tempDir} from "../store/helpers.js"
import {grantTx, keys, makeBlock as makeTestBlock} from "./helpers.js"

const options = {blockIntervalMs: 1000, roundTimeoutMs: 1000}
/** The longest legal chain id: every vote carries it, so a lock's prevote quorum is at its largest. */
const CHAIN = `careledger-${"x".repeat(MAX_CHAIN_ID_LENGTH - 11)}`

function makeBlock(height: number, round: number, proposer: PrivateKey, validators: readonly Uint8Array[], salt = 0, txs: Transaction[] = []): Block {
  return makeTestBlock(height, round, proposer, validators, salt, txs, CHAIN)
}

/**
 * A legal block within a few bytes of MAX_BLOCK_BYTES, made of consent grants of valid size, as a
 * byzantine proposer can build one (about 1,760 of them).
 */
function maximalBlock(proposer: PrivateKey, validators: readonly Uint8Array[]): Block {
  const key = keys(1)[0]!
  const build = (txs: Transaction[]): Block => makeBlock(1, 0, proposer, validators, 99, txs)
  const txs: Transaction[] = []
  const full = grantTx(key, 1000, 32, 32 * 64, CHAIN).serialize().length + 3
  let size = build([]).serialize().length + 2
  while (size + full <= MAX_BLOCK_BYTES) {
    txs.push(grantTx(key, txs.length, 32, 32 * 64, CHAIN))
    size += full
  }
  // One last grant sized to the bytes left: its size grows by one byte per record id character.
  for (let ids = 32; ids >= 1; ids--) {
    const base = grantTx(key, txs.length, ids, ids * 24, CHAIN).serialize().length - ids * 24
    const left = MAX_BLOCK_BYTES - build(txs).serialize().length - 3 - base
    for (let chars = Math.min(left, ids * 64); chars >= ids * 24; chars--) {
      const block = build([...txs, grantTx(key, txs.length, ids, chars, CHAIN)])
      if (block.serialize().length <= MAX_BLOCK_BYTES) return block
    }
  }
  return build(txs)
}

/** The storage side of one validator: what the node does with persist actions and on restart. */
async function persist(store: ChainStore, record: ConsensusRecord): Promise<void> {
  await store.putConsensusRecords(consensusRecordEntries(record))
}

async function load(store: ChainStore, height: number): Promise<ConsensusRecord[]> {
  return restoreConsensusRecords(await store.readConsensusRecords(consensusRecordPrefix(height)))
}

/** One life of a validator: a machine restored from the store, whose persist actions go to disk. */
class Life {
  readonly votes: Vote[] = []
  private constructor(
    readonly machine: ConsensusMachine,
    private readonly store: ChainStore,
  ) {}

  static async begin(store: ChainStore, me: PrivateKey, validators: readonly Uint8Array[]): Promise<Life> {
    const machine = new ConsensusMachine(options, {snapshot: {chainId: CHAIN, height: 1, validators, records: await load(store, 1)}, key: me})
    const life = new Life(machine, store)
    await life.run(machine.start())
    return life
  }

  /** Carries out actions in order, as the node does: a persist is on disk before the next action. */
  async run(actions: ConsensusAction[]): Promise<void> {
    for (const action of actions) {
      if (action.type === "persist") await persist(this.store, action.record)
      else if (action.type === "broadcast" && action.message.type === "vote" && !action.retransmit) this.votes.push(action.message)
      else if (action.type === "validate-block") await this.run(this.machine.onBlockValidated(action.block.hash(), true))
    }
  }
}

function ownVotesFor(votes: readonly Vote[], block: Block): Vote[] {
  return votes.filter((v) => v.blockHash !== null && bytesEqual(v.blockHash, block.hash()))
}

describe("consensus records: a validator's own records always read back", function () {
  this.timeout(120_000)
  let dir: {dir: string; remove: () => void}
  let store: ChainStore

  beforeEach(async function () {
    dir = tempDir("consensus-records")
    store = await ChainStore.open({dir: dir.dir})
  })

  afterEach(async function () {
    await store.close()
    dir.remove()
  })

  async function restart(): Promise<void> {
    await store.close()
    store = await ChainStore.open({dir: dir.dir})
  }

  for (const n of [7, 10]) {
    it(`keeps its lock on a maximal block across two restarts with ${n} validators and refuses the conflicting blocks`, async function () {
      const validators = keys(n)
      const set = validators.map((k) => k.publicKey)
      const me = validators[0]!
      // Height 1: round r is proposed by validator (1 + r) mod n.
      const big = maximalBlock(validators[1]!, set)
      expect(big.serialize().length).to.be.within(MAX_BLOCK_BYTES - 64, MAX_BLOCK_BYTES)
      expect(big.txs.length).to.be.greaterThan(1700)

      // Life 1: prevote the big block, see a prevote quorum for it, lock and precommit it.
      // Every other validator's prevote arrives first, so the lock keeps all n of them (its largest form).
      const first = await Life.begin(store, me, set)
      for (const other of validators.slice(1)) {
        await first.run(first.machine.onMessage(signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 1, round: 0, blockHash: big.hash()}, other)))
      }
      await first.run(first.machine.onMessage(signProposal({chainId: CHAIN, height: 1, round: 0, validRound: -1, block: big}, validators[1]!)))
      expect(ownVotesFor(first.votes, big).map((v) => v.kind)).to.deep.equal([VoteKind.Prevote, VoteKind.Precommit])
      expect(first.machine.status.lockedRound).to.equal(0)

      // Lives 2 and 3: each restart offers a conflicting block in a new round; a locked validator prevotes nil.
      const lives = [first]
      for (const round of [1, 2]) {
        await restart()
        const life = await Life.begin(store, me, set)
        lives.push(life)
        expect(life.machine.status.lockedRound, `life ${lives.length}: lock restored`).to.equal(0)
        // Move on to `round` the way a silent round does: its precommit timeout fires.
        for (let r = life.machine.status.round; r < round; r++) {
          await life.run(life.machine.onTimeout({height: 1, round: r, step: "prevote"}))
          await life.run(life.machine.onTimeout({height: 1, round: r, step: "precommit"}))
        }
        expect(life.machine.status.round).to.equal(round)
        const conflicting = makeBlock(1, round, validators[1 + round]!, set, round)
        await life.run(life.machine.onMessage(signProposal({chainId: CHAIN, height: 1, round, validRound: -1, block: conflicting}, validators[1 + round]!)))
        const signed = lives.flatMap((l) => l.votes)
        expect(ownVotesFor(signed, conflicting), `life ${lives.length}: votes for the conflicting block`).to.deep.equal([])
        expect(signed.filter((v) => v.round === round && v.kind === VoteKind.Prevote).map((v) => v.blockHash)).to.deep.equal([null])
      }

      // Never two different votes in one (round, kind) slot, across all lives.
      const slots = new Map<string, string>()
      for (const vote of lives.flatMap((l) => l.votes)) {
        const slot = `${vote.round}/${vote.kind}`
        const value = vote.blockHash === null ? "nil" : toHex(vote.blockHash)
        expect(slots.get(slot) ?? value, `slot ${slot}`).to.equal(value)
        slots.set(slot, value)
      }
      // And every vote ever signed is still on disk.
      const restored = await load(store, 1)
      for (const vote of lives.flatMap((l) => l.votes)) {
        expect(restored.some((r) => r.type === "vote" && r.vote.round === vote.round && r.vote.kind === vote.kind), `vote ${vote.round}/${vote.kind} on disk`).to.equal(true)
      }
    })
  }

  it("keeps every record of a height past 10,000 records (no key is reused)", async function () {
    const me = keys(1)[0]!
    const rounds = 10_050
    const votes = Array.from({length: rounds}, (_, round) => signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 3, round, blockHash: null}, me))
    for (let i = 0; i < votes.length; i += 1000) {
      await store.putConsensusRecords(votes.slice(i, i + 1000).flatMap((vote) => consensusRecordEntries({type: "vote", vote})))
    }
    const restored = await load(store, 3)
    expect(restored.length).to.equal(rounds)
    expect(new Set(restored.map((r) => (r.type === "vote" ? r.vote.round : -1))).size).to.equal(rounds)
  })

  it("refuses to restore from a record it cannot read instead of skipping it", async function () {
    const me = keys(1)[0]!
    const vote = signVote({kind: VoteKind.Precommit, chainId: CHAIN, height: 5, round: 0, blockHash: null}, me)
    await persist(store, {type: "vote", vote})
    const prefix = consensusRecordPrefix(5)
    await store.putConsensusRecord(`${prefix}zz-damaged`, encode(["vote", 1]))
    let caught: unknown
    try {
      await load(store, 5)
    } catch (err) {
      caught = err
    }
    expect(caught).to.be.instanceOf(ConsensusError)
    expect((caught as ConsensusError).code).to.equal(ConsensusErrorCode.UNREADABLE_RECORD)
    expect((caught as Error).message).to.include(`${prefix}zz-damaged`)
  })

  it("refuses a lock whose block is missing", async function () {
    const validators = keys(4)
    const set = validators.map((k) => k.publicKey)
    const block = makeBlock(6, 0, validators[1]!, set)
    const prevotes = validators.slice(0, 3).map((k) => signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 6, round: 0, blockHash: block.hash()}, k))
    const entries = consensusRecordEntries({type: "lock", height: 6, round: 0, block, prevotes})
    expect(entries.length).to.equal(2)
    await store.putConsensusRecords(entries.filter((e) => !e.key.includes("/block/")))
    let caught: unknown
    try {
      await load(store, 6)
    } catch (err) {
      caught = err
    }
    expect((caught as ConsensusError).code).to.equal(ConsensusErrorCode.UNREADABLE_RECORD)
  })
})
