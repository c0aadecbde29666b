/**
 * The signed read and audit requests: one definition of their fields, signing bytes, JSON form and
 * canonical CBOR wire form, used by the client that signs them and by every node that checks them.
 */
import {randomBytes} from "node:crypto"
import {decode, encode, type Encodable} from "../encoding/index.js"
import {concatBytes, fromHex, toHex, utf8} from "../encoding/bytes.js"
import type {PrivateKey} from "../crypto/keys.js"
import {HOSPITAL_ID_PATTERN, MAX_BREAK_GLASS_REASON_LENGTH, MAX_RECORD_VERSION, isRecordId} from "../tx/payload.js"
import {PURPOSES, type Purpose} from "../tx/types.js"
import {RequestError, RequestErrorCode} from "./errors.js"

export const REQUEST_NONCE_LENGTH = 16

/** Domain tags keep a read or audit request signature from ever being valid as anything else. */
export const READ_REQUEST_DOMAIN = utf8("careledger/read-request/v2\n")
export const AUDIT_REQUEST_DOMAIN = utf8("careledger/audit-request/v1\n")

/** Largest encoded read request accepted from the network. */
export const MAX_READ_REQUEST_BYTES = 1024

export interface ReadRequestFields {
  chainId: string
  recordId: string
  /** The hospital holding the record: signed in, so the request cannot be presented to another node. */
  custodian: string
  /** A version to read; null for the latest. */
  version: number | null
  purpose: Purpose
  /** Unix ms when the reader signed it. */
  time: number
  nonce: Uint8Array
  /** The reader's public key. */
  reader: Uint8Array
  /** Emergency access without consent, with the reader's stated reason; null for an ordinary read. */
  breakGlassReason: string | null
}

export interface ReadRequest extends ReadRequestFields {
  signature: Uint8Array
}

export interface ReadRequestJson {
  chainId: string
  recordId: string
  custodian: string
  version: number | null
  purpose: string
  time: number
  nonce: string
  reader: string
  breakGlassReason: string | null
  signature: string
}

function fieldsArray(r: ReadRequestFields): Encodable[] {
  return [r.chainId, r.recordId, r.custodian, r.version, r.purpose, r.time, r.nonce, r.reader, r.breakGlassReason]
}

export function readRequestSigningBytes(r: ReadRequestFields): Uint8Array {
  return concatBytes(READ_REQUEST_DOMAIN, encode(fieldsArray(r)))
}

export function signReadRequest(
  fields: {chainId: string; recordId: string; custodian: string; purpose: Purpose; version?: number | null; breakGlassReason?: string | null; time?: number; nonce?: Uint8Array},
  key: PrivateKey,
): ReadRequest {
  const unsigned: ReadRequestFields = {
    chainId: fields.chainId,
    recordId: fields.recordId,
    custodian: fields.custodian,
    version: fields.version ?? null,
    purpose: fields.purpose,
    time: fields.time ?? Date.now(),
    nonce: fields.nonce ?? new Uint8Array(randomBytes(REQUEST_NONCE_LENGTH)),
    reader: key.publicKey,
    breakGlassReason: fields.breakGlassReason ?? null,
  }
  return {...unsigned, signature: key.sign(readRequestSigningBytes(unsigned))}
}

export function readRequestToJson(r: ReadRequest): ReadRequestJson {
  return {
    chainId: r.chainId,
    recordId: r.recordId,
    custodian: r.custodian,
    version: r.version,
    purpose: r.purpose,
    time: r.time,
    nonce: toHex(r.nonce),
    reader: toHex(r.reader),
    breakGlassReason: r.breakGlassReason,
    signature: toHex(r.signature),
  }
}

/** The wire form between hospitals (record-exchange protocol): canonical CBOR of the fields and the signature. */
export function encodeReadRequest(r: ReadRequest): Uint8Array {
  return encode([...fieldsArray(r), r.signature])
}

function malformed(message: string): RequestError {
  return new RequestError(RequestErrorCode.MALFORMED, message)
}

const PURPOSE_SET: ReadonlySet<string> = new Set(PURPOSES)

