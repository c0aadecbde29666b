import {accountId} from "../crypto/keys.js"
import {AccessDecisionKind, Purpose, Role} from "../tx/types.js"
import type {StateReader} from "./types.js"
import {StateKeys, granteeKey} from "./keys.js"
import type {ConsentRecord, IdentityRecord, RecordAnchor} from "./records.js"
import {loadConsentsByIndex, loadIdentity, loadRecord} from "./repository.js"

/** Why a read was released or refused; these strings go into access.log `reason`. */
export enum ConsentDecisionReason {
  ConsentOk = "CONSENT_OK",
  SelfAccess = "SELF_ACCESS",
  BreakGlass = "BREAK_GLASS",
  NoConsent = "NO_CONSENT",
  PurposeMismatch = "PURPOSE_MISMATCH",
  ConsentExpired = "CONSENT_EXPIRED",
  ConsentRevoked = "CONSENT_REVOKED",
  OutOfScope = "OUT_OF_SCOPE",
  RecordErased = "RECORD_ERASED",
  RecordUnknown = "RECORD_UNKNOWN",
  ReaderUnknown = "READER_UNKNOWN",
  ReaderRevoked = "READER_REVOKED",
  /** Break-glass was asked for by someone other than an active provider treating the patient. */
  BreakGlassNotPermitted = "BREAK_GLASS_NOT_PERMITTED",
}

export interface AccessInput {
  /** The record's anchor, or undefined when no such record was anchored. */
  record: RecordAnchor | undefined
  /** Hex public key of the reader (who signed the request). */
  reader: string
  /** The reader's enrolment (role, hospital, revoked), or undefined when not enrolled. */
  readerIdentity: IdentityRecord | undefined
  /**
   * Consents of the record's patient that may apply to this reader (those to the reader and to
   * the reader's hospital suffice; others are ignored).
   */
  consents: readonly ConsentRecord[]
  purpose: Purpose
  /** Unix ms the decision is made for (the finalized head's time or the request time). */
  at: number
  /** Emergency access asked for: released without consent to an active provider for treatment, flagged. */
  breakGlass: boolean
}

export interface AccessDecision {
  allowed: boolean
  kind: AccessDecisionKind
  reason: ConsentDecisionReason
  /** The consent that allowed the release, or the nearest one that failed (expired, revoked). */
  consentId: string | null
}

/** Roles a grant to a whole hospital covers (the patient is never covered by a hospital grant). */
const HOSPITAL_STAFF: readonly Role[] = [Role.Provider, Role.Lab, Role.Researcher]

const deny = (reason: ConsentDecisionReason, consentId: string | null = null): AccessDecision => ({
  allowed: false,
  kind: AccessDecisionKind.Deny,
  reason,
  consentId,
})

/**
 * Does this finalized state allow `reader` to read `record` for `purpose` at time `at`? Pure: the
 * same input always gives the same decision, so every node and any auditor reaches the same answer.
 * A denial names the nearest miss (a consent that exists but is out of scope, for another purpose,
 * expired or revoked), which is what a patient or an operator needs to fix it.
 */
export function decideAccess(input: AccessInput): AccessDecision {
  const {record, readerIdentity: reader} = input
  if (record === undefined) return deny(ConsentDecisionReason.RecordUnknown)
  if (record.erased) return deny(ConsentDecisionReason.RecordErased)
  if (reader === undefined || reader.id !== input.reader) return deny(ConsentDecisionReason.ReaderUnknown)
  if (reader.revoked) return deny(ConsentDecisionReason.ReaderRevoked)
  if (reader.id === record.patient) return {allowed: true, kind: AccessDecisionKind.Release, reason: ConsentDecisionReason.SelfAccess, consentId: null}

  const forReader = input.consents
    .filter((c) => c.patient === record.patient && coversReader(c, reader))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const inScope = forReader.filter((c) => inConsentScope(c, record))
  const forPurpose = inScope.filter((c) => c.purposes.includes(input.purpose))
  const valid = forPurpose.find((c) => !c.revoked && input.at <= c.expiresAt)
  if (valid !== undefined) return {allowed: true, kind: AccessDecisionKind.Release, reason: ConsentDecisionReason.ConsentOk, consentId: valid.id}

  if (input.breakGlass) {
    if (reader.role === Role.Provider && input.purpose === Purpose.Treatment) {
      return {allowed: true, kind: AccessDecisionKind.BreakGlass, reason: ConsentDecisionReason.BreakGlass, consentId: null}
    }
    return deny(ConsentDecisionReason.BreakGlassNotPermitted)
  }
  const expired = forPurpose.find((c) => !c.revoked)
  if (expired !== undefined) return deny(ConsentDecisionReason.ConsentExpired, expired.id)
  if (forPurpose.length > 0) return deny(ConsentDecisionReason.ConsentRevoked, forPurpose[0]!.id)
  if (inScope.length > 0) return deny(ConsentDecisionReason.PurposeMismatch)
  if (forReader.length > 0) return deny(ConsentDecisionReason.OutOfScope)
  return deny(ConsentDecisionReason.NoConsent)
}

function coversReader(consent: ConsentRecord, reader: IdentityRecord): boolean {
  if (consent.grantee.kind === "person") return consent.grantee.key === reader.id
  return consent.grantee.hospital === reader.hospital && HOSPITAL_STAFF.includes(reader.role)
}

function inConsentScope(consent: ConsentRecord, record: RecordAnchor): boolean {
  return consent.scope.kind === "records"
    ? consent.scope.recordIds.includes(record.recordId)
    : consent.scope.resourceTypes.includes(record.resourceType)
}

/** Upper bound of consents considered per (patient, grantee) pair in one decision. */
export const MAX_CONSENTS_PER_GRANTEE = 1000

export interface AccessRequest {
  recordId: string
  /** The reader's public key or its hex account id. */
  reader: Uint8Array | string
  purpose: Purpose
  at: number
  breakGlass?: boolean
}

/** Loads what decideAccess needs from state (the record, the reader, the applicable consents) and decides. */
export async function checkAccess(state: StateReader, request: AccessRequest): Promise<AccessDecision> {
  const reader = typeof request.reader === "string" ? request.reader : accountId(request.reader)
  const record = await loadRecord(state, request.recordId)
  const readerIdentity = await loadIdentity(state, reader)
  const consents: ConsentRecord[] = []
  if (record !== undefined && readerIdentity !== undefined) {
    const grantees = [granteeKey({kind: "person", key: reader}), granteeKey({kind: "hospital", hospital: readerIdentity.hospital})]
    for (const grantee of grantees) {
      const prefix = StateKeys.consentByPatientGranteePrefix(record.patient, grantee)
      consents.push(...(await loadConsentsByIndex(state, prefix, MAX_CONSENTS_PER_GRANTEE)))
    }
  }
  return decideAccess({
    record,
    reader,
    readerIdentity,
    consents,
    purpose: request.purpose,
    at: request.at,
    breakGlass: request.breakGlass ?? false,
  })
}
