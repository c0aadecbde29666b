import {createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify, type KeyObject} from "node:crypto"
import {CareLedgerError} from "../errors.js"
import {bytesEqual, concatBytes, fromHex, toHex} from "../encoding/bytes.js"
import {base58btcEncode} from "./base58.js"

export enum KeyErrorCode {
  BAD_LENGTH = "KEY_ERROR_BAD_LENGTH",
  BAD_ENCODING = "KEY_ERROR_BAD_ENCODING",
  MISMATCH = "KEY_ERROR_PUBLIC_KEY_MISMATCH",
}

export class KeyError extends CareLedgerError<KeyErrorCode> {}

export const PUBLIC_KEY_LENGTH = 32
export const SEED_LENGTH = 32
export const SIGNATURE_LENGTH = 64

// DER prefixes for raw Ed25519 keys (RFC 8410), so node:crypto can import them without JWK.
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])

// libp2p's protobuf key encoding: field 1 (KeyType, Ed25519 = 1), field 2 (Data).
const LIBP2P_PRIVATE_PREFIX = new Uint8Array([0x08, 0x01, 0x12, 0x40])
const LIBP2P_PUBLIC_PREFIX = new Uint8Array([0x08, 0x01, 0x12, 0x20])

/** Verifying reuses imported key objects: importing costs more than the verification itself. */
const MAX_CACHED_KEYS = 4096
const publicKeyCache = new Map<string, KeyObject>()

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const id = toHex(publicKey)
  let key = publicKeyCache.get(id)
  if (key === undefined) {
    key = createPublicKey({key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)), format: "der", type: "spki"})
    if (publicKeyCache.size >= MAX_CACHED_KEYS) {
      const oldest = publicKeyCache.keys().next().value as string
      publicKeyCache.delete(oldest)
    }
    publicKeyCache.set(id, key)
  }
  return key
}

/** Checks an Ed25519 signature; malformed keys or signatures are simply invalid. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
  try {
    return edVerify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}

/** An Ed25519 signing key. One key is both a node's libp2p peer ID and its validator identity. */
export class PrivateKey {
  readonly seed: Uint8Array
  readonly publicKey: Uint8Array
  private readonly keyObject: KeyObject

  private constructor(seed: Uint8Array) {
    this.seed = seed
    this.keyObject = createPrivateKey({key: Buffer.from(concatBytes(PKCS8_PREFIX, seed)), format: "der", type: "pkcs8"})
    const spki = createPublicKey(this.keyObject).export({format: "der", type: "spki"})
    this.publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX.length))
  }

  static generate(): PrivateKey {
    const {privateKey} = generateKeyPairSync("ed25519")
    const pkcs8 = privateKey.export({format: "der", type: "pkcs8"})
    return new PrivateKey(new Uint8Array(pkcs8.subarray(PKCS8_PREFIX.length)))
  }

  static fromSeed(seed: Uint8Array): PrivateKey {
    if (seed.length !== SEED_LENGTH) {
      throw new KeyError(KeyErrorCode.BAD_LENGTH, `an Ed25519 seed is ${SEED_LENGTH} bytes, got ${seed.length}`)
    }
    return new PrivateKey(Uint8Array.from(seed))
  }

  /** Reads libp2p's protobuf private key encoding (what `privateKeyToProtobuf` writes for Ed25519). */
  static fromLibp2pProtobuf(bytes: Uint8Array): PrivateKey {
    if (bytes.length !== LIBP2P_PRIVATE_PREFIX.length + 64 || !bytesEqual(bytes.subarray(0, 4), LIBP2P_PRIVATE_PREFIX)) {
      throw new KeyError(KeyErrorCode.BAD_ENCODING, "not a libp2p Ed25519 private key")
    }
    const key = PrivateKey.fromSeed(bytes.subarray(4, 36))
    if (!bytesEqual(key.publicKey, bytes.subarray(36, 68))) {
      throw new KeyError(KeyErrorCode.MISMATCH, "the embedded public key does not belong to the seed")
    }
    return key
  }

  toLibp2pProtobuf(): Uint8Array {
    return concatBytes(LIBP2P_PRIVATE_PREFIX, this.seed, this.publicKey)
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(edSign(null, message, this.keyObject))
  }

  get id(): string {
    return accountId(this.publicKey)
  }

  get peerId(): string {
    return peerIdOf(this.publicKey)
  }
}

/** Accounts (providers, patients, hospitals, validators) are named by the hex of their public key. */
export function accountId(publicKey: Uint8Array): string {
  return toHex(publicKey)
}

/** Parses an account id back into a public key, or undefined when it is not one. */
export function publicKeyFromAccountId(id: string): Uint8Array | undefined {
  const bytes = fromHex(id)
  return bytes !== undefined && bytes.length === PUBLIC_KEY_LENGTH ? bytes : undefined
}

export function libp2pPublicKeyProtobuf(publicKey: Uint8Array): Uint8Array {
  return concatBytes(LIBP2P_PUBLIC_PREFIX, publicKey)
}

/** The libp2p peer ID string (identity multihash, base58btc) of an Ed25519 public key. */
export function peerIdOf(publicKey: Uint8Array): string {
  const proto = libp2pPublicKeyProtobuf(publicKey)
  return base58btcEncode(concatBytes(new Uint8Array([0x00, proto.length]), proto))
}
