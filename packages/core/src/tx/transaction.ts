import {decode, encode, type Encodable, EncodingError} from "../encoding/index.js"
import {bytesEqual, concatBytes, toHex, utf8} from "../encoding/bytes.js"
import {sha256} from "../crypto/hash.js"
import {PrivateKey, accountId, verifySignature, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH} from "../crypto/keys.js"
import {TX_TYPES, type PayloadByType, type TxType} from "./types.js"
import {TxError, TxErrorCode} from "./errors.js"
import {parsePayload} from "./payload.js"

/** Upper bound of one serialized transaction. */
export const MAX_TX_BYTES = 64 * 1024
export const MAX_CHAIN_ID_LENGTH = 64

const TX_SIGNING_DOMAIN = utf8("careledger/tx/v1\n")
/** CBOR header of the 5-field unsigned array; the signed form is a 6-field array with the signature last. */
const UNSIGNED_ARRAY_HEADER = new Uint8Array([0x85])
/** A 64-byte signature encodes as 0x58 0x40 followed by the bytes. */
const ENCODED_SIGNATURE_LENGTH = 2 + SIGNATURE_LENGTH

export interface UnsignedTx<T extends TxType = TxType> {
  chainId: string
  type: T
  /** The signer's Ed25519 public key. */
  sender: Uint8Array
  /** Per-sender sequence number, starting at 0. */
  nonce: number
  payload: PayloadByType[T]
}

/**
 * An immutable signed transaction. The hash covers the unsigned fields; the signature covers a
 * domain tag and the hash, so it cannot be replayed as another kind of signed message.
 */
export class Transaction<T extends TxType = TxType> {
  readonly chainId: string
  readonly type: T
  readonly sender: Uint8Array
  readonly nonce: number
  readonly payload: PayloadByType[T]
  readonly signature: Uint8Array
  private cachedHash: Uint8Array | undefined
  private cachedHashHex: string | undefined
  private cachedBytes: Uint8Array | undefined
  private verified: boolean | undefined

  private constructor(fields: UnsignedTx<T>, signature: Uint8Array, bytes?: Uint8Array) {
    this.chainId = fields.chainId
    this.type = fields.type
    this.sender = fields.sender
    this.nonce = fields.nonce
    this.payload = fields.payload
    this.signature = signature
    this.cachedBytes = bytes
    Object.freeze(this.payload)
  }

  /** Builds and signs a transaction. The payload is checked; authorisation is the state's job. */
  static sign<T extends TxType>(fields: Omit<UnsignedTx<T>, "sender">, key: PrivateKey): Transaction<T> {
    const unsigned: UnsignedTx<T> = {...fields, sender: key.publicKey}
    checkEnvelope(unsigned)
    parsePayload(unsigned.type, unsigned.payload)
    const hash = sha256(encode(unsignedEncodable(unsigned)))
    const tx = new Transaction(unsigned, key.sign(concatBytes(TX_SIGNING_DOMAIN, hash)))
    tx.cachedHash = hash
    if (tx.serialize().length > MAX_TX_BYTES) {
      throw new TxError(TxErrorCode.TOO_LARGE, `transaction of ${tx.serialize().length} bytes exceeds ${MAX_TX_BYTES}`)
    }
    return tx
  }

