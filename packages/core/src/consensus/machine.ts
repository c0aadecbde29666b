/**
 * The consensus state machine. It stays one file (about 700 lines) because every rule reads and
 * writes the same per-height state (round, step, locks, proposals, vote sets, future buffer), and
 * splitting the rules from that state would only spread one invariant over several files; its
 * vocabulary lives in types.ts and vote counting in votes.ts.
 */
import {bytesEqual, toHex} from "../encoding/bytes.js"
import type {PrivateKey} from "../crypto/keys.js"
import type {Block} from "../block/block.js"
import {quorumSize, verifyCommit, type CommitCertificate} from "../block/commit.js"
import {proposerOf} from "../chain/proposer.js"
import {ConsensusError, ConsensusErrorCode} from "./errors.js"
import {resolveConsensusOptions, roundTimeout, type ConsensusOptions} from "./options.js"
import {
  sameMessage,
  signerOf,
  signProposal,
  signVote,
  verifyConsensusMessage,
  VoteKind,
  type ConsensusMessage,
  type Proposal,
  type Vote,
} from "./messages.js"
import {recordHeight, type ConsensusRecord} from "./records.js"
import {
  FUTURE_BYTES_PER_SIGNER,
  FUTURE_BYTES_TOTAL,
  FUTURE_HEIGHTS,
  FUTURE_MESSAGES_PER_SIGNER,
  MAX_PROPOSALS_PER_ROUND,
  MAX_TRACKED_ROUNDS,
  MAX_VOTES_PER_SIGNER,
  ROUNDS_AHEAD,
  type ConsensusAction,
  type ConsensusSnapshot,
  type ConsensusStatus,
  type Step,
  type Timeout,
  type TimeoutStep,
} from "./types.js"
import {NIL, countFor, hashKey, voteKey, votesFor, type RoundVotes} from "./votes.js"

export * from "./types.js"

type Validity = "pending" | "valid" | "invalid"

/**
 * A Tendermint-style consensus state machine (propose, prevote, precommit with locking), pure and
 * deterministic: no I/O, clock or randomness. Every input method returns the actions the host must
 * carry out. See docs/consensus.md for the rules and the safety argument.
 */
export class ConsensusMachine {
  readonly options: ConsensusOptions
  readonly chainId: string
  private readonly key: PrivateKey | null
  private readonly keyHex: string | null

  private height: number
  private validators: Uint8Array[] = []
  private validatorIndex = new Map<string, number>()
  private round = 0
  private step: Step = "idle"
  private lockedRound = -1
  private lockedBlock: Block | null = null
  private validRound = -1
  private validBlock: Block | null = null
  private intervalElapsed = false
  private started = false
  private proposals = new Map<number, Proposal[]>()
  private blocks = new Map<string, Block>()
  private validity = new Map<string, Validity>()
  private votes = new Map<number, RoundVotes>()
  private ownVotes = new Map<string, Vote>()
  private ownProposals = new Map<number, Proposal>()
  private fired = new Set<string>()
  private buildRequested = new Set<number>()
  private evidenceSeen = new Set<string>()
  private future = new Map<number, Map<string, ConsensusMessage[]>>()
  /** Buffered bytes per signer (all future heights) and in total; both bounded. */
  private futureBytesBySigner = new Map<string, number>()
  private futureBytes = 0
  private decided: {block: Block; certificate: CommitCertificate} | null = null
  private restoredRecords: readonly ConsensusRecord[]

  constructor(options: Partial<ConsensusOptions>, init: {snapshot: ConsensusSnapshot; key: PrivateKey | null}) {
    this.options = resolveConsensusOptions(options)
    const {snapshot} = init
    if (!Number.isSafeInteger(snapshot.height) || snapshot.height < 1) {
      throw new ConsensusError(ConsensusErrorCode.BAD_SNAPSHOT, `snapshot height must be >= 1, got ${snapshot.height}`)
    }
    this.chainId = snapshot.chainId
    this.key = init.key
    this.keyHex = init.key === null ? null : toHex(init.key.publicKey)
    this.height = snapshot.height
    this.setValidators(snapshot.validators)
    this.restoredRecords = (snapshot.records ?? []).filter((r) => recordHeight(r) === snapshot.height)
  }

