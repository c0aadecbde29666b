/**
 * Messages of the record-exchange protocol between hospitals. The request is the reader's own
 * signed read request (the custodian checks it exactly as if the reader had asked it directly); the
 * response carries the released version with its salt, so the asking node can check it against the
 * finalized anchor, or the custodian's typed refusal.
 */
import {decode, encode, type Encodable} from "@careledger/core"
import {HealthError, HealthErrorCode} from "./errors.js"
import {MAX_RESOURCE_BYTES} from "./fhir.js"

export type ExchangeResponse =
  | {ok: true; version: number; salt: Uint8Array; resource: Uint8Array; decision: string; consentId: string | null}
  | {ok: false; code: string; message: string; reason: string | null}

/** The salt, the canonical resource and framing; the network layer bounds chunks separately. */
export const MAX_EXCHANGE_RESPONSE_BYTES = MAX_RESOURCE_BYTES + 4096

export function encodeExchangeResponse(response: ExchangeResponse): Uint8Array {
  return encode(response as unknown as Encodable)
}

function bad(message: string): HealthError {
  return new HealthError(HealthErrorCode.CUSTODIAN_UNAVAILABLE, `custodian answered a malformed record response: ${message}`)
}

export function decodeExchangeResponse(bytes: Uint8Array): ExchangeResponse {
  let raw: unknown
  try {
    raw = decode(bytes, MAX_EXCHANGE_RESPONSE_BYTES)
  } catch (err) {
    throw bad((err as Error).message)
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw bad("not a map")
  const r = raw as Record<string, unknown>
  if (r.ok === true) {
    if (!Number.isSafeInteger(r.version) || (r.version as number) < 1) throw bad("version")
    if (!(r.salt instanceof Uint8Array) || !(r.resource instanceof Uint8Array)) throw bad("salt/resource")
    if (typeof r.decision !== "string") throw bad("decision")
    if (r.consentId !== null && typeof r.consentId !== "string") throw bad("consentId")
    return {ok: true, version: r.version as number, salt: r.salt, resource: r.resource, decision: r.decision, consentId: r.consentId}
  }
  if (r.ok === false) {
    if (typeof r.code !== "string" || typeof r.message !== "string") throw bad("code/message")
    if (r.reason !== null && typeof r.reason !== "string") throw bad("reason")
    return {ok: false, code: r.code, message: r.message, reason: r.reason}
  }
  throw bad("ok flag")
}
