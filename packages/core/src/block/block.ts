import {decode, encode, type Encodable} from "../encoding/index.js"
import {toHex} from "../encoding/bytes.js"
import {sha256, HASH_LENGTH} from "../crypto/hash.js"
import {PUBLIC_KEY_LENGTH} from "../crypto/keys.js"
import {MAX_CHAIN_ID_LENGTH, Transaction} from "../tx/transaction.js"
import {TxError} from "../tx/errors.js"
import {commitFromEncodable, commitToEncodable, type CommitCertificate} from "./commit.js"
import {BlockError, BlockErrorCode} from "./errors.js"
import {merkleRoot} from "./merkle.js"

export const MAX_BLOCK_BYTES = 4 * 1024 * 1024
export const MAX_BLOCK_TXS = 5000

export interface BlockHeader {
  chainId: string
  height: number
  round: number
  parentHash: Uint8Array
  /** Unix milliseconds chosen by the proposer; strictly greater than the parent's. */
  timestamp: number
  /** Public key of the proposing validator (all zeros for genesis). */
  proposer: Uint8Array
  txRoot: Uint8Array
  /** Commits to the state after this block's transactions are applied. */
  stateRoot: Uint8Array
  /** Hash of the validator set that must finalize this block. */
  validatorsHash: Uint8Array
  /** The certificate that finalized the parent (null for heights 0 and 1). */
  lastCommit: CommitCertificate | null
}

/** An immutable block: header plus transactions, hash cached. */
export class Block {
  readonly header: Readonly<BlockHeader>
  readonly txs: readonly Transaction[]
  private cachedHash: Uint8Array | undefined
  private cachedBytes: Uint8Array | undefined

  private constructor(header: BlockHeader, txs: readonly Transaction[], bytes?: Uint8Array) {
    this.header = Object.freeze({...header})
    this.txs = Object.freeze([...txs])
    this.cachedBytes = bytes
  }

  /** Assembles a block; the tx root is computed from `txs`. */
  static create(header: Omit<BlockHeader, "txRoot">, txs: readonly Transaction[]): Block {
    return new Block({...header, txRoot: txRootOf(txs)}, txs)
  }

  static decode(bytes: Uint8Array): Block {
    if (bytes.length > MAX_BLOCK_BYTES) {
      throw new BlockError(BlockErrorCode.TOO_LARGE, `block of ${bytes.length} bytes exceeds ${MAX_BLOCK_BYTES}`)
    }
    let raw: unknown
    try {
      raw = decode(bytes, MAX_BLOCK_BYTES)
    } catch (err) {
      throw new BlockError(BlockErrorCode.MALFORMED, (err as Error).message)
    }
    if (!Array.isArray(raw) || raw.length !== 2) throw new BlockError(BlockErrorCode.MALFORMED, "a block is [header, txs]")
    const header = headerFromEncodable(raw[0])
    const rawTxs = raw[1] as unknown
    if (!Array.isArray(rawTxs)) throw new BlockError(BlockErrorCode.MALFORMED, "block txs must be a list")
    if (rawTxs.length > MAX_BLOCK_TXS) {
      throw new BlockError(BlockErrorCode.TOO_MANY_TXS, `block has ${rawTxs.length} txs, limit ${MAX_BLOCK_TXS}`)
    }
    const txs = rawTxs.map((txBytes: unknown, index: number) => {
      if (!(txBytes instanceof Uint8Array)) throw new BlockError(BlockErrorCode.MALFORMED, `tx ${index} is not bytes`)
      try {
        return Transaction.decode(txBytes)
      } catch (err) {
        throw new BlockError(BlockErrorCode.BAD_TX, `tx ${index}: ${(err as TxError).message}`, {index})
      }
    })
    return new Block(header, txs, bytes)
  }

  hash(): Uint8Array {
    this.cachedHash ??= hashHeader(this.header)
    return this.cachedHash
  }

  hashHex(): string {
    return toHex(this.hash())
  }

  serialize(): Uint8Array {
    this.cachedBytes ??= encode([headerToEncodable(this.header), this.txs.map((tx) => tx.serialize())])
    return this.cachedBytes
  }

  get height(): number {
    return this.header.height
  }
}

export function hashHeader(header: BlockHeader): Uint8Array {
  return sha256(encode(headerToEncodable(header)))
}

export function txRootOf(txs: readonly Transaction[]): Uint8Array {
  return merkleRoot(txs.map((tx) => tx.hash()))
}

/** Hash of an ordered validator set (the order defines round-robin proposers). */
export function validatorsHashOf(validators: readonly Uint8Array[]): Uint8Array {
  return sha256(encode([...validators]))
}

export function headerToEncodable(h: BlockHeader): Encodable {
  return [
    h.chainId,
    h.height,
    h.round,
    h.parentHash,
    h.timestamp,
    h.proposer,
    h.txRoot,
    h.stateRoot,
    h.validatorsHash,
    h.lastCommit === null ? null : commitToEncodable(h.lastCommit),
  ]
}

export function headerFromEncodable(raw: unknown): BlockHeader {
  if (!Array.isArray(raw) || raw.length !== 10) throw new BlockError(BlockErrorCode.MALFORMED, "a header is an array of 10 fields")
  const [chainId, height, round, parentHash, timestamp, proposer, txRoot, stateRoot, validatorsHash, lastCommit] = raw as unknown[]
  const fail = (what: string): never => {
    throw new BlockError(BlockErrorCode.MALFORMED, `bad header field: ${what}`)
  }
  if (typeof chainId !== "string" || chainId.length === 0 || chainId.length > MAX_CHAIN_ID_LENGTH) fail("chainId")
  if (!isCount(height)) fail("height")
  if (!isCount(round)) fail("round")
  if (!isHash(parentHash)) fail("parentHash")
  if (!isCount(timestamp)) fail("timestamp")
  if (!(proposer instanceof Uint8Array) || proposer.length !== PUBLIC_KEY_LENGTH) fail("proposer")
  if (!isHash(txRoot)) fail("txRoot")
  if (!isHash(stateRoot)) fail("stateRoot")
  if (!isHash(validatorsHash)) fail("validatorsHash")
  return {
    chainId: chainId as string,
    height: height as number,
    round: round as number,
    parentHash: parentHash as Uint8Array,
    timestamp: timestamp as number,
    proposer: proposer as Uint8Array,
    txRoot: txRoot as Uint8Array,
    stateRoot: stateRoot as Uint8Array,
    validatorsHash: validatorsHash as Uint8Array,
    lastCommit: lastCommit === null ? null : commitFromEncodable(lastCommit),
  }
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_LENGTH
}