  get status(): ConsensusStatus {
    return {
      height: this.height,
      round: this.round,
      step: this.step,
      lockedRound: this.lockedRound,
      validRound: this.validRound,
      validators: this.validators.length,
      isValidator: this.isValidator(),
      trackedRounds: this.votes.size,
      futureBytes: this.futureBytes,
    }
  }

  /** A one-screen dump of the current height (rounds, votes, locks) for logs and investigations. */
  debugState(): string {
    const short = (hash: Uint8Array | null | undefined): string => (hash === null || hash === undefined ? "nil" : toHex(hash).slice(0, 8))
    const list = (votes: Map<string, Vote[]>): string => [...votes.values()].flat().map((v) => short(v.blockHash)).join(",")
    const me = this.keyHex === null ? -1 : (this.validatorIndex.get(this.keyHex) ?? -1)
    const lines = [
      `h=${this.height} r=${this.round} ${this.step} n=${this.validators.length} me=${me}` +
        ` locked=${short(this.lockedBlock?.hash())}@${this.lockedRound} valid=${short(this.validBlock?.hash())}@${this.validRound}`,
    ]
    for (const [round, votes] of this.votes) {
      const proposal = this.proposals.get(round)?.[0]
      const offered = proposal === undefined ? "-" : `${short(proposal.block.hash())}/vr${proposal.validRound}`
      lines.push(`  r${round}: proposal=${offered} prevotes=[${list(votes.prevotes)}] precommits=[${list(votes.precommits)}]`)
    }
    return lines.join("\n")
  }

  /** Validators (hex keys) with no prevote, and with no precommit, in the current round: whom a stalled round waits for. */
  missingVotes(): {prevotes: string[]; precommits: string[]} {
    const votes = this.votes.get(this.round)
    const all = this.validators.map(toHex)
    return {
      prevotes: all.filter((v) => votes?.prevotes.has(v) !== true),
      precommits: all.filter((v) => votes?.precommits.has(v) !== true),
    }
  }

  /** Proposer of (height, round) for the current validator set: validators[(h + r) mod n]. */
  proposerOf(height: number, round: number): Uint8Array {
    return proposerOf(this.validators, height, round)
  }

  /** Begins the current height (restoring persisted records first). Call once. */
  start(): ConsensusAction[] {
    if (this.started) return []
    this.started = true
    const out: ConsensusAction[] = []
    const records = this.restoredRecords
    this.restoredRecords = []
    this.restore(records)
    this.enterHeight(out, records.length > 0)
    return out
  }

  /** A message from the network (or the node itself). Throws ConsensusError on a bad signature or chain. */
  onMessage(message: ConsensusMessage): ConsensusAction[] {
    verifyConsensusMessage(message, this.chainId)
    const out: ConsensusAction[] = []
    if (!this.started) return out
    this.receive(message, out)
    this.process(out)
    return out
  }

  onTimeout(timeout: Timeout): ConsensusAction[] {
    const out: ConsensusAction[] = []
    if (!this.started || timeout.height !== this.height || this.step === "committed") return out
    switch (timeout.step) {
      case "interval":
        this.intervalElapsed = true
        if (this.step !== "idle") this.maybePropose(out)
        break
      case "propose":
        if (timeout.round === this.round && this.step === "propose") this.castVote(VoteKind.Prevote, null, out)
        break
      case "prevote":
        if (timeout.round === this.round && this.step === "prevote") this.castVote(VoteKind.Precommit, null, out)
        break
      case "precommit":
        if (timeout.round === this.round && this.step !== "idle") this.startRound(this.round + 1, out)
        break
      case "retransmit":
        if (timeout.round === this.round && this.step !== "idle") {
          this.retransmit(out)
          this.schedule(out, "retransmit", this.round, roundTimeout(this.options, this.round))
        }
        break
    }
    this.process(out)
    return out
  }

  /** The host's answer to build-proposal. Ignored when the round has moved on. */
  onProposalBuilt(block: Block): ConsensusAction[] {
    const out: ConsensusAction[] = []
    const {height, round} = block.header
    if (height !== this.height || round !== this.round || this.step !== "propose") return out
    if (!this.isMe(this.proposerOf(height, round)) || this.ownProposals.has(round) || this.validBlock !== null) return out
    this.validity.set(block.hashHex(), "valid")
    this.propose(block, -1, out)
    this.process(out)
    return out
  }

