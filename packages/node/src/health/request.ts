/**
 * Verification of signed read and audit requests: shape, chain id, freshness window, signature
 * (with its own domain tag, shared with @careledger/client) and a bounded replay cache whose entries
 * expire with the window, so a captured request cannot be presented twice.
 */
import {Purpose, decode, fromHex, toHex, verifySignature, type Encodable} from "@careledger/core"
import {
  REQUEST_NONCE_LENGTH,
  auditRequestSigningBytes,
  readRequestSigningBytes,
  type AuditRequest,
  type AuditRequestJson,
  type ReadRequest,
  type ReadRequestJson,
} from "@careledger/client"
import {RequestError, RequestErrorCode} from "./errors.js"

export interface RequestVerifierOptions {
  chainId: string
  /** How far a request's time may be from the node's clock (default 5 minutes). */
  freshnessMs?: number
  /** Most remembered requests; beyond it the oldest are forgotten first (default 100 000). */
  maxReplayEntries?: number
  now?: () => number
}

const PURPOSES = new Set<string>(Object.values(Purpose))
const RECORD_ID = /^[A-Za-z0-9._-]{1,64}$/
const MAX_REQUEST_BYTES = 1024

function malformed(message: string): RequestError {
  return new RequestError(RequestErrorCode.MALFORMED, message)
}

function hexField(value: unknown, what: string, length: number): Uint8Array {
  const bytes = typeof value === "string" ? fromHex(value) : undefined
  if (bytes === undefined || bytes.length !== length) throw malformed(`${what} must be ${length} bytes of hex`)
  return bytes
}

function checkReadFields(r: {chainId: unknown; recordId: unknown; purpose: unknown; time: unknown; breakGlass: unknown}): void {
  if (typeof r.chainId !== "string") throw malformed("chainId must be a string")
  if (typeof r.recordId !== "string" || !RECORD_ID.test(r.recordId)) throw malformed("recordId must be 1..64 characters of [A-Za-z0-9._-]")
  if (typeof r.purpose !== "string" || !PURPOSES.has(r.purpose)) throw malformed(`purpose must be one of ${[...PURPOSES].join(", ")}`)
  if (!Number.isSafeInteger(r.time) || (r.time as number) < 0) throw malformed("time must be unix milliseconds")
  if (typeof r.breakGlass !== "boolean") throw malformed("breakGlass must be a boolean")
}

export function readRequestFromJson(json: unknown): ReadRequest {
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw malformed("a read request is an object")
  const r = json as Partial<Record<keyof ReadRequestJson, unknown>>
  checkReadFields(r as Parameters<typeof checkReadFields>[0])
  return {
    chainId: r.chainId as string,
    recordId: r.recordId as string,
    purpose: r.purpose as Purpose,
    time: r.time as number,
    breakGlass: r.breakGlass as boolean,
    nonce: hexField(r.nonce, "nonce", REQUEST_NONCE_LENGTH),
    reader: hexField(r.reader, "reader", 32),
    signature: hexField(r.signature, "signature", 64),
  }
}

/** Decodes the canonical CBOR form carried by the record-exchange protocol. */
export function decodeReadRequest(bytes: Uint8Array): ReadRequest {
  let raw: unknown
  try {
    raw = decode(bytes, MAX_REQUEST_BYTES)
  } catch (err) {
    throw malformed(`undecodable read request: ${(err as Error).message}`)
  }
  if (!Array.isArray(raw) || raw.length !== 8) throw malformed("a read request is an array of 8 fields")
  const [chainId, recordId, purpose, time, nonce, reader, breakGlass, signature] = raw as Encodable[]
  checkReadFields({chainId, recordId, purpose, time, breakGlass})
  const bytesOf = (value: unknown, what: string, length: number): Uint8Array => {
    if (!(value instanceof Uint8Array) || value.length !== length) throw malformed(`${what} must be ${length} bytes`)
    return value
  }
  return {
    chainId: chainId as string,
    recordId: recordId as string,
    purpose: purpose as Purpose,
    time: time as number,
    breakGlass: breakGlass as boolean,
    nonce: bytesOf(nonce, "nonce", REQUEST_NONCE_LENGTH),
    reader: bytesOf(reader, "reader", 32),
    signature: bytesOf(signature, "signature", 64),
  }
}

