import {decode, encode, type Encodable} from "../encoding/index.js"
import {bytesEqual, concatBytes, toHex, utf8} from "../encoding/bytes.js"
import {HASH_LENGTH} from "../crypto/hash.js"
import {PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, verifySignature, type PrivateKey} from "../crypto/keys.js"
import {Block, MAX_BLOCK_BYTES} from "../block/block.js"
import {precommitSigningBytes} from "../block/commit.js"
import {MAX_CHAIN_ID_LENGTH} from "../tx/transaction.js"
import {ConsensusError, ConsensusErrorCode} from "./errors.js"

// Each signed kind has its own domain tag, so a prevote can never be replayed as a precommit or a
// proposal. Precommits use core's tag so they assemble directly into a CommitCertificate.
const PROPOSAL_DOMAIN = utf8("careledger/proposal/v1\n")
const PREVOTE_DOMAIN = utf8("careledger/prevote/v1\n")

/** Largest encoded consensus message: a maximal block plus its proposal envelope. */
export const MAX_CONSENSUS_MESSAGE_BYTES = MAX_BLOCK_BYTES + 1024
/** Rounds are bounded so a hostile message cannot make a validator track absurd rounds. */
export const MAX_ROUND = 1_000_000

export enum VoteKind {
  Prevote = "prevote",
  Precommit = "precommit",
}

/** A proposer's signed offer of a block for (height, round); validRound >= 0 re-proposes a block seen with a prevote quorum. */
export interface Proposal {
  readonly type: "proposal"
  readonly chainId: string
  readonly height: number
  readonly round: number
  readonly validRound: number
  readonly block: Block
  readonly proposer: Uint8Array
  readonly signature: Uint8Array
}

/** A validator's signed prevote or precommit; blockHash null votes for nothing ("nil"). */
export interface Vote {
  readonly type: "vote"
  readonly kind: VoteKind
  readonly chainId: string
  readonly height: number
  readonly round: number
  readonly blockHash: Uint8Array | null
  readonly validator: Uint8Array
  readonly signature: Uint8Array
}

export type ConsensusMessage = Proposal | Vote

/** Two conflicting messages signed by one validator for the same height, round and kind. */
export interface Evidence {
  readonly validator: Uint8Array
  readonly height: number
  readonly round: number
  readonly kind: "proposal" | VoteKind
  readonly first: ConsensusMessage
  readonly second: ConsensusMessage
}

export function proposalSigningBytes(chainId: string, height: number, round: number, validRound: number, blockHash: Uint8Array): Uint8Array {
  return concatBytes(PROPOSAL_DOMAIN, encode([chainId, height, round, validRound < 0 ? null : validRound, blockHash]))
}

export function voteSigningBytes(kind: VoteKind, chainId: string, height: number, round: number, blockHash: Uint8Array | null): Uint8Array {
  if (kind === VoteKind.Precommit) return precommitSigningBytes(chainId, height, round, blockHash)
  return concatBytes(PREVOTE_DOMAIN, encode([chainId, height, round, blockHash]))
}

export function signProposal(fields: {chainId: string; height: number; round: number; validRound: number; block: Block}, key: PrivateKey): Proposal {
  const signature = key.sign(proposalSigningBytes(fields.chainId, fields.height, fields.round, fields.validRound, fields.block.hash()))
  const proposal: Proposal = Object.freeze({type: "proposal", ...fields, proposer: key.publicKey, signature})
  verified.add(proposal)
  return proposal
}

export function signVote(fields: {kind: VoteKind; chainId: string; height: number; round: number; blockHash: Uint8Array | null}, key: PrivateKey): Vote {
  const signature = key.sign(voteSigningBytes(fields.kind, fields.chainId, fields.height, fields.round, fields.blockHash))
  const vote: Vote = Object.freeze({type: "vote", ...fields, validator: key.publicKey, signature})
  verified.add(vote)
  return vote
}

/** The validator that signed a message. */
export function signerOf(message: ConsensusMessage): Uint8Array {
  return message.type === "proposal" ? message.proposer : message.validator
}

/** Hash of the block a message is about (null for a nil vote). */
export function blockHashOf(message: ConsensusMessage): Uint8Array | null {
  return message.type === "proposal" ? message.block.hash() : message.blockHash
}