  /** The host's answer to validate-block. */
  onBlockValidated(blockHash: Uint8Array, ok: boolean): ConsensusAction[] {
    const out: ConsensusAction[] = []
    const key = toHex(blockHash)
    if (this.validity.get(key) !== "pending") return out
    this.validity.set(key, ok ? "valid" : "invalid")
    this.process(out)
    return out
  }

  /** The host has transactions waiting: an idle height wakes up (only matters with emptyBlocks=false). */
  onTxsAvailable(): ConsensusAction[] {
    const out: ConsensusAction[] = []
    if (this.started && this.step === "idle") {
      this.startRound(0, out)
      this.process(out)
    }
    return out
  }

  /** The host stored the block of our commit action; `nextValidators` is the set in force at the next height. */
  onCommitApplied(nextValidators: readonly Uint8Array[]): ConsensusAction[] {
    if (this.step !== "committed") {
      throw new ConsensusError(ConsensusErrorCode.WRONG_HEIGHT, `nothing committed at height ${this.height}`)
    }
    return this.advance(nextValidators)
  }

  /**
   * The host learned (by sync) that `block` is final at our height with `certificate`, and stored
   * it. Throws ConsensusError (WRONG_HEIGHT, BAD_COMMIT) and changes nothing when that is not so.
   */
  onFinalizedElsewhere(block: Block, certificate: CommitCertificate, nextValidators: readonly Uint8Array[]): ConsensusAction[] {
    if (block.height !== this.height) {
      throw new ConsensusError(ConsensusErrorCode.WRONG_HEIGHT, `block ${block.height} is not the current height ${this.height}`)
    }
    try {
      verifyCommit(this.chainId, certificate, {height: this.height, blockHash: block.hash()}, this.validators)
    } catch (err) {
      throw new ConsensusError(ConsensusErrorCode.BAD_COMMIT, (err as Error).message)
    }
    if (this.decided !== null && !bytesEqual(this.decided.block.hash(), block.hash())) {
      throw new ConsensusError(ConsensusErrorCode.BAD_COMMIT, `height ${this.height} was decided for another block`)
    }
    return this.advance(nextValidators)
  }

  // ---- height and round lifecycle ----

  private setValidators(validators: readonly Uint8Array[]): void {
    if (validators.length === 0) throw new ConsensusError(ConsensusErrorCode.BAD_SNAPSHOT, "the validator set is empty")
    this.validators = validators.map((v) => Uint8Array.from(v))
    this.validatorIndex = new Map(this.validators.map((v, i) => [toHex(v), i]))
    if (this.validatorIndex.size !== this.validators.length) {
      throw new ConsensusError(ConsensusErrorCode.BAD_SNAPSHOT, "the validator set has duplicates")
    }
  }

  private advance(nextValidators: readonly Uint8Array[]): ConsensusAction[] {
    this.setValidators(nextValidators)
    this.height += 1
    this.round = 0
    this.step = "idle"
    this.lockedRound = -1
    this.lockedBlock = null
    this.validRound = -1
    this.validBlock = null
    this.intervalElapsed = false
    this.proposals.clear()
    this.blocks.clear()
    this.validity.clear()
    this.votes.clear()
    this.ownVotes.clear()
    this.ownProposals.clear()
    this.fired.clear()
    this.buildRequested.clear()
    this.evidenceSeen.clear()
    this.decided = null
    const out: ConsensusAction[] = []
    this.enterHeight(out, false)
    return out
  }

  private enterHeight(out: ConsensusAction[], restored: boolean): void {
    if (restored) {
      this.intervalElapsed = true
      this.startRound(this.round, out)
    } else {
      this.schedule(out, "interval", 0, this.options.blockIntervalMs)
      if (this.options.emptyBlocks) this.startRound(0, out)
    }
    for (const height of [...this.future.keys()]) if (height < this.height) this.dropFuture(height)
    const buffered = this.future.get(this.height)
    this.dropFuture(this.height)
    if (buffered !== undefined) for (const list of buffered.values()) for (const message of list) this.receive(message, out)
    this.process(out)
  }

  private startRound(round: number, out: ConsensusAction[]): void {
    this.round = round
    this.step = "propose"
    // Restored own votes put a restarted validator back where it was, so it cannot vote again.
    if (this.ownVotes.has(voteKey(round, VoteKind.Precommit))) this.step = "precommit"
    else if (this.ownVotes.has(voteKey(round, VoteKind.Prevote))) this.step = "prevote"
    this.pruneRounds()
    const wait = roundTimeout(this.options, round)
    this.schedule(out, "retransmit", round, wait)
    if (this.step !== "propose") {
      this.retransmit(out)
      return
    }
    const delay = round === 0 && !this.intervalElapsed ? this.options.blockIntervalMs + wait : wait
    this.schedule(out, "propose", round, delay)
    this.maybePropose(out)
  }

