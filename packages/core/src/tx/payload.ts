import type {Encodable} from "../encoding/index.js"
import {TxError, TxErrorCode} from "./errors.js"
import type {PayloadByType, TxType} from "./types.js"

/**
 * Checks that a decoded payload has exactly the shape of its type and that every field is within
 * its size limit; returns it typed. (Per-type rules are filled in by the state-machine work.)
 */
export function parsePayload<T extends TxType>(type: T, payload: unknown): PayloadByType[T] {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw new TxError(TxErrorCode.BAD_PAYLOAD, `${type} payload must be a map`)
  }
  return payload as Encodable as unknown as PayloadByType[T]
}
