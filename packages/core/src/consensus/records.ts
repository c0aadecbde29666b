import {decode, encode} from "../encoding/index.js"
import {bytesEqual, toHex} from "../encoding/bytes.js"
import {HASH_LENGTH} from "../crypto/hash.js"
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

/** One stored entry: records are written as entries and read back from all the entries of a height. */
export interface ConsensusRecordEntry {
  readonly key: string
  readonly value: Uint8Array
}

/**
 * Largest stored entry. Every entry holds at most one block or one proposal (a lock refers to its
 * block by hash), so each fits whatever the block size and the number of validators.
 */
export const MAX_CONSENSUS_RECORD_BYTES = MAX_CONSENSUS_MESSAGE_BYTES + 64
/** Prevotes kept with a lock: one per validator, and a validator set is far smaller. */
const MAX_LOCK_PREVOTES = 1024

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

/** Prefix of every entry of a height; heights are padded so entries sort by height. */
export function consensusRecordPrefix(height: number): string {
  return `h/${String(height).padStart(12, "0")}/`
}

/** Rounds are padded too (MAX_ROUND has 7 digits), so a height's entries sort by round within a kind. */
function roundKey(round: number): string {
  return String(round).padStart(8, "0")
}

/**
 * The entries to store for a record. Each key names its slot (kind and round, or a block's hash):
 * the machine signs at most one message per slot, so no entry ever overwrites another, and no
 * counter has to survive a restart. A lock is two entries, its block apart, block first.
 * Throws TOO_LARGE rather than write an entry that could not be read back.
 */
export function consensusRecordEntries(record: ConsensusRecord): ConsensusRecordEntry[] {
  const prefix = consensusRecordPrefix(recordHeight(record))
  let entries: ConsensusRecordEntry[]
  switch (record.type) {
    case "proposal":
      entries = [{key: `${prefix}proposal/${roundKey(record.proposal.round)}`, value: encode(["proposal", consensusMessageToEncodable(record.proposal)])}]
      break
    case "vote":
      entries = [{key: `${prefix}${record.vote.kind}/${roundKey(record.vote.round)}`, value: encode(["vote", consensusMessageToEncodable(record.vote)])}]
      break
    case "lock":
      entries = [
        {key: `${prefix}block/${record.block.hashHex()}`, value: encode(["block", record.block.serialize()])},
        {
          key: `${prefix}lock/${roundKey(record.round)}`,
          value: encode(["lock", record.height, record.round, record.block.hash(), record.prevotes.map(consensusMessageToEncodable)]),
        },
      ]
      break
  }
  for (const entry of entries) {
    if (entry.value.length > MAX_CONSENSUS_RECORD_BYTES) {
      throw new ConsensusError(ConsensusErrorCode.TOO_LARGE, `consensus record ${entry.key} of ${entry.value.length} bytes exceeds ${MAX_CONSENSUS_RECORD_BYTES}`)
    }
  }
  return entries
}

type Decoded =
  | ConsensusRecord
  | {readonly type: "block"; readonly block: Block}
  | {readonly type: "lock-ref"; readonly height: number; readonly round: number; readonly blockHash: Uint8Array; readonly prevotes: readonly Vote[]}

/**
 * Turns all the stored entries of a height back into records. Fails closed: an entry that cannot be
 * read, or a lock whose block is missing, throws UNREADABLE_RECORD naming the key, because a
 * validator restored without one of its own records could sign a vote that conflicts with it.
 */
export function restoreConsensusRecords(entries: Iterable<ConsensusRecordEntry>): ConsensusRecord[] {
  const records: ConsensusRecord[] = []
  const blocks = new Map<string, Block>()
  const locks: Array<{key: string; lock: Extract<Decoded, {type: "lock-ref"}>}> = []
  for (const {key, value} of entries) {
    let decoded: Decoded
    try {
      decoded = decodeEntry(value)
    } catch (err) {
      throw unreadable(key, (err as Error).message)
    }
    if (decoded.type === "block") blocks.set(decoded.block.hashHex(), decoded.block)
    else if (decoded.type === "lock-ref") locks.push({key, lock: decoded})
    else records.push(decoded)
  }
  for (const {key, lock} of locks) {
    const block = blocks.get(toHex(lock.blockHash))
    if (block === undefined || !bytesEqual(block.hash(), lock.blockHash)) throw unreadable(key, "the locked block is missing")
    records.push({type: "lock", height: lock.height, round: lock.round, block, prevotes: lock.prevotes})
  }
  return records
}

function unreadable(key: string, why: string): ConsensusError {
  return new ConsensusError(
    ConsensusErrorCode.UNREADABLE_RECORD,
    `consensus record ${key} cannot be read (${why}): without it this validator could sign a conflicting vote, so it does not start`,
  )
}

function decodeEntry(bytes: Uint8Array): Decoded {
  const fail = (what: string): never => {
    throw new ConsensusError(ConsensusErrorCode.MALFORMED, `bad consensus record: ${what}`)
  }
  let raw: unknown
  try {
    raw = decode(bytes, MAX_CONSENSUS_RECORD_BYTES)
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
  if (tag === "block") {
    if (rest.length !== 1 || !(rest[0] instanceof Uint8Array)) return fail("block fields")
    return {type: "block", block: Block.decode(rest[0])}
  }
  if (tag === "lock") {
    const [height, round, blockOrHash, rawVotes] = rest
    if (rest.length !== 4 || !Number.isSafeInteger(height) || !Number.isSafeInteger(round) || !(blockOrHash instanceof Uint8Array)) fail("lock fields")
    if (!Array.isArray(rawVotes) || rawVotes.length > MAX_LOCK_PREVOTES) return fail("lock prevotes")
    const prevotes = (rawVotes as unknown[]).map((raw) => {
      const vote = consensusMessageFromEncodable(raw)
      return vote.type === "vote" ? vote : fail("lock prevotes must be votes")
    })
    const hashOrBlock = blockOrHash as Uint8Array
    if (hashOrBlock.length === HASH_LENGTH) return {type: "lock-ref", height: height as number, round: round as number, blockHash: hashOrBlock, prevotes}
    // Records written before locks kept their block apart carry it inline.
    return {type: "lock", height: height as number, round: round as number, block: Block.decode(hashOrBlock), prevotes}
  }
  return fail(`unknown tag ${JSON.stringify(tag)}`)
}