// Messages are immutable, so a successful check is remembered per object: the network layer
// verifies once at gossip validation and the machine's own check is then free.
const verified = new WeakSet<ConsensusMessage>()

/**
 * Checks chain id, internal consistency and the signature. Membership in the validator set is the
 * machine's business (it depends on the height). Throws ConsensusError (WRONG_CHAIN, MALFORMED, BAD_SIGNATURE).
 */
export function verifyConsensusMessage(message: ConsensusMessage, chainId: string): void {
  if (message.chainId !== chainId) {
    throw new ConsensusError(ConsensusErrorCode.WRONG_CHAIN, `message for chain ${message.chainId}, expected ${chainId}`)
  }
  if (verified.has(message)) return
  let ok: boolean
  if (message.type === "proposal") {
    const header = message.block.header
    if (header.chainId !== message.chainId || header.height !== message.height) {
      throw new ConsensusError(ConsensusErrorCode.MALFORMED, "proposal block is for another chain or height")
    }
    if (header.round > message.round || message.validRound >= message.round) {
      throw new ConsensusError(ConsensusErrorCode.MALFORMED, "proposal rounds are inconsistent")
    }
    const bytes = proposalSigningBytes(message.chainId, message.height, message.round, message.validRound, message.block.hash())
    ok = verifySignature(message.proposer, bytes, message.signature)
  } else {
    const bytes = voteSigningBytes(message.kind, message.chainId, message.height, message.round, message.blockHash)
    ok = verifySignature(message.validator, bytes, message.signature)
  }
  if (!ok) {
    throw new ConsensusError(ConsensusErrorCode.BAD_SIGNATURE, `bad ${describe(message)} signature from ${toHex(signerOf(message))}`)
  }
  verified.add(message)
}

export function describe(message: ConsensusMessage): string {
  return message.type === "proposal" ? "proposal" : message.kind
}

/** True when both messages are the same signed statement. */
export function sameMessage(a: ConsensusMessage, b: ConsensusMessage): boolean {
  if (a === b) return true
  return bytesEqual(a.signature, b.signature) && bytesEqual(signerOf(a), signerOf(b))
}

export function encodeConsensusMessage(message: ConsensusMessage): Uint8Array {
  return encode(consensusMessageToEncodable(message))
}

export function consensusMessageToEncodable(message: ConsensusMessage): Encodable {
  if (message.type === "proposal") {
    return [
      "proposal",
      message.chainId,
      message.height,
      message.round,
      message.validRound < 0 ? null : message.validRound,
      message.proposer,
      message.signature,
      message.block.serialize(),
    ]
  }
  return [message.kind, message.chainId, message.height, message.round, message.blockHash, message.validator, message.signature]
}

/** Decodes canonical bytes into a message and checks its shape (not its signature: see verifyConsensusMessage). */
export function decodeConsensusMessage(bytes: Uint8Array): ConsensusMessage {
  if (bytes.length > MAX_CONSENSUS_MESSAGE_BYTES) {
    throw new ConsensusError(ConsensusErrorCode.TOO_LARGE, `consensus message of ${bytes.length} bytes exceeds ${MAX_CONSENSUS_MESSAGE_BYTES}`)
  }
  let raw: unknown
  try {
    raw = decode(bytes, MAX_CONSENSUS_MESSAGE_BYTES)
  } catch (err) {
    throw new ConsensusError(ConsensusErrorCode.MALFORMED, (err as Error).message)
  }
  return consensusMessageFromEncodable(raw)
}