  private maybePropose(out: ConsensusAction[]): void {
    const round = this.round
    if (this.step !== "propose" || !this.isMe(this.proposerOf(this.height, round))) return
    const own = this.ownProposals.get(round)
    if (own !== undefined) {
      out.push({type: "broadcast", message: own, retransmit: true})
      this.relayProofOfLock(own, out)
      return
    }
    if (this.validBlock !== null) {
      this.propose(this.validBlock, this.validRound, out)
      return
    }
    if ((round > 0 || this.intervalElapsed) && !this.buildRequested.has(round)) {
      this.buildRequested.add(round)
      out.push({type: "build-proposal", height: this.height, round})
    }
  }

  private propose(block: Block, validRound: number, out: ConsensusAction[]): void {
    if (this.key === null || this.ownProposals.has(this.round)) return
    const proposal = signProposal({chainId: this.chainId, height: this.height, round: this.round, validRound, block}, this.key)
    this.ownProposals.set(this.round, proposal)
    out.push({type: "persist", record: {type: "proposal", proposal}})
    out.push({type: "broadcast", message: proposal, retransmit: false})
    this.relayProofOfLock(proposal, out)
    this.receive(proposal, out)
  }

  /**
   * A re-proposal is only accepted by validators that hold the prevote quorum of its valid round,
   * so the proposer relays those signed prevotes with it (votes lost or withheld by an equivocator
   * would otherwise keep unlocked validators from ever accepting it).
   */
  private relayProofOfLock(proposal: Proposal, out: ConsensusAction[]): void {
    if (proposal.validRound < 0) return
    const hash = proposal.block.hash()
    for (const vote of votesFor(this.roundVotes(proposal.validRound).prevotes, hash)) {
      out.push({type: "broadcast", message: vote, retransmit: true})
    }
  }

  private castVote(kind: VoteKind, blockHash: Uint8Array | null, out: ConsensusAction[]): void {
    this.step = kind === VoteKind.Prevote ? "prevote" : "precommit"
    if (this.key === null || !this.isValidator()) return
    // One vote per (height, round, kind), ever: a restored or repeated request never signs again.
    if (this.ownVotes.has(voteKey(this.round, kind))) return
    const vote = signVote({kind, chainId: this.chainId, height: this.height, round: this.round, blockHash}, this.key)
    this.ownVotes.set(voteKey(this.round, kind), vote)
    out.push({type: "persist", record: {type: "vote", vote}})
    out.push({type: "broadcast", message: vote, retransmit: false})
    this.receive(vote, out)
  }

  private retransmit(out: ConsensusAction[]): void {
    const own = this.ownProposals.get(this.round)
    if (own !== undefined) {
      out.push({type: "broadcast", message: own, retransmit: true})
      this.relayProofOfLock(own, out)
    }
    for (const kind of [VoteKind.Prevote, VoteKind.Precommit]) {
      const vote = this.ownVotes.get(voteKey(this.round, kind))
      if (vote !== undefined) out.push({type: "broadcast", message: vote, retransmit: true})
    }
    // Relaying the prevote quorum behind our valid block lets every validator learn it, so the next
    // honest proposer re-proposes it and a locked minority cannot keep the rest from a quorum.
    if (this.validBlock !== null && this.validRound < this.round) {
      for (const vote of votesFor(this.roundVotes(this.validRound).prevotes, this.validBlock.hash())) {
        out.push({type: "broadcast", message: vote, retransmit: true})
      }
    }
  }

  private restore(records: readonly ConsensusRecord[]): void {
    let round = 0
    for (const record of records) {
      if (record.type === "vote") {
        const vote = record.vote
        if (this.keyHex === null || toHex(vote.validator) !== this.keyHex) continue
        this.ownVotes.set(voteKey(vote.round, vote.kind), vote)
        this.addVote(vote)
        round = Math.max(round, vote.round)
      } else if (record.type === "proposal") {
        const proposal = record.proposal
        this.ownProposals.set(proposal.round, proposal)
        this.proposals.set(proposal.round, [proposal])
        this.blocks.set(proposal.block.hashHex(), proposal.block)
        this.validity.set(proposal.block.hashHex(), "valid")
        round = Math.max(round, proposal.round)
      } else if (record.round > this.lockedRound) {
        this.lockedRound = record.round
        this.lockedBlock = record.block
        this.validRound = record.round
        this.validBlock = record.block
        this.blocks.set(record.block.hashHex(), record.block)
        this.validity.set(record.block.hashHex(), "valid")
        for (const vote of record.prevotes) this.addVote(vote)
        round = Math.max(round, record.round)
      }
    }
    this.round = round
  }

