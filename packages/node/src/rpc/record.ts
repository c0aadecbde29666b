/** record_ namespace: store, read, verify, trace and erase health records (see docs/rpc.md). */
import {RECORD_ID_PATTERN} from "@careledger/core"
import type {HealthService} from "../health/service.js"
import {method, permits, type RpcNamespace} from "./method.js"
import {p, params, type Parser} from "./params.js"
import {RpcErrorCode, RpcServerError} from "./errors.js"

/** The record-id rule is the chain's, declared once in core. */
export const RECORD_ID = RECORD_ID_PATTERN

/** Any JSON object (a FHIR resource, a signed request); its content is checked by the service. */
export function jsonObject(): Parser<Record<string, unknown>> {
  return (value, path) => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new RpcServerError(RpcErrorCode.INVALID_PARAMS, `${path} must be a JSON object`, {param: path})
    }
    return value as Record<string, unknown>
  }
}

/** A signed transaction in its canonical bytes, hex. */
const txHex = (): Parser<string> => p.hex({maxBytes: 64 * 1024})

export function recordNamespace(health: HealthService): RpcNamespace {
  return {
    record_put: method(params({resource: jsonObject(), salt: p.hex({bytes: 32}), anchorTx: txHex(), wait: p.optional(p.bool())}), {
      permission: "submit",
      summary: "Store a FHIR resource encrypted at this custodian and submit the provider-signed record.anchor over its salted hash",
      handler: (args) => health.put(args),
    }),
    record_get: method(params({request: jsonObject()}), {
      permission: "read",
      summary: "Read a record with a reader-signed request; decided from finalized consent, logged either way, fetched from the custodian when held elsewhere",
      handler: ({request}) => health.get(request),
    }),
    record_verify: method(
      params({recordId: p.string({min: 1, max: 64, pattern: RECORD_ID}), resource: jsonObject(), salt: p.hex({bytes: 32}), version: p.optional(p.uint())}),
      {
        permission: "read",
        summary: "Check a resource and salt against the finalized anchor (works after erasure too)",
        handler: (args) => health.verify(args),
      },
    ),
    record_history: method(params({recordId: p.string({min: 1, max: 64, pattern: RECORD_ID})}), {
      permission: "read",
      summary: "Every anchored version of a record: hash, previous, anchoring provider, block",
      handler: ({recordId}) => health.history(recordId),
    }),
    record_erase: method(
      params({
        recordId: p.string({min: 1, max: 64, pattern: RECORD_ID}),
        legalBasis: p.string({min: 1, max: 256}),
        wait: p.optional(p.bool()),
      }),
      {
        permission: "submit",
        summary:
          "Have this custodian node sign a record.erase under a stated legal basis (admin); a patient's own erasure is a record.erase sent with tx_send. Once final the custodian shreds the record",
        handler: ({recordId, legalBasis, wait}, call) => {
          // The node key signs for the hospital, so only the operator may ask for it.
          if (!permits(call.permission, "admin")) throw new RpcServerError(RpcErrorCode.PERMISSION, "a custodian erasure needs an admin token")
          return health.eraseAsCustodian({recordId, legalBasis, wait})
        },
      },
    ),
  }
}
