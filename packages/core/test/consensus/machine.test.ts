import {expect} from "chai"
import {toHex} from "../../src/encoding/bytes.js"
import {verifyCommit, type CommitCertificate} from "../../src/block/commit.js"
import {Block} from "../../src/block/block.js"
import {PrivateKey} from "../../src/crypto/keys.js"
import {
  ConsensusError,
  ConsensusErrorCode,
  ConsensusMachine,
  FUTURE_BYTES_PER_SIGNER,
  FUTURE_BYTES_TOTAL,
  FUTURE_MESSAGES_PER_SIGNER,
  MAX_TRACKED_ROUNDS,
  VoteKind,
  resolveConsensusOptions,
  roundTimeout,
  signProposal,
  signVote,
  type ConsensusAction,
  type ConsensusOptions,
  type ConsensusRecord,
  type Vote,
} from "../../src/consensus/index.js"
import {CHAIN, grantTx, keys, makeBlock} from "./helpers.js"

const validators = keys(5)
const four = validators.slice(0, 4)
const set4 = four.map((k) => k.publicKey)
const set5 = validators.map((k) => k.publicKey)
const options: Partial<ConsensusOptions> = {blockIntervalMs: 1000, roundTimeoutMs: 1000}

function machine(me: PrivateKey | null, height = 1, records: ConsensusRecord[] = [], extra: Partial<ConsensusOptions> = {}): ConsensusMachine {
  return new ConsensusMachine({...options, ...extra}, {snapshot: {chainId: CHAIN, height, validators: set4, records}, key: me})
}

function ofType<T extends ConsensusAction["type"]>(actions: ConsensusAction[], type: T): Extract<ConsensusAction, {type: T}>[] {
  return actions.filter((a): a is Extract<ConsensusAction, {type: T}> => a.type === type)
}

function votesSent(actions: ConsensusAction[]): Vote[] {
  return ofType(actions, "broadcast")
    .map((a) => a.message)
    .filter((m): m is Vote => m.type === "vote")
}

function vote(kind: VoteKind, who: number, height: number, round: number, block: Block | null): Vote {
  return signVote({kind, chainId: CHAIN, height, round, blockHash: block === null ? null : block.hash()}, four[who]!)
}

/** The certificate validators 1..3 sign for a height-1 block in round 0. */
function commitOf(block: Block): CommitCertificate {
  const signatures = [1, 2, 3].map((who) => vote(VoteKind.Precommit, who, 1, 0, block)).map((v) => ({validator: v.validator, signature: v.signature}))
  return {height: 1, round: 0, blockHash: block.hash(), signatures}
}

function persisted(actions: ConsensusAction[]): ConsensusRecord[] {
  return ofType(actions, "persist").map((a) => a.record)
}

/** Validator 0 at height 1 (proposer is validator 1): receives the proposal and prevotes it. */
function prevotedMachine(): {m: ConsensusMachine; block: Block; log: ConsensusAction[]} {
  const m = machine(four[0]!)
  const log: ConsensusAction[] = [...m.start()]
  const block = makeBlock(1, 0, four[1]!, set4)
  log.push(...m.onMessage(signProposal({chainId: CHAIN, height: 1, round: 0, validRound: -1, block}, four[1]!)))
  expect(ofType(log, "validate-block").map((a) => a.block.hashHex())).to.deep.equal([block.hashHex()])
  log.push(...m.onBlockValidated(block.hash(), true))
  return {m, block, log}
}

