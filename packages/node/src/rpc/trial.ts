/** trial_ namespace: clinical-trial registration, amendments, results and verification (see docs/rpc.md). */
import {TxType} from "@careledger/core"
import type {HealthService} from "../health/service.js"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"
import {txHex} from "./record.js"

const TRIAL_ID = /^[A-Za-z0-9._-]{1,64}$/
const MAX_DOCUMENT = 1024 * 1024

export function trialNamespace(health: HealthService): RpcNamespace {
  const submit = (type: TxType.TrialRegister | TxType.TrialAmend | TxType.TrialResult) => (args: {tx: string; wait?: boolean}) =>
    health.trialTx(type, args)
  return {
    trial_register: method(params({tx: txHex(), wait: p.optional(p.bool())}), {
      permission: "submit",
      summary: "Submit a researcher-signed trial.register (protocol hash pre-registration)",
      handler: submit(TxType.TrialRegister),
    }),
    trial_amend: method(params({tx: txHex(), wait: p.optional(p.bool())}), {
      permission: "submit",
      summary: "Submit a trial.amend (a new protocol version; earlier ones stay)",
      handler: submit(TxType.TrialAmend),
    }),
    trial_result: method(params({tx: txHex(), wait: p.optional(p.bool())}), {
      permission: "submit",
      summary: "Submit a trial.result (results and dataset hashes)",
      handler: submit(TxType.TrialResult),
    }),
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
