/**
 * Transaction types and their payloads. Nothing here identifies a person: people are pseudonymous
 * public keys, records are opaque ids with a salted content hash.
 */
export enum TxType {
  IdentityRegister = "identity.register",
  IdentityRevoke = "identity.revoke",
  RecordAnchor = "record.anchor",
  ConsentGrant = "consent.grant",
  ConsentRevoke = "consent.revoke",
  AccessLog = "access.log",
  RecordErase = "record.erase",
  TrialRegister = "trial.register",
  TrialAmend = "trial.amend",
  TrialResult = "trial.result",
  ValidatorVote = "validator.vote",
  AuditAnchor = "audit.anchor",
}

export const TX_TYPES: readonly TxType[] = Object.values(TxType)

/** Roles a hospital can enrol. Hospitals themselves come from genesis or validator votes. */
export enum Role {
  Provider = "provider",
  Lab = "lab",
  Researcher = "researcher",
  Patient = "patient",
  /** A guardian or caregiver acting for one patient (a minor, a dependent adult); linked at enrolment. */
  Proxy = "proxy",
}

export const ROLES: readonly Role[] = Object.values(Role)

export enum Purpose {
  Treatment = "treatment",
  Research = "research",
  PublicHealth = "public-health",
  Operations = "operations",
  Payment = "payment",
}

/** Every purpose a read may claim: the one list the node, the client and the chain share. */
export const PURPOSES: readonly Purpose[] = Object.values(Purpose)

export enum AccessDecisionKind {
  Release = "release",
  Deny = "deny",
  BreakGlass = "break-glass",
  /** Not a read decision: the trail entry the chain writes when a record is erased. */
  Erase = "erase",
}

/** The decisions an `access.log` may carry (erasure entries are written by the chain itself). */
export const LOGGED_DECISIONS: readonly AccessDecisionKind[] = [AccessDecisionKind.Release, AccessDecisionKind.Deny, AccessDecisionKind.BreakGlass]

export interface IdentityRegisterPayload {
  /** The enrolled person's or system's public key (32 bytes). */
  key: Uint8Array
  role: Role
  /** The patient a proxy acts for: present exactly when `role` is proxy. */
  patient?: Uint8Array
}

export interface IdentityRevokePayload {
  key: Uint8Array
}

export interface RecordAnchorPayload {
  /** Opaque record id chosen by the custodian (no PHI), 1..64 chars of [A-Za-z0-9._-]. */
  recordId: string
  /** The patient's public key. */
  patient: Uint8Array
  /** FHIR resource type, e.g. "Observation". */
  resourceType: string
  /** Hospital id of the custodian; must be the signing provider's hospital. */
  custodian: string
  /** sha256(salt || canonical resource bytes); the salt never leaves the custodian. */
  contentHash: Uint8Array
  /** 1 for the first version; n+1 amends version n. */
  version: number
  /** contentHash of the version this one amends, or null for version 1. */
  previous: Uint8Array | null
}

export type ConsentGrantee = {kind: "person"; key: Uint8Array} | {kind: "hospital"; hospital: string}

export type ConsentScope = {kind: "resource-types"; resourceTypes: string[]} | {kind: "records"; recordIds: string[]}

export interface ConsentGrantPayload {
  grantee: ConsentGrantee
  scope: ConsentScope
  purposes: Purpose[]
  /** Unix milliseconds after which the consent no longer applies. */
  expiresAt: number
}

export interface ConsentRevokePayload {
  /** Hex hash of the consent.grant transaction being revoked. */
  consentId: string
}

export interface AccessLogPayload {
  recordId: string
  /** Public key of the person who asked to read. */
  reader: Uint8Array
  purpose: Purpose
  decision: AccessDecisionKind
  /** Machine-readable reason code (a ConsentDecisionReason or similar). */
  reason: string
  /** The consent that allowed a release, if any. */
  consentId: string | null
  /** The finalized height whose state the decision was made from (before this entry's block). */
  height: number
  /** Block time of that height (unix ms): consent expiry is judged at it. */
  at: number
  /** Hospital id of the node that served (or refused) the request on the reader's behalf. */
  via: string
  /** The reader's stated reason when they asked for break-glass; null for an ordinary request. */
  breakGlassReason: string | null
}

export interface RecordErasePayload {
  recordId: string
  /** Required when the custodian (not the patient) erases. */
  legalBasis: string | null
}

export interface TrialRegisterPayload {
  trialId: string
  protocolHash: Uint8Array
}

export interface TrialAmendPayload {
  trialId: string
  protocolHash: Uint8Array
}

export interface TrialResultPayload {
  trialId: string
  resultsHash: Uint8Array
  datasetHash: Uint8Array | null
}

/** Vote to add or remove a hospital, or take back an earlier vote on a pending proposal. */
export type ValidatorVoteAction = "add" | "remove" | "withdraw-add" | "withdraw-remove"

export interface ValidatorVotePayload {
  action: ValidatorVoteAction
  /** The hospital being added or removed. */
  hospital: string
  /** Its node key (validator identity and peer ID); required to add, must match to remove. */
  key: Uint8Array
  /** Display name of the hospital (an institution, not a person), for additions. */
  name: string
}

/**
 * A hospital node pins its local journal of FHIR interactions (searches, exports, refusals before
 * consent) to the chain: how many entries it holds and the hash of the newest. Nothing about the
 * entries themselves (no patient, no query) goes on chain.
 */
export interface AuditAnchorPayload {
  /** Number of entries in the journal (the sequence number of its newest entry), 1-based. */
  sequence: number
  /** sha256 id of the journal entry numbered `sequence` (32 bytes). */
  head: Uint8Array
}

export interface PayloadByType {
  [TxType.IdentityRegister]: IdentityRegisterPayload
  [TxType.IdentityRevoke]: IdentityRevokePayload
  [TxType.RecordAnchor]: RecordAnchorPayload
  [TxType.ConsentGrant]: ConsentGrantPayload
  [TxType.ConsentRevoke]: ConsentRevokePayload
  [TxType.AccessLog]: AccessLogPayload
  [TxType.RecordErase]: RecordErasePayload
  [TxType.TrialRegister]: TrialRegisterPayload
  [TxType.TrialAmend]: TrialAmendPayload
  [TxType.TrialResult]: TrialResultPayload
  [TxType.ValidatorVote]: ValidatorVotePayload
  [TxType.AuditAnchor]: AuditAnchorPayload
}

export type Payload = PayloadByType[TxType]
