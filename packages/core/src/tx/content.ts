/**
 * What health transactions commit to: a record version by the salted hash of its canonical FHIR
 * JSON (`record.anchor`'s contentHash), a trial document by the hash of its exact bytes. The client
 * that builds these transactions and the node that checks content against them share this one rule.
 */
import {sha256} from "../crypto/hash.js"
import {utf8} from "../encoding/bytes.js"

/**
 * RFC 8785 (JCS) style canonical JSON: object keys sorted by UTF-16 code units, no whitespace,
 * strings and numbers as ECMAScript serialises them. Equal resources give equal bytes.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null"
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value)
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("canonical JSON has no NaN or Infinity")
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined)
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`
  }
  throw new TypeError(`canonical JSON cannot carry a ${typeof value}`)
}

/** A resource (any JSON object) as the bytes its content hash covers. */
export function canonicalResourceBytes(resource: object): Uint8Array {
  return utf8(canonicalJson(resource))
}

/** `sha256(salt || canonical(resource))`: what a `record.anchor` puts on chain. */
export function contentHash(salt: Uint8Array, resource: object): Uint8Array {
  return sha256(salt, canonicalResourceBytes(resource))
}

/** Trial documents are anchored by the hash of their exact bytes. */
export function documentHash(document: Uint8Array | string): Uint8Array {
  return sha256(typeof document === "string" ? utf8(document) : document)
}
