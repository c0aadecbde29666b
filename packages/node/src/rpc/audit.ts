/** audit_ namespace: a patient's own access trail and its FHIR export (see docs/rpc.md). */
import type {HealthService} from "../health/service.js"
import {method, permits, type RpcNamespace} from "./method.js"
import {RpcErrorCode, RpcServerError} from "./errors.js"
import {p, params} from "./params.js"
import {RECORD_ID, jsonObject} from "./record.js"

export function auditNamespace(health: HealthService): RpcNamespace {
  return {
    audit_trail: method(
      params({
        request: p.optional(jsonObject()),
        recordId: p.optional(p.string({min: 1, max: 64, pattern: RECORD_ID})),
        cursor: p.optional(p.string({min: 16, max: 16, pattern: /^[0-9]{16}$/})),
        limit: p.optional(p.uint({max: 1000})),
      }),
      {
      permission: "read",
      summary:
        "One page ({entries, next}) of every release, denial, break-glass access and erasure of the signing patient's records (or one of them), newest first; pass `next` as `cursor` for older entries; a record's trail without a patient signature needs an admin token",
      handler: ({request, recordId, cursor, limit}, call) => {
        const page = {cursor, limit}
        if (request !== undefined) return health.auditTrail({request, recordId, ...page})
        if (recordId === undefined) throw new RpcServerError(RpcErrorCode.INVALID_PARAMS, "give a patient-signed request, or a recordId (admin)", {param: "request"})
        // An operator or auditor of the node (admin token; loopback without tokens) may read one record's trail.
        if (!permits(call.permission, "admin")) {
          throw new RpcServerError(RpcErrorCode.PERMISSION, "a record's trail without the patient's signature needs an admin token")
        }
        return health.recordAuditTrail(recordId, page)
      },
    }),
    audit_export: method(params({request: jsonObject()}), {
      permission: "read",
      summary: "The signing patient's consents and access log as a FHIR R4 Bundle of Consent and AuditEvent resources",
      handler: (args) => health.auditExport(args),
    }),
  }
}
