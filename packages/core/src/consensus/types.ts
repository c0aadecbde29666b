/** The machine's vocabulary: its steps, timeouts, actions, snapshot and status, and the bounds it keeps. */
import {MAX_CONSENSUS_MESSAGE_BYTES, type ConsensusMessage, type Evidence} from "./messages.js"
import type {ConsensusRecord} from "./records.js"
import type {Block} from "../block/block.js"
import type {CommitCertificate} from "../block/commit.js"

/** Where the machine is within the current height. */
export type Step = "idle" | "propose" | "prevote" | "precommit" | "committed"

export type TimeoutStep = "interval" | "propose" | "prevote" | "precommit" | "retransmit"

export interface Timeout {
  height: number
  round: number
  step: TimeoutStep
}

/**
 * What the host must do, in order. A `persist` must be durable before any later action of the same
 * list runs: that is how a vote is on disk before it is sent.
 */
export type ConsensusAction =
  | {readonly type: "broadcast"; readonly message: ConsensusMessage; readonly retransmit: boolean}
  | {readonly type: "persist"; readonly record: ConsensusRecord}
  | ({readonly type: "schedule-timeout"; readonly delayMs: number} & Readonly<Timeout>)
  /** Build a block for (height, round) and answer with onProposalBuilt (possibly with no txs). */
  | {readonly type: "build-proposal"; readonly height: number; readonly round: number}
  /** Check header, parent, proposer, tx root, last commit and execute for the state root; answer with onBlockValidated. */
  | {readonly type: "validate-block"; readonly block: Block}
  /** The block is final: store it with the certificate, then call onCommitApplied. */
  | {readonly type: "commit"; readonly block: Block; readonly certificate: CommitCertificate}
  | {readonly type: "evidence"; readonly evidence: Evidence}
  /** A validator signed at a later height than ours: fetch finalized blocks from `height` on and call onFinalizedElsewhere. */
  | {readonly type: "request-sync"; readonly height: number; readonly peerHeight: number; readonly peer: Uint8Array}
  /** A validator still works on `height`, which we finalized: the host may push it blocks (rate-limited). */
  | {readonly type: "peer-behind"; readonly height: number; readonly peer: Uint8Array}

/** Everything a machine needs to (re)start: the height to decide, its validator set, and the records persisted for it. */
export interface ConsensusSnapshot {
  chainId: string
  /** The next height to decide (last finalized height + 1). */
  height: number
  /** Ordered validator set in force at `height`; the order defines the proposer rotation. */
  validators: readonly Uint8Array[]
  /** Records persisted for `height` (others are ignored). */
  records?: readonly ConsensusRecord[]
}

export interface ConsensusStatus {
  height: number
  round: number
  step: Step
  lockedRound: number
  validRound: number
  validators: number
  isValidator: boolean
  /** Rounds of the current height whose votes are kept (bounded by MAX_TRACKED_ROUNDS). */
  trackedRounds: number
  /** Bytes of messages buffered for later heights (bounded by FUTURE_BYTES_TOTAL). */
  futureBytes: number
}

/** Heights ahead of ours whose messages are buffered (beyond this they are dropped). */
export const FUTURE_HEIGHTS = 2
/** Messages kept per signer for each buffered future height. */
export const FUTURE_MESSAGES_PER_SIGNER = 8
/** Bytes of future messages kept per signer, all heights together: one maximal proposal and its round's votes. */
export const FUTURE_BYTES_PER_SIGNER = MAX_CONSENSUS_MESSAGE_BYTES + 64 * 1024
/** Bytes of future messages kept in total: a few maximal proposals, whatever the number of signers. */
export const FUTURE_BYTES_TOTAL = 4 * FUTURE_BYTES_PER_SIGNER
/** Rounds ahead of ours that are tracked (further ones are dropped; the sender retransmits). */
export const ROUNDS_AHEAD = 100
/** Rounds of vote sets kept per height; older ones are pruned unless a lock refers to them. */
export const MAX_TRACKED_ROUNDS = 200

/** Distinct votes kept per validator and (round, kind): an equivocator's votes all count, each once per value. */
export const MAX_VOTES_PER_SIGNER = 3
/** Distinct proposals kept per round (the second one is evidence, and its block may still be the one decided). */
export const MAX_PROPOSALS_PER_ROUND = 2