describe("consensus/ConsensusMachine", function () {
  it("rotates the proposer: validators[(height + round) mod n], and only the proposer builds", function () {
    const m = machine(null)
    for (let h = 1; h < 10; h++) for (let r = 0; r < 6; r++) expect(toHex(m.proposerOf(h, r))).to.equal(toHex(set4[(h + r) % 4]!))
    const builders: number[] = []
    four.forEach((key, i) => {
      const node = machine(key, 5)
      node.start()
      const actions = node.onTimeout({height: 5, round: 0, step: "interval"})
      if (ofType(actions, "build-proposal").length > 0) builders.push(i)
    })
    expect(builders).to.deep.equal([(5 + 0) % 4])
  })

  it("waits the block interval before building and does not propose before it", function () {
    const proposer = machine(four[1]!)
    const start = proposer.start()
    expect(ofType(start, "build-proposal")).to.have.length(0)
    expect(ofType(start, "schedule-timeout").find((t) => t.step === "interval")?.delayMs).to.equal(1000)
    expect(ofType(proposer.onTimeout({height: 1, round: 0, step: "interval"}), "build-proposal")).to.deep.equal([{type: "build-proposal", height: 1, round: 0}])
  })

  it("finalizes with precommits from more than 2/3 of the validators, not fewer, and persists each vote before sending it", function () {
    const {m, block, log} = prevotedMachine()
    const prevote = votesSent(log)
    expect(prevote.map((v) => [v.kind, v.blockHash && toHex(v.blockHash)])).to.deep.equal([[VoteKind.Prevote, block.hashHex()]])
    const persistAt = log.findIndex((a) => a.type === "persist" && a.record.type === "vote")
    const sendAt = log.findIndex((a) => a.type === "broadcast" && a.message.type === "vote")
    expect(persistAt).to.be.greaterThan(-1)
    expect(persistAt).to.be.lessThan(sendAt)

    const afterPrevotes = [...m.onMessage(vote(VoteKind.Prevote, 1, 1, 0, block)), ...m.onMessage(vote(VoteKind.Prevote, 2, 1, 0, block))]
    expect(votesSent(afterPrevotes).map((v) => v.kind)).to.deep.equal([VoteKind.Precommit])
    const kinds = ofType(afterPrevotes, "persist").map((a) => a.record.type)
    expect(kinds).to.deep.equal(["lock", "vote"])
    expect(m.status.lockedRound).to.equal(0)

    expect(ofType(m.onMessage(vote(VoteKind.Precommit, 1, 1, 0, block)), "commit")).to.have.length(0)
    const commits = ofType(m.onMessage(vote(VoteKind.Precommit, 2, 1, 0, block)), "commit")
    expect(commits).to.have.length(1)
    const cert: CommitCertificate = commits[0]!.certificate
    expect(cert.signatures).to.have.length(3)
    verifyCommit(CHAIN, cert, {height: 1, blockHash: block.hash()}, set4)
    expect(m.status.step).to.equal("committed")
  })

  it("does not finalize without a quorum for one block: nil quorum moves on at once, a split waits the precommit timeout", function () {
    const m = machine(four[0]!)
    m.start()
    m.onTimeout({height: 1, round: 0, step: "propose"})
    for (const who of [1, 2, 3]) m.onMessage(vote(VoteKind.Prevote, who, 1, 0, null))
    const actions = [1, 2, 3].flatMap((who) => m.onMessage(vote(VoteKind.Precommit, who, 1, 0, null)))
    expect(ofType(actions, "commit")).to.have.length(0)
    expect(m.status.round).to.equal(1)
    const block = makeBlock(1, 1, four[2]!, set4)
    const split = [
      ...m.onMessage(vote(VoteKind.Precommit, 1, 1, 1, block)),
      ...m.onMessage(vote(VoteKind.Precommit, 2, 1, 1, null)),
      ...m.onMessage(vote(VoteKind.Precommit, 3, 1, 1, block)),
    ]
    expect(ofType(split, "commit")).to.have.length(0)
    expect(ofType(split, "schedule-timeout").map((t) => t.step)).to.include("precommit")
    m.onTimeout({height: 1, round: 1, step: "precommit"})
    expect(m.status.round).to.equal(2)
  })

  it("keeps every round timeout bounded: linear growth, capped, never doubling", function () {
    const resolved = resolveConsensusOptions(options)
    let previous = 0
    for (let r = 0; r < 100_000; r += 37) {
      const t = roundTimeout(resolved, r)
      expect(t).to.be.at.least(previous)
      expect(t).to.be.at.most(resolved.maxRoundTimeoutMs)
      previous = t
    }
    expect(roundTimeout(resolved, 0)).to.equal(1000)
    expect(roundTimeout(resolved, 1)).to.equal(1500)
    expect(roundTimeout(resolved, 1_000_000)).to.equal(4000)
    // Drive a validator through 30 failed rounds; no timeout it asks for exceeds the cap plus one interval.
    const m = machine(four[0]!)
    const delays: number[] = ofType(m.start(), "schedule-timeout").map((t) => t.delayMs)
    for (let r = 0; r < 30; r++) {
      delays.push(...ofType(m.onTimeout({height: 1, round: r, step: "propose"}), "schedule-timeout").map((t) => t.delayMs))
      for (const who of [1, 2, 3]) delays.push(...ofType(m.onMessage(vote(VoteKind.Precommit, who, 1, r, null)), "schedule-timeout").map((t) => t.delayMs))
      expect(m.status.round).to.equal(r + 1)
    }
    expect(Math.max(...delays)).to.be.at.most(resolved.maxRoundTimeoutMs + resolved.blockIntervalMs)
  })

  it("bounds what it keeps for a height that goes through hundreds of failed rounds, and still decides", function () {
    const m = machine(four[0]!)
    m.start()
    const nils = [1, 2, 3].map((who) => Array.from({length: 260}, (_, r) => vote(VoteKind.Precommit, who, 1, r, null)))
    for (let r = 0; r < 260; r++) for (const who of [0, 1, 2]) m.onMessage(nils[who]![r]!)
    expect(m.status.round).to.equal(260)
    expect(m.status.trackedRounds).to.be.at.most(MAX_TRACKED_ROUNDS + 1)
    const proposer = four[(1 + 260) % 4]!
    const block = makeBlock(1, 260, proposer, set4)
    const actions = [...m.onMessage(signProposal({chainId: CHAIN, height: 1, round: 260, validRound: -1, block}, proposer))]
    actions.push(...m.onBlockValidated(block.hash(), true))
    for (const who of [1, 2, 3]) actions.push(...m.onMessage(vote(VoteKind.Prevote, who, 1, 260, block)))
    for (const who of [1, 2, 3]) actions.push(...m.onMessage(vote(VoteKind.Precommit, who, 1, 260, block)))
    expect(ofType(actions, "commit").map((c) => c.block.hashHex())).to.deep.equal([block.hashHex()])
  })

  it("reports equivocation with both signed messages: votes and proposals", function () {
    const m = machine(four[0]!)
    m.start()
    const a = makeBlock(1, 0, four[1]!, set4, 1)
    const b = makeBlock(1, 0, four[1]!, set4, 2)
    m.onMessage(vote(VoteKind.Prevote, 2, 1, 0, a))
    const evidence = ofType(m.onMessage(vote(VoteKind.Prevote, 2, 1, 0, null)), "evidence")
    expect(evidence).to.have.length(1)
    expect(evidence[0]!.evidence.kind).to.equal(VoteKind.Prevote)
    expect(toHex(evidence[0]!.evidence.validator)).to.equal(toHex(set4[2]!))
    expect(evidence[0]!.evidence.first.signature).to.not.deep.equal(evidence[0]!.evidence.second.signature)
    m.onMessage(signProposal({chainId: CHAIN, height: 1, round: 0, validRound: -1, block: a}, four[1]!))
    const twin = ofType(m.onMessage(signProposal({chainId: CHAIN, height: 1, round: 0, validRound: -1, block: b}, four[1]!)), "evidence")
    expect(twin.map((e) => e.evidence.kind)).to.deep.equal(["proposal"])
    // The same message twice is a retransmission, not evidence.
    expect(ofType(m.onMessage(vote(VoteKind.Prevote, 2, 1, 0, a)), "evidence")).to.have.length(0)
  })

  it("after a restart from its persisted records it re-sends the same vote and never signs a conflicting one", function () {
    const {block, log} = prevotedMachine()
    const records = persisted(log)
    const restarted = machine(four[0]!, 1, records)
    const actions = restarted.start()
    const resent = votesSent(actions)
    expect(resent.map((v) => toHex(v.signature))).to.deep.equal(votesSent(log).map((v) => toHex(v.signature)))
    expect(restarted.status.step).to.equal("prevote")
    // An equivocating proposer now offers another block for the same round: no second prevote.
    const other = makeBlock(1, 0, four[1]!, set4, 9)
    const more = [...restarted.onMessage(signProposal({chainId: CHAIN, height: 1, round: 0, validRound: -1, block: other}, four[1]!))]
    more.push(...restarted.onBlockValidated(other.hash(), true), ...restarted.onTimeout({height: 1, round: 0, step: "propose"}))
    const prevotes = votesSent(more).filter((v) => v.kind === VoteKind.Prevote && v.round === 0)
    for (const v of prevotes) expect(toHex(v.blockHash!)).to.equal(block.hashHex())
  })

  it("keeps its lock across a restart: a new block in a later round gets a nil prevote", function () {
    const {m, block, log} = prevotedMachine()
    log.push(...m.onMessage(vote(VoteKind.Prevote, 1, 1, 0, block)), ...m.onMessage(vote(VoteKind.Prevote, 2, 1, 0, block)))
    const restarted = machine(four[0]!, 1, persisted(log))
    restarted.start()
    expect(restarted.status.lockedRound).to.equal(0)
    for (const who of [1, 2, 3]) restarted.onMessage(vote(VoteKind.Precommit, who, 1, 0, null))
    expect(restarted.status.round).to.equal(1)
    const fresh = makeBlock(1, 1, four[2]!, set4, 5)
    const actions = [...restarted.onMessage(signProposal({chainId: CHAIN, height: 1, round: 1, validRound: -1, block: fresh}, four[2]!))]
    actions.push(...restarted.onBlockValidated(fresh.hash(), true))
    expect(votesSent(actions).map((v) => [v.kind, v.round, v.blockHash])).to.deep.equal([[VoteKind.Prevote, 1, null]])
  })

  it("keeps a decision one validator saw the only possible one: locked validators refuse an equivocator's other block", function () {
    // Height 2: round 0 is proposed by validator 2, round 1 by validator 3, the equivocator (no machine).
    const honest = [0, 1, 2].map((i) => machine(four[i]!, 2))
    const byz = four[3]!
    const sent: ConsensusAction[][] = honest.map((m) => m.start())
    const deliver = (i: number, message: Parameters<ConsensusMachine["onMessage"]>[0]): ConsensusAction[] => {
      const actions = honest[i]!.onMessage(message)
      for (const v of ofType(actions, "validate-block")) actions.push(...honest[i]!.onBlockValidated(v.block.hash(), true))
      sent[i]!.push(...actions)
      return actions
    }
    const own = (i: number, kind: VoteKind, round: number): Vote => votesSent(sent[i]!).find((v) => v.kind === kind && v.round === round)!
    const b = makeBlock(2, 0, four[2]!, set4, 1)
    sent[2]!.push(...honest[2]!.onTimeout({height: 2, round: 0, step: "interval"}), ...honest[2]!.onProposalBuilt(b))
    const proposal = ofType(sent[2]!, "broadcast").find((a) => a.message.type === "proposal")!.message
    deliver(0, proposal)
    deliver(1, proposal)
    const byzPrevoteB = signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 2, round: 0, blockHash: b.hash()}, byz)
    for (const i of [0, 1, 2]) {
      for (const j of [0, 1, 2]) if (i !== j) deliver(i, own(j, VoteKind.Prevote, 0))
      deliver(i, byzPrevoteB)
    }
    for (const i of [0, 1, 2]) expect(honest[i]!.status.lockedRound).to.equal(0)
    // Validator 0 hears the other precommits for B and decides; its own precommit to the others is lost,
    // and the equivocator tells them nil.
    deliver(0, own(1, VoteKind.Precommit, 0))
    deliver(0, own(2, VoteKind.Precommit, 0))
    const decided = ofType(sent[0]!, "commit")
    expect(decided.map((c) => c.block.hashHex())).to.deep.equal([b.hashHex()])
    const byzNil = signVote({kind: VoteKind.Precommit, chainId: CHAIN, height: 2, round: 0, blockHash: null}, byz)
    deliver(1, own(2, VoteKind.Precommit, 0))
    deliver(2, own(1, VoteKind.Precommit, 0))
    deliver(1, byzNil)
    deliver(2, byzNil)
    for (const i of [1, 2]) {
      sent[i]!.push(...honest[i]!.onTimeout({height: 2, round: 0, step: "precommit"}))
      expect(honest[i]!.status.round).to.equal(1)
    }
    // Round 1: the equivocator proposes another block C and votes for it everywhere.
    const c = makeBlock(2, 1, byz, set4, 2)
    const other = signProposal({chainId: CHAIN, height: 2, round: 1, validRound: -1, block: c}, byz)
    for (const i of [1, 2]) deliver(i, other)
    for (const i of [1, 2]) {
      deliver(i, signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 2, round: 1, blockHash: c.hash()}, byz))
      deliver(i, own(i === 1 ? 2 : 1, VoteKind.Prevote, 1))
      deliver(i, signVote({kind: VoteKind.Precommit, chainId: CHAIN, height: 2, round: 1, blockHash: c.hash()}, byz))
    }
    for (const i of [1, 2]) {
      expect(own(i, VoteKind.Prevote, 1).blockHash, `validator ${i} prevote in round 1`).to.equal(null)
      const forC = votesSent(sent[i]!).filter((v) => v.blockHash !== null && toHex(v.blockHash) === c.hashHex())
      expect(forC, `validator ${i} voted for the other block`).to.deep.equal([])
      expect(ofType(sent[i]!, "commit")).to.deep.equal([])
      // Sync then brings them validator 0's decision, which they accept: one block at height 2.
      honest[i]!.onFinalizedElsewhere(b, decided[0]!.certificate, set4)
      expect(honest[i]!.status.height).to.equal(3)
    }
  })

  it("stays quiet on an idle chain without empty blocks, and wakes on transactions or a peer's message", function () {
    const m = machine(four[2]!, 1, [], {emptyBlocks: false})
    const start = m.start()
    expect(start.map((a) => a.type)).to.deep.equal(["schedule-timeout"])
    expect(m.onTimeout({height: 1, round: 0, step: "interval"})).to.deep.equal([])
    expect(m.status.step).to.equal("idle")
    const woke = m.onTxsAvailable()
    expect(ofType(woke, "schedule-timeout").map((t) => t.step)).to.include("propose")
    const peer = machine(four[3]!, 1, [], {emptyBlocks: false})
    peer.start()
    peer.onMessage(vote(VoteKind.Prevote, 2, 1, 0, null))
    expect(peer.status.step).to.equal("propose")
  })

  it("follows a certificate learned by sync and rejects a bad one without changing anything", function () {
    const m = machine(four[0]!)
    m.start()
    const block = makeBlock(1, 0, four[1]!, set4)
    const sigs = [1, 2, 3].map((who) => vote(VoteKind.Precommit, who, 1, 0, block))
    const short: CommitCertificate = {height: 1, round: 0, blockHash: block.hash(), signatures: sigs.slice(0, 2).map((v) => ({validator: v.validator, signature: v.signature}))}
    expect(() => m.onFinalizedElsewhere(block, short, set5)).to.throw(ConsensusError).with.property("code", ConsensusErrorCode.BAD_COMMIT)
    expect(m.status.height).to.equal(1)
    expect(() => m.onFinalizedElsewhere(makeBlock(2, 0, four[2]!, set4), short, set5)).to.throw(ConsensusError).with.property("code", ConsensusErrorCode.WRONG_HEIGHT)
    const good: CommitCertificate = {...short, signatures: sigs.map((v) => ({validator: v.validator, signature: v.signature}))}
    m.onFinalizedElsewhere(block, good, set5)
    // The set changed by block 1 applies from height 2: five validators, so the rotation uses five.
    expect(m.status).to.include({height: 2, validators: 5})
    expect(toHex(m.proposerOf(2, 3))).to.equal(toHex(set5[(2 + 3) % 5]!))
  })

  it("buffers messages of the next height and replays them after the commit", function () {
    const m = machine(four[0]!)
    m.start()
    const next = makeBlock(2, 0, four[2]!, set4)
    const early = m.onMessage(signProposal({chainId: CHAIN, height: 2, round: 0, validRound: -1, block: next}, four[2]!))
    expect(ofType(early, "request-sync")).to.have.length(1)
    m.onMessage(signProposal({chainId: CHAIN, height: 9, round: 0, validRound: -1, block: makeBlock(9, 0, four[1]!, set4)}, four[1]!))
    const block = makeBlock(1, 0, four[1]!, set4)
    const cert = commitOf(block)
    const after = m.onFinalizedElsewhere(block, cert, set4)
    expect(ofType(after, "validate-block").map((a) => a.block.hashHex())).to.deep.equal([next.hashHex()])
    // A message for a finished height tells the host that peer is behind.
    expect(ofType(m.onMessage(vote(VoteKind.Prevote, 3, 1, 0, null)), "peer-behind")).to.have.length(1)
  })

  it("bounds the future buffer in bytes per signer and in total, and only the set's members trigger a sync", function () {
    this.timeout(60_000)
    const m = machine(four[0]!)
    m.start()
    // About 1 MiB of legal transactions, shared by every block below (salts make the blocks distinct).
    const filler = keys(1).map((k) => Array.from({length: 440}, (_, i) => grantTx(k, i, 32, 32 * 64)))[0]!
    const big = (height: number, proposer: PrivateKey, salt: number): Block => {
      const b = makeBlock(height, 0, proposer, set4, salt)
      return Block.create({...b.header}, filler)
    }
    // One validator sends eight distinct 1 MiB proposals for each buffered height.
    let syncs = 0
    for (const height of [2, 3]) {
      for (let round = 1; round <= FUTURE_MESSAGES_PER_SIGNER; round++) {
        const actions = m.onMessage(signProposal({chainId: CHAIN, height, round, validRound: -1, block: big(height, four[2]!, round)}, four[2]!))
        syncs += ofType(actions, "request-sync").length
      }
    }
    expect(syncs).to.be.greaterThan(0)
    expect(m.status.futureBytes).to.be.within(1, FUTURE_BYTES_PER_SIGNER)
    // Throwaway keys flood large proposals: they never ask for a sync and the total stays bounded.
    for (let i = 0; i < 60; i++) {
      const stranger = PrivateKey.generate()
      const actions = m.onMessage(signProposal({chainId: CHAIN, height: 2 + (i % 2), round: 1, validRound: -1, block: big(2 + (i % 2), stranger, 100 + i)}, stranger))
      expect(ofType(actions, "request-sync")).to.deep.equal([])
    }
    expect(m.status.futureBytes).to.be.within(FUTURE_BYTES_TOTAL - 2 * 1024 * 1024, FUTURE_BYTES_TOTAL)
    // Finishing the height releases what was buffered for it.
    const block = makeBlock(1, 0, four[1]!, set4)
    const cert = commitOf(block)
    const before = m.status.futureBytes
    m.onFinalizedElsewhere(block, cert, set4)
    expect(m.status.futureBytes).to.be.lessThan(before)
  })

  it("lets a node outside the validator set follow without ever signing", function () {
    const outsider = validators[4]!
    const m = machine(outsider)
    const actions = [...m.start(), ...m.onTimeout({height: 1, round: 0, step: "interval"}), ...m.onTimeout({height: 1, round: 0, step: "propose"})]
    expect(ofType(actions, "broadcast")).to.have.length(0)
    expect(m.status.isValidator).to.equal(false)
  })

  it("refuses options outside their ranges with a typed error", function () {
    expect(() => resolveConsensusOptions({blockIntervalMs: 100})).to.throw(ConsensusError).with.property("code", ConsensusErrorCode.BAD_OPTIONS)
    expect(() => resolveConsensusOptions({roundTimeoutMs: 1000, maxRoundTimeoutMs: 500})).to.throw(ConsensusError)
    expect(() => new ConsensusMachine({}, {snapshot: {chainId: CHAIN, height: 0, validators: set4}, key: null})).to.throw(ConsensusError)
  })
})
