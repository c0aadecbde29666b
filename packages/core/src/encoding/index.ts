import {encode as cborEncode, decode as cborDecode} from "cborg"
import {CareLedgerError} from "../errors.js"
import {bytesEqual} from "./bytes.js"

export * from "./bytes.js"

export enum EncodingErrorCode {
  TOO_LARGE = "ENCODING_ERROR_TOO_LARGE",
  MALFORMED = "ENCODING_ERROR_MALFORMED",
  NON_CANONICAL = "ENCODING_ERROR_NON_CANONICAL",
  UNSUPPORTED_VALUE = "ENCODING_ERROR_UNSUPPORTED_VALUE",
}

export class EncodingError extends CareLedgerError<EncodingErrorCode> {}

/** Values that the canonical encoding carries: no floats, no undefined, no Maps. */
export type Encodable =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | readonly Encodable[]
  | {readonly [key: string]: Encodable}

/** Default ceiling for any single decoded object (a block is the largest thing we decode). */
export const MAX_DECODE_BYTES = 8 * 1024 * 1024

const decodeOptions = {
  strict: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  allowIndefinite: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: false,
  useMaps: false,
}

/**
 * Deterministic CBOR (RFC 8949 §4.2): shortest integer forms, map keys sorted, definite lengths.
 * Only safe integers are allowed so every value has one encoding.
 */
export function encode(value: Encodable): Uint8Array {
  checkEncodable(value, 0)
  return cborEncode(value)
}

/**
 * Decodes canonical bytes. Anything that would not re-encode to exactly the same bytes (trailing
 * data, non-shortest forms, unsorted keys, floats) is rejected, so a signed object has one encoding.
 */
export function decode(bytes: Uint8Array, maxBytes = MAX_DECODE_BYTES): unknown {
  if (bytes.length > maxBytes) {
    throw new EncodingError(EncodingErrorCode.TOO_LARGE, `input of ${bytes.length} bytes exceeds the limit of ${maxBytes}`, {
      size: bytes.length,
      limit: maxBytes,
    })
  }
  let value: unknown
  try {
    value = cborDecode(bytes, decodeOptions)
  } catch (err) {
    throw new EncodingError(EncodingErrorCode.MALFORMED, `malformed encoding: ${(err as Error).message}`)
  }
  let again: Uint8Array
  try {
    again = encode(value as Encodable)
  } catch (err) {
    throw new EncodingError(EncodingErrorCode.NON_CANONICAL, `non-canonical encoding: ${(err as Error).message}`)
  }
  if (!bytesEqual(again, bytes)) {
    throw new EncodingError(EncodingErrorCode.NON_CANONICAL, "input is not in canonical form")
  }
  return value
}

/**
 * Decodes bytes this node encoded itself (state values it wrote after encoding them): no canonical
 * re-encode check, which guards bytes from outside and would cost an encode on every state read.
 */
export function decodeOwn(bytes: Uint8Array): unknown {
  try {
    return cborDecode(bytes, decodeOptions)
  } catch (err) {
    throw new EncodingError(EncodingErrorCode.MALFORMED, `malformed encoding: ${(err as Error).message}`)
  }
}

const MAX_DEPTH = 32

function checkEncodable(value: unknown, depth: number): void {
  if (depth > MAX_DEPTH) {
    throw new EncodingError(EncodingErrorCode.UNSUPPORTED_VALUE, `nesting deeper than ${MAX_DEPTH}`)
  }
  if (value === null || typeof value === "boolean" || typeof value === "string" || value instanceof Uint8Array) return
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new EncodingError(EncodingErrorCode.UNSUPPORTED_VALUE, `only safe integers are encodable, got ${value}`)
    }
    return
  }
  if (Array.isArray(value)) {
    for (const item of value) checkEncodable(item, depth + 1)
    return
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value as object)) checkEncodable(item, depth + 1)
    return
  }
  throw new EncodingError(EncodingErrorCode.UNSUPPORTED_VALUE, `unsupported value of type ${typeof value}`)
}
