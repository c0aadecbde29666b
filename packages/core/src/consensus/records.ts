import {decode, encode} from "../encoding/index.js"
import {Block} from "../block/block.js"
import {ConsensusError, ConsensusErrorCode} from "./errors.js"
import {
  consensusMessageFromEncodable,
  consensusMessageToEncodable,
  MAX_CONSENSUS_MESSAGE_BYTES,
  type Proposal,
  type Vote,
} from "./messages.js"

/**
 * What a validator must have on disk before it sends anything: its own signed proposals and votes
 * for the current height and its lock. A machine restored from these never signs a conflicting vote.
 */
export type ConsensusRecord =
  | {readonly type: "proposal"; readonly proposal: Proposal}
  | {readonly type: "vote"; readonly vote: Vote}
  /** The block this validator locked on, with the prevote quorum that justified it (relayed when re-proposing). */
  | {readonly type: "lock"; readonly height: number; readonly round: number; readonly block: Block; readonly prevotes: readonly Vote[]}

export function recordHeight(record: ConsensusRecord): number {
  switch (record.type) {
    case "proposal":
      return record.proposal.height
    case "vote":
      return record.vote.height
    case "lock":
      return record.height
  }
}

/** Height padded so that keys sort by height and a height's records share a prefix. */
export function consensusRecordPrefix(height: number): string {
  return `${height.toString().padStart(16, "0")}/`
}

/** A storage key unique per record slot: a later record of the same slot (a newer lock) overwrites. */
export function consensusRecordKey(record: ConsensusRecord): string {
  const prefix = consensusRecordPrefix(recordHeight(record))
  switch (record.type) {
    case "proposal":
      return `${prefix}proposal/${record.proposal.round}`
    case "vote":
      return `${prefix}${record.vote.kind}/${record.vote.round}`
    case "lock":
      return `${prefix}lock`
  }
}

export function encodeConsensusRecord(record: ConsensusRecord): Uint8Array {
  switch (record.type) {
    case "proposal":
      return encode(["proposal", consensusMessageToEncodable(record.proposal)])
    case "vote":
      return encode(["vote", consensusMessageToEncodable(record.vote)])
    case "lock":
      return encode(["lock", record.height, record.round, record.block.serialize(), record.prevotes.map(consensusMessageToEncodable)])
  }
}

export function decodeConsensusRecord(bytes: Uint8Array): ConsensusRecord {
  const fail = (what: string): never => {
    throw new ConsensusError(ConsensusErrorCode.MALFORMED, `bad consensus record: ${what}`)
  }
  let raw: unknown
  try {
    raw = decode(bytes, MAX_CONSENSUS_MESSAGE_BYTES + 64)
  } catch (err) {
    return fail((err as Error).message)
  }
  if (!Array.isArray(raw) || raw.length < 2) return fail("not a tagged list")
  const [tag, ...rest] = raw as unknown[]
  if (tag === "proposal" || tag === "vote") {
    if (rest.length !== 1) fail("wrong field count")
    const message = consensusMessageFromEncodable(rest[0])
    if (tag === "proposal" && message.type === "proposal") return {type: "proposal", proposal: message}
    if (tag === "vote" && message.type === "vote") return {type: "vote", vote: message}
    return fail("tag and message kind differ")
  }
  if (tag === "lock") {
    const [height, round, blockBytes, rawVotes] = rest
    if (rest.length !== 4 || !Number.isSafeInteger(height) || !Number.isSafeInteger(round) || !(blockBytes instanceof Uint8Array)) fail("lock fields")
    if (!Array.isArray(rawVotes) || rawVotes.length > 1024) return fail("lock prevotes")
    const prevotes = (rawVotes as unknown[]).map((raw) => {
      const vote = consensusMessageFromEncodable(raw)
      return vote.type === "vote" ? vote : fail("lock prevotes must be votes")
    })
    let block: Block
    try {
      block = Block.decode(blockBytes as Uint8Array)
    } catch (err) {
      return fail((err as Error).message)
    }
    return {type: "lock", height: height as number, round: round as number, block, prevotes}
  }
  return fail(`unknown tag ${JSON.stringify(tag)}`)
}
