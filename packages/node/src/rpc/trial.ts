/** trial_ namespace: verification of clinical-trial documents (registrations, amendments and results are transactions sent with tx_send; see docs/rpc.md). */
import {RECORD_ID_PATTERN} from "@careledger/core"
import type {HealthService} from "../health/service.js"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"

/** Trial ids follow the same rule as record ids. */
const TRIAL_ID = RECORD_ID_PATTERN
const MAX_DOCUMENT = 1024 * 1024

export function trialNamespace(health: HealthService): RpcNamespace {
  return {
    trial_verify: method(
      params({
        trialId: p.string({min: 1, max: 64, pattern: TRIAL_ID}),
        protocol: p.optional(p.string({max: MAX_DOCUMENT})),
        protocolHash: p.optional(p.hex({bytes: 32})),
        results: p.optional(p.string({max: MAX_DOCUMENT})),
        resultsHash: p.optional(p.hex({bytes: 32})),
        dataset: p.optional(p.string({max: MAX_DOCUMENT})),
        datasetHash: p.optional(p.hex({bytes: 32})),
      }),
      {
        permission: "read",
        summary: "Does a document match the registered protocol (which version) or results, and was the protocol registered before the results",
        handler: (args) => health.verifyTrial(args),
      },
    ),
  }
}