  /**
   * Decodes canonical bytes into a transaction and checks its shape (not its signature). Bytes
   * identical to a transaction decoded recently give that same (immutable) object back: a block
   * carries the txs a node already admitted, so they are neither decoded nor verified again.
   */
  static decode(bytes: Uint8Array): Transaction {
    if (bytes.length > MAX_TX_BYTES) {
      throw new TxError(TxErrorCode.TOO_LARGE, `transaction of ${bytes.length} bytes exceeds ${MAX_TX_BYTES}`)
    }
    // For canonical bytes, the unsigned encoding is the same bytes minus the signature, so the hash
    // needs no re-encoding. Bytes that are not canonical get a hash no decoded tx has, or fail below.
    const hash = bytes.length > ENCODED_SIGNATURE_LENGTH ? sha256(UNSIGNED_ARRAY_HEADER, bytes.subarray(1, bytes.length - ENCODED_SIGNATURE_LENGTH)) : undefined
    const hashHex = hash === undefined ? undefined : toHex(hash)
    const known = hashHex === undefined ? undefined : decodedTxs.get(hashHex)
    if (known !== undefined && bytesEqual(known.serialize(), bytes)) return known
    let raw: unknown
    try {
      raw = decode(bytes, MAX_TX_BYTES)
    } catch (err) {
      throw new TxError(TxErrorCode.MALFORMED, (err as EncodingError).message)
    }
    if (!Array.isArray(raw) || raw.length !== 6) {
      throw new TxError(TxErrorCode.MALFORMED, "a transaction is an array of 6 fields")
    }
    const [chainId, type, sender, nonce, payload, signature] = raw as unknown[]
    if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) {
      throw new TxError(TxErrorCode.MALFORMED, "signature must be 64 bytes")
    }
    const unsigned = {chainId, type, sender, nonce, payload} as UnsignedTx
    checkEnvelope(unsigned)
    const parsed = parsePayload(unsigned.type, payload)
    const tx = new Transaction({...unsigned, payload: parsed}, signature, bytes)
    tx.cachedHash = hash
    tx.cachedHashHex = hashHex
    rememberDecoded(hashHex!, tx)
    return tx
  }

  hash(): Uint8Array {
    this.cachedHash ??= sha256(encode(unsignedEncodable(this)))
    return this.cachedHash
  }

  hashHex(): string {
    this.cachedHashHex ??= toHex(this.hash())
    return this.cachedHashHex
  }

  serialize(): Uint8Array {
    this.cachedBytes ??= encode([...unsignedEncodable(this), this.signature])
    return this.cachedBytes
  }

  get senderId(): string {
    return accountId(this.sender)
  }

  /** True when the signature was made by the sender over this transaction. */
  verifySignature(): boolean {
    // Cached: the mempool, block validation and execution all ask, and the answer cannot change.
    // A block's txs decode to the objects the pool admitted (see `decode`), so they carry the answer too.
    this.verified ??= verifySignature(this.sender, concatBytes(TX_SIGNING_DOMAIN, this.hash()), this.signature)
    return this.verified
  }
}

/**
 * Transactions decoded in this process, by hash (the hash does not cover the signature, so a hit
 * counts only when the whole bytes are the same). Bounded in count and in bytes: the oldest are
 * forgotten first; a pending tx forgotten here is only decoded and verified again when its block
 * arrives.
 */
const MAX_DECODED_TXS = 16_384
const MAX_DECODED_TX_BYTES = 8 * 1024 * 1024
const decodedTxs = new Map<string, Transaction>()
let decodedTxBytes = 0

function rememberDecoded(hash: string, tx: Transaction): void {
  const previous = decodedTxs.get(hash)
  if (previous !== undefined) {
    decodedTxs.delete(hash)
    decodedTxBytes -= previous.serialize().length
  }
  decodedTxs.set(hash, tx)
  decodedTxBytes += tx.serialize().length
  while (decodedTxs.size > MAX_DECODED_TXS || decodedTxBytes > MAX_DECODED_TX_BYTES) {
    const [oldestHash, oldest] = decodedTxs.entries().next().value as [string, Transaction]
    decodedTxs.delete(oldestHash)
    decodedTxBytes -= oldest.serialize().length
  }
}

function unsignedEncodable(tx: UnsignedTx): Encodable[] {
  return [tx.chainId, tx.type, tx.sender, tx.nonce, tx.payload as unknown as Encodable]
}

function checkEnvelope(tx: UnsignedTx): void {
  if (typeof tx.chainId !== "string" || tx.chainId.length === 0 || tx.chainId.length > MAX_CHAIN_ID_LENGTH) {
    throw new TxError(TxErrorCode.MALFORMED, `chain id must be a string of 1..${MAX_CHAIN_ID_LENGTH} characters`)
  }
  if (typeof tx.type !== "string" || !TX_TYPES.includes(tx.type)) {
    throw new TxError(TxErrorCode.UNKNOWN_TYPE, `unknown transaction type ${JSON.stringify(tx.type)}`)
  }
  if (!(tx.sender instanceof Uint8Array) || tx.sender.length !== PUBLIC_KEY_LENGTH) {
    throw new TxError(TxErrorCode.MALFORMED, "sender must be a 32-byte Ed25519 public key")
  }
  if (!Number.isSafeInteger(tx.nonce) || tx.nonce < 0) {
    throw new TxError(TxErrorCode.MALFORMED, "nonce must be a non-negative integer")
  }
}
