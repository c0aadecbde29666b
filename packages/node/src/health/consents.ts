/** consent_list and consent_check: finalized consents and the consent decision as the API's JSON. */
import {
  AccessDecisionKind,
  MAX_LIST_LIMIT,
  PURPOSES,
  checkAccess,
  listConsents,
  type ConsentCheckResult,
  type ConsentJson,
  type ConsentRecord,
  type Purpose,
  type RecordAnchor,
} from "@careledger/core"
import type {FinalizedChain} from "./chain.js"
import {HealthError, HealthErrorCode} from "./errors.js"

const PURPOSE_SET: ReadonlySet<string> = new Set(PURPOSES)

/** A consent as the API shows it; `active` as of `now` (the finalized head's time). */
export function consentJson(c: ConsentRecord, now: number): ConsentJson {
  return {
    consentId: c.id,
    patient: c.patient,
    grantee: c.grantee,
    scope: c.scope,
    purposes: c.purposes,
    expiresAt: c.expiresAt,
    revoked: c.revoked,
    active: !c.revoked && c.expiresAt > now,
  }
}

/** Consents of a patient, to a person, or to a hospital (the first filter given). */
export async function consentList(chain: FinalizedChain, filter: {patient?: string; grantee?: string; hospital?: string}): Promise<ConsentJson[]> {
  const query =
    filter.patient !== undefined
      ? {patient: filter.patient}
      : filter.grantee !== undefined
        ? {grantee: {kind: "person" as const, key: filter.grantee}}
        : filter.hospital !== undefined
          ? {grantee: {kind: "hospital" as const, hospital: filter.hospital}}
          : undefined
  if (query === undefined) throw new HealthError(HealthErrorCode.BAD_PARAMS, "give a patient, a grantee or a hospital")
  const now = chain.head().timestamp
  return (await listConsents(chain.state(), query, MAX_LIST_LIMIT)).map((c) => consentJson(c, now))
}

/** A purpose named by a caller, or BAD_PARAMS listing the purposes there are. */
export function purposeOf(text: string): Purpose {
  if (!PURPOSE_SET.has(text)) throw new HealthError(HealthErrorCode.BAD_PARAMS, `purpose must be one of ${PURPOSES.join(", ")}`)
  return text as Purpose
}

/** Would `reader` be allowed to read `record` for `purpose` as of the finalized head, and if not why. */
export async function consentCheck(chain: FinalizedChain, record: RecordAnchor, params: {reader: string; purpose: Purpose; breakGlassReason?: string}): Promise<ConsentCheckResult> {
  const head = chain.head()
  const d = await checkAccess(chain.state(), {
    recordId: record.recordId,
    reader: params.reader,
    purpose: params.purpose,
    breakGlass: params.breakGlassReason !== undefined,
    height: head.height,
    at: head.timestamp,
  })
  const decision = d.kind === AccessDecisionKind.BreakGlass ? "break-glass" : d.kind === AccessDecisionKind.Deny ? "deny" : "release"
  return {allowed: d.kind !== AccessDecisionKind.Deny, decision, reason: d.reason, consentId: d.consentId}
}
