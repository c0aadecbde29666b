/** audit_ namespace: a patient's own access trail and its FHIR export (see docs/rpc.md). */
import {healthRoutes} from "@careledger/core"
import type {HealthService} from "../health/service.js"
import {permits, serve, type RpcNamespace} from "./method.js"
import {RpcErrorCode, RpcServerError} from "./errors.js"

/** What audit_ uses of the health service. */
export type AuditRpcDeps = Pick<HealthService, "auditTrail" | "recordAuditTrail" | "auditExport">

export function auditNamespace(health: AuditRpcDeps): RpcNamespace {
  return {
    audit_trail: serve(healthRoutes.audit_trail, ({request, recordId, cursor, limit}, call) => {
      const page = {cursor, limit}
      if (request !== undefined) return health.auditTrail({request, recordId, ...page})
      if (recordId === undefined) throw new RpcServerError(RpcErrorCode.INVALID_PARAMS, "give a patient-signed request, or a recordId (admin)", {param: "request"})
      // An operator or auditor of the node (admin token; loopback without tokens) may read one record's trail.
      if (!permits(call.permission, "admin")) {
        throw new RpcServerError(RpcErrorCode.PERMISSION, "a record's trail without the patient's signature needs an admin token")
      }
      return health.recordAuditTrail(recordId, page)
    }),
    audit_export: serve(healthRoutes.audit_export, (args) => health.auditExport(args)),
  }
}
