/** record_ namespace: store, read, verify, trace and erase health records (routes in core's api/routes.ts; see docs/rpc.md). */
import {healthRoutes} from "@careledger/core"
import type {HealthService} from "../health/service.js"
import {permits, serve, type RpcNamespace} from "./method.js"
import {RpcErrorCode, RpcServerError} from "./errors.js"

/** What record_ uses of the health service. */
export type RecordRpcDeps = Pick<HealthService, "put" | "get" | "verify" | "history" | "eraseAsCustodian">

export function recordNamespace(health: RecordRpcDeps): RpcNamespace {
  return {
    record_put: serve(healthRoutes.record_put, (args) => health.put(args)),
    record_get: serve(healthRoutes.record_get, ({request}) => health.get(request)),
    record_verify: serve(healthRoutes.record_verify, (args) => health.verify(args)),
    record_history: serve(healthRoutes.record_history, ({recordId}) => health.history(recordId)),
    record_erase: serve(healthRoutes.record_erase, ({recordId, legalBasis, wait}, call) => {
      // The node key signs for the hospital, so only the operator may ask for it.
      if (!permits(call.permission, "admin")) throw new RpcServerError(RpcErrorCode.PERMISSION, "a custodian erasure needs an admin token")
      return health.eraseAsCustodian({recordId, legalBasis, wait})
    }),
  }
}