export function consensusMessageFromEncodable(raw: unknown): ConsensusMessage {
  const fail = (what: string): never => {
    throw new ConsensusError(ConsensusErrorCode.MALFORMED, `bad consensus message: ${what}`)
  }
  if (!Array.isArray(raw) || raw.length === 0) return fail("not a tagged list")
  const fields = raw as unknown[]
  const tag = fields[0]
  if (tag === "proposal") {
    if (fields.length !== 8) fail("a proposal has 8 fields")
    const [, chainId, height, round, validRound, proposer, signature, blockBytes] = fields
    checkCommon(chainId, height, round, fail)
    if (validRound !== null && (!isCount(validRound) || (validRound as number) >= (round as number))) fail("validRound")
    if (!isKey(proposer)) fail("proposer")
    if (!isSignature(signature)) fail("signature")
    if (!(blockBytes instanceof Uint8Array)) fail("block")
    let block: Block
    try {
      block = Block.decode(blockBytes as Uint8Array)
    } catch (err) {
      throw new ConsensusError(ConsensusErrorCode.MALFORMED, `bad proposal block: ${(err as Error).message}`)
    }
    if (block.header.height !== height || block.header.chainId !== chainId) fail("block height or chain differs from the proposal")
    if (block.header.round > (round as number)) fail("block round is after the proposal round")
    return Object.freeze({
      type: "proposal",
      chainId: chainId as string,
      height: height as number,
      round: round as number,
      validRound: validRound === null ? -1 : (validRound as number),
      block,
      proposer: proposer as Uint8Array,
      signature: signature as Uint8Array,
    })
  }
  if (tag === VoteKind.Prevote || tag === VoteKind.Precommit) {
    if (fields.length !== 7) fail("a vote has 7 fields")
    const [, chainId, height, round, blockHash, validator, signature] = fields
    checkCommon(chainId, height, round, fail)
    if (blockHash !== null && !(blockHash instanceof Uint8Array && blockHash.length === HASH_LENGTH)) fail("blockHash")
    if (!isKey(validator)) fail("validator")
    if (!isSignature(signature)) fail("signature")
    return Object.freeze({
      type: "vote",
      kind: tag,
      chainId: chainId as string,
      height: height as number,
      round: round as number,
      blockHash: blockHash as Uint8Array | null,
      validator: validator as Uint8Array,
      signature: signature as Uint8Array,
    })
  }
  return fail(`unknown kind ${JSON.stringify(tag)}`)
}

function checkCommon(chainId: unknown, height: unknown, round: unknown, fail: (what: string) => never): void {
  if (typeof chainId !== "string" || chainId.length === 0 || chainId.length > MAX_CHAIN_ID_LENGTH) fail("chainId")
  if (!isCount(height) || (height as number) < 1) fail("height")
  if (!isCount(round) || (round as number) > MAX_ROUND) fail("round")
}

function isCount(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isKey(value: unknown): boolean {
  return value instanceof Uint8Array && value.length === PUBLIC_KEY_LENGTH
}

function isSignature(value: unknown): boolean {
  return value instanceof Uint8Array && value.length === SIGNATURE_LENGTH
}

/** Evidence as canonical bytes (both signed messages kept whole), for storage and RPC. */
export function encodeEvidence(evidence: Evidence): Uint8Array {
  return encode([consensusMessageToEncodable(evidence.first), consensusMessageToEncodable(evidence.second)])
}

/**
 * Decodes and checks evidence: both messages verify, come from one signer, share height, round and
 * kind, and differ. Throws ConsensusError (MALFORMED, WRONG_CHAIN, BAD_SIGNATURE) otherwise.
 */
export function decodeEvidence(bytes: Uint8Array, chainId: string): Evidence {
  let raw: unknown
  try {
    raw = decode(bytes, 2 * MAX_CONSENSUS_MESSAGE_BYTES)
  } catch (err) {
    throw new ConsensusError(ConsensusErrorCode.MALFORMED, (err as Error).message)
  }
  if (!Array.isArray(raw) || raw.length !== 2) throw new ConsensusError(ConsensusErrorCode.MALFORMED, "evidence is a pair of messages")
  const first = consensusMessageFromEncodable(raw[0])
  const second = consensusMessageFromEncodable(raw[1])
  verifyConsensusMessage(first, chainId)
  verifyConsensusMessage(second, chainId)
  const kindOf = (m: ConsensusMessage): string => (m.type === "proposal" ? "proposal" : m.kind)
  if (
    !bytesEqual(signerOf(first), signerOf(second)) ||
    first.height !== second.height ||
    first.round !== second.round ||
    kindOf(first) !== kindOf(second) ||
    sameMessage(first, second)
  ) {
    throw new ConsensusError(ConsensusErrorCode.MALFORMED, "evidence messages do not conflict")
  }
  return Object.freeze({validator: signerOf(first), height: first.height, round: first.round, kind: kindOf(first) as Evidence["kind"], first, second})
}
