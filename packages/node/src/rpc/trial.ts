/** trial_ namespace: verification of clinical-trial documents (registrations, amendments and results are transactions sent with tx_send; see docs/rpc.md). */
import {healthRoutes} from "@careledger/core"
import type {HealthService} from "../health/service.js"
import {serve, type RpcNamespace} from "./method.js"

/** What trial_ uses of the health service. */
export type TrialRpcDeps = Pick<HealthService, "verifyTrial">

export function trialNamespace(health: TrialRpcDeps): RpcNamespace {
  return {
    trial_verify: serve(healthRoutes.trial_verify, (args) => health.verifyTrial(args)),
  }
}
