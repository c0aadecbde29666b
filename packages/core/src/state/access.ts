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
  /** The reader's role may not claim this purpose (a researcher claiming treatment). */
  PurposeNotPermitted = "PURPOSE_NOT_PERMITTED",
}

/**
 * Who may claim which purpose: the rule the consent check and the chain's check of `access.log`
 * share. A patient reading their own record needs no purpose rule (self access).
 */
export const PURPOSES_BY_ROLE: Readonly<Record<Role, readonly Purpose[]>> = {
  [Role.Provider]: [Purpose.Treatment, Purpose.Operations, Purpose.Payment, Purpose.PublicHealth],
  [Role.Lab]: [Purpose.Treatment, Purpose.Operations, Purpose.PublicHealth],
  [Role.Researcher]: [Purpose.Research, Purpose.PublicHealth],
  [Role.Proxy]: [Purpose.Treatment, Purpose.Payment],
  [Role.Patient]: [],
}

export function mayClaimPurpose(role: Role, purpose: Purpose): boolean {
  return PURPOSES_BY_ROLE[role].includes(purpose)
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
  /**
   * The finalized height the decision is made as of: enrolments, revocations, consents and erasures
   * recorded after it do not count yet, so a decision re-checked a few blocks later gives the same answer.
   */
  height: number
  /** Block time (unix ms) of that height: consent expiry is judged at it. */
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
  const {readerIdentity: reader, height} = input
  // A fact without a height counts as already happened (records always carry one; this is the safe side).
  const happened = (at: number | null): boolean => at === null || at <= height
  const record = input.record !== undefined && input.record.createdAt <= height ? input.record : undefined
  if (record === undefined) return deny(ConsentDecisionReason.RecordUnknown)
  if (record.erased && happened(record.erasedAt)) return deny(ConsentDecisionReason.RecordErased)
  if (reader === undefined || reader.id !== input.reader || reader.registeredAt > height) return deny(ConsentDecisionReason.ReaderUnknown)
  if (reader.revoked && happened(reader.revokedAt)) return deny(ConsentDecisionReason.ReaderRevoked)
  if (reader.id === record.patient) return {allowed: true, kind: AccessDecisionKind.Release, reason: ConsentDecisionReason.SelfAccess, consentId: null}
  if (!mayClaimPurpose(reader.role, input.purpose)) {
    if (input.breakGlass) return deny(ConsentDecisionReason.BreakGlassNotPermitted)
    // Another patient's record: no consent can name a patient, so say so rather than blame the purpose.
    return deny(reader.role === Role.Patient ? ConsentDecisionReason.NoConsent : ConsentDecisionReason.PurposeNotPermitted)
  }

  const revoked = (c: ConsentRecord): boolean => c.revoked && happened(c.revokedAt)
  const forReader = input.consents
    .filter((c) => c.patient === record.patient && c.grantedAt <= height && coversReader(c, reader, record.patient))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const inScope = forReader.filter((c) => inConsentScope(c, record))
  const forPurpose = inScope.filter((c) => c.purposes.includes(input.purpose))
  const valid = forPurpose.find((c) => !revoked(c) && input.at <= c.expiresAt)
  if (valid !== undefined) return {allowed: true, kind: AccessDecisionKind.Release, reason: ConsentDecisionReason.ConsentOk, consentId: valid.id}

  if (input.breakGlass) {
    if (reader.role === Role.Provider && input.purpose === Purpose.Treatment) {
      return {allowed: true, kind: AccessDecisionKind.BreakGlass, reason: ConsentDecisionReason.BreakGlass, consentId: null}
    }
    return deny(ConsentDecisionReason.BreakGlassNotPermitted)
  }
  const expired = forPurpose.find((c) => !revoked(c))
  if (expired !== undefined) return deny(ConsentDecisionReason.ConsentExpired, expired.id)
  if (forPurpose.length > 0) return deny(ConsentDecisionReason.ConsentRevoked, forPurpose[0]!.id)
  if (inScope.length > 0) return deny(ConsentDecisionReason.PurposeMismatch)
  if (forReader.length > 0) return deny(ConsentDecisionReason.OutOfScope)
  return deny(ConsentDecisionReason.NoConsent)
}

/** A grant to a person covers that person (a proxy only while linked to the granting patient); a hospital grant covers its staff. */
function coversReader(consent: ConsentRecord, reader: IdentityRecord, patient: string): boolean {
  if (consent.grantee.kind === "person") return consent.grantee.key === reader.id && (reader.role !== Role.Proxy || reader.patient === patient)
  return consent.grantee.hospital === reader.hospital && HOSPITAL_STAFF.includes(reader.role)
}

/**
 * A consent covers a record it names by id, or whose resource type it lists. A `Bundle` record is one
 * record of type Bundle: only a scope naming "Bundle" (or its record id) covers it, whatever resource
 * types are inside, so a consent to Observations never releases a Bundle that also holds Conditions.
 */
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
  /** The finalized height (and its block time) the decision is made as of. */
  height: number
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
    height: request.height,
    at: request.at,
    breakGlass: request.breakGlass ?? false,
  })
}