  // ---- receiving ----

  private receive(message: ConsensusMessage, out: ConsensusAction[]): void {
    const signer = signerOf(message)
    if (message.height < this.height) {
      out.push({type: "peer-behind", height: message.height, peer: signer})
      return
    }
    if (message.height > this.height) {
      this.buffer(message)
      // Only a member of the current set is evidence that the chain moved on; anyone can sign a message.
      if (this.validatorIndex.has(toHex(signer))) out.push({type: "request-sync", height: this.height, peerHeight: message.height, peer: signer})
      return
    }
    const signerHex = toHex(signer)
    if (!this.validatorIndex.has(signerHex) || this.step === "committed") return
    if (message.round > this.round + ROUNDS_AHEAD) return
    if (message.type === "proposal") {
      if (!bytesEqual(signer, this.proposerOf(message.height, message.round))) return
      const existing = this.proposals.get(message.round) ?? []
      if (existing.some((p) => sameMessage(p, message))) return
      if (existing.length > 0) this.reportEquivocation(existing[0]!, message, out)
      if (existing.length >= MAX_PROPOSALS_PER_ROUND) return
      this.proposals.set(message.round, [...existing, message])
      const key = message.block.hashHex()
      if (!this.blocks.has(key)) this.blocks.set(key, message.block)
      if (!this.validity.has(key)) {
        this.validity.set(key, "pending")
        out.push({type: "validate-block", block: message.block})
      }
    } else {
      const existing = this.voteSet(message).get(signerHex) ?? []
      if (existing.some((v) => sameMessage(v, message))) return
      if (existing.length > 0) this.reportEquivocation(existing[0]!, message, out)
      if (!this.addVote(message)) return
    }
    if (this.step === "idle") this.startRound(0, out)
  }

  private buffer(message: ConsensusMessage): void {
    if (message.height > this.height + FUTURE_HEIGHTS) return
    let bySigner = this.future.get(message.height)
    if (bySigner === undefined) {
      bySigner = new Map()
      this.future.set(message.height, bySigner)
    }
    const signer = toHex(signerOf(message))
    // Unknown signers cannot be filtered yet (the set of that height is unknown), so bound the map too.
    if (!bySigner.has(signer) && bySigner.size >= 4 * this.validators.length + 4) return
    const list = bySigner.get(signer) ?? []
    if (list.length >= FUTURE_MESSAGES_PER_SIGNER || list.some((m) => sameMessage(m, message))) return
    // Bytes bound what a signer, or many throwaway signers together, can make this node hold.
    const size = bufferedSize(message)
    const signerBytes = this.futureBytesBySigner.get(signer) ?? 0
    if (signerBytes + size > FUTURE_BYTES_PER_SIGNER || this.futureBytes + size > FUTURE_BYTES_TOTAL) return
    list.push(message)
    bySigner.set(signer, list)
    this.futureBytesBySigner.set(signer, signerBytes + size)
    this.futureBytes += size
  }

  /** Forgets the buffered messages of one height and gives their bytes back. */
  private dropFuture(height: number): void {
    const bySigner = this.future.get(height)
    if (bySigner === undefined) return
    this.future.delete(height)
    for (const [signer, list] of bySigner) {
      const size = list.reduce((sum, m) => sum + bufferedSize(m), 0)
      const left = (this.futureBytesBySigner.get(signer) ?? 0) - size
      if (left > 0) this.futureBytesBySigner.set(signer, left)
      else this.futureBytesBySigner.delete(signer)
      this.futureBytes -= size
    }
  }

  private reportEquivocation(first: ConsensusMessage, second: ConsensusMessage, out: ConsensusAction[]): void {
    const kind = first.type === "proposal" ? "proposal" : first.kind
    const id = `${toHex(signerOf(first))}/${first.round}/${kind}`
    if (this.evidenceSeen.has(id)) return
    this.evidenceSeen.add(id)
    out.push({
      type: "evidence",
      evidence: Object.freeze({validator: signerOf(first), height: first.height, round: first.round, kind, first, second}),
    })
  }