export function auditRequestFromJson(json: unknown): AuditRequest {
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw malformed("an audit request is an object")
  const r = json as Partial<Record<keyof AuditRequestJson, unknown>>
  if (typeof r.chainId !== "string") throw malformed("chainId must be a string")
  if (!Number.isSafeInteger(r.time) || (r.time as number) < 0) throw malformed("time must be unix milliseconds")
  return {
    chainId: r.chainId,
    time: r.time as number,
    patient: hexField(r.patient, "patient", 32),
    nonce: hexField(r.nonce, "nonce", REQUEST_NONCE_LENGTH),
    signature: hexField(r.signature, "signature", 64),
  }
}

/** Checks requests and remembers the accepted ones for the freshness window. */
export class RequestVerifier {
  readonly freshnessMs: number
  private readonly maxEntries: number
  private readonly now: () => number
  /** Signature hex -> expiry; a Map keeps insertion order, which is also expiry order here. */
  private readonly seen = new Map<string, number>()

  constructor(private readonly options: RequestVerifierOptions) {
    this.freshnessMs = options.freshnessMs ?? 5 * 60_000
    this.maxEntries = options.maxReplayEntries ?? 100_000
    this.now = options.now ?? Date.now
  }

  private checkCommon(chainId: string, time: number, signed: Uint8Array, key: Uint8Array, signature: Uint8Array, replayKey: string): void {
    if (chainId !== this.options.chainId) {
      throw new RequestError(RequestErrorCode.WRONG_CHAIN, `request is for chain ${JSON.stringify(chainId)}, this is ${JSON.stringify(this.options.chainId)}`)
    }
    const now = this.now()
    if (Math.abs(now - time) > this.freshnessMs) {
      throw new RequestError(RequestErrorCode.STALE, `request signed at ${time} is outside the ${this.freshnessMs} ms freshness window (now ${now})`, {
        time,
        now,
      })
    }
    if (!verifySignature(key, signed, signature)) {
      throw new RequestError(RequestErrorCode.BAD_SIGNATURE, "the request signature does not verify against the stated key")
    }
    this.expire(now)
    if (this.seen.has(replayKey)) throw new RequestError(RequestErrorCode.REPLAYED, "this signed request was already used")
    // Entries live until the request itself would be stale, so the cache never forgets a usable one early.
    this.seen.set(replayKey, time + this.freshnessMs)
    if (this.seen.size > this.maxEntries) this.seen.delete(this.seen.keys().next().value as string)
  }

  private expire(now: number): void {
    for (const [key, expiry] of this.seen) {
      if (expiry >= now) {
        // Expiries are not strictly ordered (requests may arrive out of time order), so only trim the head.
        break
      }
      this.seen.delete(key)
    }
  }

  /** Verifies a read request and marks it used; throws RequestError (STALE, REPLAYED, BAD_SIGNATURE, ...). */
  verifyRead(request: ReadRequest): void {
    this.checkCommon(request.chainId, request.time, readRequestSigningBytes(request), request.reader, request.signature, `r:${toHex(request.nonce)}:${toHex(request.reader)}`)
  }

  /** Verifies a patient's audit-trail request and marks it used. */
  verifyAudit(request: AuditRequest): void {
    this.checkCommon(request.chainId, request.time, auditRequestSigningBytes(request), request.patient, request.signature, `a:${toHex(request.nonce)}:${toHex(request.patient)}`)
  }

  get size(): number {
    return this.seen.size
  }
}
