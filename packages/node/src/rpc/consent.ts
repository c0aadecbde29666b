/** consent_ namespace: listing and checking consents (grants and revocations are transactions sent with tx_send; see docs/rpc.md). */
import {healthRoutes} from "@careledger/core"
import type {HealthService} from "../health/service.js"
import {serve, type RpcNamespace} from "./method.js"

/** What consent_ uses of the health service. */
export type ConsentRpcDeps = Pick<HealthService, "listConsents" | "checkConsent">

export function consentNamespace(health: ConsentRpcDeps): RpcNamespace {
  return {
    consent_list: serve(healthRoutes.consent_list, (filter) => health.listConsents(filter)),
    consent_check: serve(healthRoutes.consent_check, (args) => health.checkConsent(args)),
  }
}