  // ---- the rules ----

  /** Applies the protocol rules until none fires (each rule changes step or sets a once-flag, so this ends). */
  private process(out: ConsensusAction[]): void {
    for (let i = 0; i < 64 && this.step !== "committed" && this.step !== "idle"; i++) {
      if (!this.applyOneRule(out)) return
    }
  }

  private applyOneRule(out: ConsensusAction[]): boolean {
    const q = quorumSize(this.validators.length)
    if (this.tryDecide(out, q)) return true
    if (this.trySkipRound(out)) return true
    const r = this.round
    const proposal = this.proposals.get(r)?.[0]
    const votes = this.roundVotes(r)
    if (this.step === "propose" && proposal !== undefined) {
      const hash = proposal.block.hash()
      const validity = this.validity.get(toHex(hash))
      if (validity !== "pending" && validity !== undefined) {
        const valid = validity === "valid"
        const vr = proposal.validRound
        if (vr < 0) {
          const ok = valid && (this.lockedRound < 0 || this.isLockedOn(hash))
          this.castVote(VoteKind.Prevote, ok ? hash : null, out)
          return true
        }
        if (vr < r && countFor(this.roundVotes(vr).prevotes, hash) >= q) {
          const ok = valid && (this.lockedRound <= vr || this.isLockedOn(hash))
          this.castVote(VoteKind.Prevote, ok ? hash : null, out)
          return true
        }
      }
    }
    if (this.step === "prevote" && votes.prevotes.size >= q && this.once(`prevote-wait/${r}`)) {
      this.schedule(out, "prevote", r, halfTimeout(this.options, r))
      return true
    }
    if (this.step !== "propose") {
      // Any proposal of this round counts here: after an equivocating proposer, the block with the quorum is the one to lock.
      for (const candidate of this.proposals.get(r) ?? []) {
        const hash = candidate.block.hash()
        if (this.validity.get(toHex(hash)) !== "valid" || countFor(votes.prevotes, hash) < q || !this.once(`lock/${r}`)) continue
        if (this.step === "prevote") {
          this.lockedRound = r
          this.lockedBlock = candidate.block
          const prevotes = votesFor(votes.prevotes, hash)
          out.push({type: "persist", record: {type: "lock", height: this.height, round: r, block: candidate.block, prevotes}})
          this.castVote(VoteKind.Precommit, hash, out)
        }
        this.validRound = r
        this.validBlock = candidate.block
        return true
      }
    }
    if (this.tryUpdateValid(q)) return true
    if (this.step === "prevote" && countFor(votes.prevotes, null) >= q) {
      this.castVote(VoteKind.Precommit, null, out)
      return true
    }
    if (countFor(votes.precommits, null) >= q) {
      // A nil quorum means this round cannot decide anything: waiting out the precommit timeout gains nothing.
      this.startRound(r + 1, out)
      return true
    }
    if (votes.precommits.size >= q && this.once(`precommit-wait/${r}`)) {
      this.schedule(out, "precommit", r, halfTimeout(this.options, r))
      return true
    }
    return false
  }

  /**
   * A prevote quorum seen late for an earlier round still makes its block the one to re-propose.
   * This only changes what this validator would propose; receivers check the quorum themselves.
   */
  private tryUpdateValid(q: number): boolean {
    for (const [round, {prevotes}] of this.votes) {
      if (round <= this.validRound || round >= this.round || prevotes.size < q) continue
      for (const candidate of this.proposals.get(round) ?? []) {
        const hash = candidate.block.hash()
        if (this.validity.get(toHex(hash)) !== "valid" || countFor(prevotes, hash) < q) continue
        this.validRound = round
        this.validBlock = candidate.block
        return true
      }
    }
    return false
  }

