/** audit_ namespace: a patient's own access trail and its FHIR export (see docs/rpc.md). */
import type {HealthService} from "../health/service.js"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"
import {RECORD_ID, jsonObject} from "./record.js"

export function auditNamespace(health: HealthService): RpcNamespace {
  return {
    audit_trail: method(params({request: jsonObject(), recordId: p.optional(p.string({min: 1, max: 64, pattern: RECORD_ID}))}), {
      permission: "read",
      summary: "Every release, denial and break-glass access to the signing patient's records (or one of them), newest first",
      handler: (args) => health.auditTrail(args),
    }),
    audit_export: method(params({request: jsonObject()}), {
      permission: "read",
      summary: "The signing patient's consents and access log as a FHIR R4 Bundle of Consent and AuditEvent resources",
      handler: (args) => health.auditExport(args),
    }),
  }
}
