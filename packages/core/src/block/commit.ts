import {decode, encode, type Encodable} from "../encoding/index.js"
import {bytesEqual, concatBytes, toHex, utf8} from "../encoding/bytes.js"
import {verifySignature, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH} from "../crypto/keys.js"
import {HASH_LENGTH} from "../crypto/hash.js"
import {BlockError, BlockErrorCode} from "./errors.js"

const PRECOMMIT_DOMAIN = utf8("careledger/precommit/v1\n")

export interface CommitSignature {
  validator: Uint8Array
  signature: Uint8Array
}

/** Precommit signatures of more than 2/3 of the validator set for one block: proof of finality. */
export interface CommitCertificate {
  height: number
  round: number
  blockHash: Uint8Array
  signatures: CommitSignature[]
}

/** The bytes a validator signs when it precommits to a block; a commit certificate collects them. */
export function precommitSigningBytes(chainId: string, height: number, round: number, blockHash: Uint8Array | null): Uint8Array {
  return concatBytes(PRECOMMIT_DOMAIN, encode([chainId, height, round, blockHash]))
}

/** Most validators of n that may be faulty while safety holds (f < n/3); f + 1 of them include an honest one. */
export function maxFaulty(n: number): number {
  return Math.floor((n - 1) / 3)
}

/** Smallest number of validators that is more than 2/3 of n. */
export function quorumSize(n: number): number {
  return Math.floor((2 * n) / 3) + 1
}

export function commitToEncodable(cert: CommitCertificate): Encodable {
  return [cert.height, cert.round, cert.blockHash, cert.signatures.map((s) => [s.validator, s.signature])]
}

export function commitFromEncodable(raw: unknown): CommitCertificate {
  if (!Array.isArray(raw) || raw.length !== 4) throw malformed("a commit certificate is an array of 4 fields")
  const [height, round, blockHash, sigs] = raw as unknown[]
  if (!Number.isSafeInteger(height) || (height as number) < 0) throw malformed("bad commit height")
  if (!Number.isSafeInteger(round) || (round as number) < 0) throw malformed("bad commit round")
  if (!(blockHash instanceof Uint8Array) || blockHash.length !== HASH_LENGTH) throw malformed("bad commit block hash")
  if (!Array.isArray(sigs) || sigs.length > 1024) throw malformed("bad commit signature list")
  const signatures = sigs.map((entry: unknown) => {
    if (!Array.isArray(entry) || entry.length !== 2) throw malformed("bad commit signature entry")
    const [validator, signature] = entry as unknown[]
    if (!(validator instanceof Uint8Array) || validator.length !== PUBLIC_KEY_LENGTH) throw malformed("bad commit validator key")
    if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) throw malformed("bad commit signature")
    return {validator, signature}
  })
  return {height: height as number, round: round as number, blockHash, signatures}
}

export function encodeCommit(cert: CommitCertificate): Uint8Array {
  return encode(commitToEncodable(cert))
}

export function decodeCommit(bytes: Uint8Array): CommitCertificate {
  try {
    return commitFromEncodable(decode(bytes))
  } catch (err) {
    if (err instanceof BlockError) throw err
    throw malformed((err as Error).message)
  }
}

/** Checks one ed25519 signature; a caller that sees the same precommits often may remember results. */
export type SignatureVerifier = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean

/**
 * Checks that a certificate finalizes `blockHash` at `height`: distinct members of `validators`
 * holding more than 2/3 of the set signed the precommit. Throws BlockError(BAD_COMMIT) otherwise.
 */
export function verifyCommit(
  chainId: string,
  cert: CommitCertificate,
  expected: {height: number; blockHash: Uint8Array},
  validators: readonly Uint8Array[],
  options: {verifySignature?: SignatureVerifier} = {},
): void {
  const verify = options.verifySignature ?? verifySignature
  if (cert.height !== expected.height || !bytesEqual(cert.blockHash, expected.blockHash)) {
    throw new BlockError(BlockErrorCode.BAD_COMMIT, `certificate is for another block (height ${cert.height})`)
  }
  const members = new Set(validators.map(toHex))
  const seen = new Set<string>()
  const message = precommitSigningBytes(chainId, cert.height, cert.round, cert.blockHash)
  for (const {validator, signature} of cert.signatures) {
    const id = toHex(validator)
    if (!members.has(id)) throw new BlockError(BlockErrorCode.BAD_COMMIT, `signer ${id} is not a validator`)
    if (seen.has(id)) throw new BlockError(BlockErrorCode.BAD_COMMIT, `signer ${id} appears twice`)
    if (!verify(validator, message, signature)) {
      throw new BlockError(BlockErrorCode.BAD_COMMIT, `bad precommit signature from ${id}`)
    }
    seen.add(id)
  }
  if (seen.size < quorumSize(validators.length)) {
    throw new BlockError(BlockErrorCode.BAD_COMMIT, `${seen.size} of ${validators.length} signatures, need ${quorumSize(validators.length)}`)
  }
}

function malformed(message: string): BlockError {
  return new BlockError(BlockErrorCode.MALFORMED, message)
}