  /** A block with precommits from more than 2/3 in any round of this height is final. */
  private tryDecide(out: ConsensusAction[], q: number): boolean {
    for (const [round, {precommits}] of this.votes) {
      if (precommits.size < q) continue
      const tally = new Map<string, number>()
      for (const list of precommits.values()) {
        for (const key of new Set(list.map((v) => hashKey(v.blockHash)))) if (key !== NIL) tally.set(key, (tally.get(key) ?? 0) + 1)
      }
      for (const [key, count] of tally) {
        if (count < q) continue
        const block = this.blocks.get(key)
        if (block === undefined || this.validity.get(key) !== "valid") continue
        const signatures = votesFor(precommits, block.hash())
          .sort((a, b) => this.validatorIndex.get(toHex(a.validator))! - this.validatorIndex.get(toHex(b.validator))!)
          .map((v) => ({validator: v.validator, signature: v.signature}))
        const certificate: CommitCertificate = {height: this.height, round, blockHash: block.hash(), signatures}
        this.step = "committed"
        this.decided = {block, certificate}
        out.push({type: "commit", block, certificate})
        return true
      }
    }
    return false
  }

  /** Messages from more than 1/3 of the set in a later round: at least one honest validator is there, so follow. */
  private trySkipRound(out: ConsensusAction[]): boolean {
    const n = this.validators.length
    const needed = n - quorumSize(n) + 1
    let target = -1
    for (const [round, {prevotes, precommits}] of this.votes) {
      if (round <= this.round || round <= target) continue
      const signers = new Set([...prevotes.keys(), ...precommits.keys()])
      for (const proposal of this.proposals.get(round) ?? []) signers.add(toHex(proposal.proposer))
      if (signers.size >= needed) target = round
    }
    if (target < 0) return false
    this.startRound(target, out)
    return true
  }

  // ---- helpers ----

  private voteSet(vote: Vote): Map<string, Vote[]> {
    return this.roundVotes(vote.round)[vote.kind === VoteKind.Prevote ? "prevotes" : "precommits"]
  }

  /** Adds a vote unless its signer already has the maximum of distinct votes there; true when added. */
  private addVote(vote: Vote): boolean {
    const set = this.voteSet(vote)
    const signer = toHex(vote.validator)
    const list = set.get(signer) ?? []
    if (list.length >= MAX_VOTES_PER_SIGNER || list.some((v) => sameMessage(v, vote))) return false
    set.set(signer, [...list, vote])
    return true
  }

  private roundVotes(round: number): RoundVotes {
    let votes = this.votes.get(round)
    if (votes === undefined) {
      votes = {prevotes: new Map(), precommits: new Map()}
      this.votes.set(round, votes)
    }
    return votes
  }

  private pruneRounds(): void {
    if (this.votes.size <= MAX_TRACKED_ROUNDS) return
    for (const round of [...this.votes.keys()].sort((a, b) => a - b)) {
      if (this.votes.size <= MAX_TRACKED_ROUNDS) break
      if (round === this.lockedRound || round === this.validRound || round >= this.round) continue
      this.votes.delete(round)
      for (const proposal of this.proposals.get(round) ?? []) this.forgetBlock(proposal.block, round)
      this.proposals.delete(round)
    }
  }

  /** Drops a block of a pruned round unless a lock or another kept proposal still refers to it. */
  private forgetBlock(block: Block, round: number): void {
    const key = block.hashHex()
    if (this.lockedBlock?.hashHex() === key || this.validBlock?.hashHex() === key) return
    for (const [r, list] of this.proposals) if (r !== round && list.some((p) => p.block.hashHex() === key)) return
    this.blocks.delete(key)
    this.validity.delete(key)
  }

  private once(flag: string): boolean {
    if (this.fired.has(flag)) return false
    this.fired.add(flag)
    return true
  }

  private isLockedOn(hash: Uint8Array): boolean {
    return this.lockedBlock !== null && bytesEqual(this.lockedBlock.hash(), hash)
  }

  private isMe(validator: Uint8Array): boolean {
    return this.keyHex !== null && toHex(validator) === this.keyHex
  }

  private isValidator(): boolean {
    return this.keyHex !== null && this.validatorIndex.has(this.keyHex)
  }

  private schedule(out: ConsensusAction[], step: TimeoutStep, round: number, delayMs: number): void {
    out.push({type: "schedule-timeout", height: this.height, round, step, delayMs})
  }
}

/** What a buffered message costs in memory: its block (proposals) plus a fixed allowance for the envelope. */
function bufferedSize(message: ConsensusMessage): number {
  return (message.type === "proposal" ? message.block.serialize().length : 0) + 256
}

/** Prevote and precommit waits are half a round: they start only once a quorum has already spoken. */
function halfTimeout(options: ConsensusOptions, round: number): number {
  return Math.ceil(roundTimeout(options, round) / 2)
}
