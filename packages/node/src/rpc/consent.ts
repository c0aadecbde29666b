/** consent_ namespace: listing and checking consents (grants and revocations are transactions sent with tx_send; see docs/rpc.md). */
import type {HealthService} from "../health/service.js"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"
import {PURPOSES} from "@careledger/core"
import {RECORD_ID} from "./record.js"

export function consentNamespace(health: HealthService): RpcNamespace {
  return {
    consent_list: method(
      params({patient: p.optional(p.hex({bytes: 32})), grantee: p.optional(p.hex({bytes: 32})), hospital: p.optional(p.string({min: 1, max: 32}))}),
      {
        permission: "read",
        summary: "Consents of a patient, to a person, or to a hospital (finalized state)",
        handler: (filter) => health.listConsents(filter),
      },
    ),
    consent_check: method(
      params({
        recordId: p.string({min: 1, max: 64, pattern: RECORD_ID}),
        reader: p.hex({bytes: 32}),
        purpose: p.oneOf(...PURPOSES),
        breakGlassReason: p.optional(p.string({min: 1, max: 256})),
      }),
      {
        permission: "read",
        summary: "Would this reader be allowed to read this record for this purpose as of the finalized head (break-glass when a reason is given), and if not why",
        handler: (args) => health.checkConsent(args),
      },
    ),
  }
}
