/** The health namespaces (record_, consent_, audit_, trial_) over the health service, as the node serves them. */
import type {RpcNamespace} from "./method.js"
import {auditNamespace, type AuditRpcDeps} from "./audit.js"
import {consentNamespace, type ConsentRpcDeps} from "./consent.js"
import {recordNamespace, type RecordRpcDeps} from "./record.js"
import {trialNamespace, type TrialRpcDeps} from "./trial.js"

/** Everything the health namespaces use of the health service, each namespace declaring its own part. */
export type HealthRpcDeps = RecordRpcDeps & ConsentRpcDeps & AuditRpcDeps & TrialRpcDeps

export function healthNamespaces(health: HealthRpcDeps): RpcNamespace[] {
  return [recordNamespace(health), consentNamespace(health), auditNamespace(health), trialNamespace(health)]
}
