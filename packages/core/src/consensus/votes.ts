import {bytesEqual, toHex} from "../encoding/bytes.js"
import type {VoteKind, Vote} from "./messages.js"

/** Vote sets and their counting, shared by the machine's rules. */

/** The votes of one round: per validator (hex key), the distinct votes it cast. */
export interface RoundVotes {
  prevotes: Map<string, Vote[]>
  precommits: Map<string, Vote[]>
}

export const NIL = "nil"

export function hashKey(hash: Uint8Array | null): string {
  return hash === null ? NIL : toHex(hash)
}

export function voteKey(round: number, kind: VoteKind): string {
  return `${round}/${kind}`
}

export function votesMatch(vote: Vote, hash: Uint8Array | null): boolean {
  return hash === null ? vote.blockHash === null : vote.blockHash !== null && bytesEqual(vote.blockHash, hash)
}

/** Number of distinct validators with a vote for `hash` (null: nil). */
export function countFor(votes: Map<string, Vote[]>, hash: Uint8Array | null): number {
  let count = 0
  for (const list of votes.values()) if (list.some((v) => votesMatch(v, hash))) count++
  return count
}

/** One vote for `hash` per validator that cast one. */
export function votesFor(votes: Map<string, Vote[]>, hash: Uint8Array | null): Vote[] {
  const out: Vote[] = []
  for (const list of votes.values()) {
    const vote = list.find((v) => votesMatch(v, hash))
    if (vote !== undefined) out.push(vote)
  }
  return out
}