/** Checks every field but the byte strings (which differ between JSON hex and CBOR bytes). */
function checkedFields(r: Record<string, unknown>): Omit<ReadRequestFields, "nonce" | "reader"> {
  if (typeof r.chainId !== "string") throw malformed("chainId must be a string")
  if (!isRecordId(r.recordId)) throw malformed("recordId must be 1..64 characters of [A-Za-z0-9._-]")
  if (typeof r.custodian !== "string" || r.custodian.length > 32 || !HOSPITAL_ID_PATTERN.test(r.custodian)) throw malformed("custodian must be a hospital id")
  if (r.version !== null && (!Number.isSafeInteger(r.version) || (r.version as number) < 1 || (r.version as number) > MAX_RECORD_VERSION)) {
    throw malformed("version must be null or a version number")
  }
  if (typeof r.purpose !== "string" || !PURPOSE_SET.has(r.purpose)) throw malformed(`purpose must be one of ${PURPOSES.join(", ")}`)
  if (!Number.isSafeInteger(r.time) || (r.time as number) < 0) throw malformed("time must be unix milliseconds")
  const reason = r.breakGlassReason
  if (reason !== null && (typeof reason !== "string" || reason.length === 0 || reason.length > MAX_BREAK_GLASS_REASON_LENGTH || /[\u0000-\u001f\u007f]/.test(reason))) {
    throw malformed(`breakGlassReason must be null or 1..${MAX_BREAK_GLASS_REASON_LENGTH} characters of text`)
  }
  return {
    chainId: r.chainId,
    recordId: r.recordId,
    custodian: r.custodian,
    version: r.version as number | null,
    purpose: r.purpose as Purpose,
    time: r.time as number,
    breakGlassReason: reason as string | null,
  }
}

function hexField(value: unknown, what: string, length: number): Uint8Array {
  const bytes = typeof value === "string" ? fromHex(value) : undefined
  if (bytes === undefined || bytes.length !== length) throw malformed(`${what} must be ${length} bytes of hex`)
  return bytes
}

function bytesField(value: unknown, what: string, length: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) throw malformed(`${what} must be ${length} bytes`)
  return value
}

export function readRequestFromJson(json: unknown): ReadRequest {
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw malformed("a read request is an object")
  const r = json as Record<string, unknown>
  return {
    ...checkedFields({...r, version: r.version ?? null, breakGlassReason: r.breakGlassReason ?? null}),
    nonce: hexField(r.nonce, "nonce", REQUEST_NONCE_LENGTH),
    reader: hexField(r.reader, "reader", 32),
    signature: hexField(r.signature, "signature", 64),
  }
}

export function decodeReadRequest(bytes: Uint8Array): ReadRequest {
  let raw: unknown
  try {
    raw = decode(bytes, MAX_READ_REQUEST_BYTES)
  } catch (err) {
    throw malformed(`undecodable read request: ${(err as Error).message}`)
  }
  if (!Array.isArray(raw) || raw.length !== 10) throw malformed("a read request is an array of 10 fields")
  const [chainId, recordId, custodian, version, purpose, time, nonce, reader, breakGlassReason, signature] = raw as unknown[]
  return {
    ...checkedFields({chainId, recordId, custodian, version, purpose, time, breakGlassReason}),
    nonce: bytesField(nonce, "nonce", REQUEST_NONCE_LENGTH),
    reader: bytesField(reader, "reader", 32),
    signature: bytesField(signature, "signature", 64),
  }
}

// ---------------------------------------------------------------------------------------------
// Signed audit-trail requests (a patient asking for their own trail)

export interface AuditRequestFields {
  chainId: string
  /** The patient's public key: only they can ask for their trail. */
  patient: Uint8Array
  time: number
  nonce: Uint8Array
}

export interface AuditRequest extends AuditRequestFields {
  signature: Uint8Array
}

export interface AuditRequestJson {
  chainId: string
  patient: string
  time: number
  nonce: string
  signature: string
}

export function auditRequestSigningBytes(r: AuditRequestFields): Uint8Array {
  return concatBytes(AUDIT_REQUEST_DOMAIN, encode([r.chainId, r.patient, r.time, r.nonce]))
}

export function signAuditRequest(fields: {chainId: string; time?: number; nonce?: Uint8Array}, key: PrivateKey): AuditRequest {
  const unsigned: AuditRequestFields = {
    chainId: fields.chainId,
    patient: key.publicKey,
    time: fields.time ?? Date.now(),
    nonce: fields.nonce ?? new Uint8Array(randomBytes(REQUEST_NONCE_LENGTH)),
  }
  return {...unsigned, signature: key.sign(auditRequestSigningBytes(unsigned))}
}

export function auditRequestToJson(r: AuditRequest): AuditRequestJson {
  return {chainId: r.chainId, patient: toHex(r.patient), time: r.time, nonce: toHex(r.nonce), signature: toHex(r.signature)}
}

export function auditRequestFromJson(json: unknown): AuditRequest {
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw malformed("an audit request is an object")
  const r = json as Record<string, unknown>
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
