/**
 * The JSON shapes of the record_, consent_, audit_ and trial_ routes (declared in routes.ts): the
 * node answers with these and the client reads them.
 */
import type {Hex} from "./types.js"

/** A FHIR resource as plain JSON (the node validates it against the R4 definitions). */
export type FhirResource = {resourceType: string; [key: string]: unknown}

export type GranteeJson = {kind: "person"; key: Hex} | {kind: "hospital"; hospital: string}
export type ScopeJson = {kind: "resource-types"; resourceTypes: string[]} | {kind: "records"; recordIds: string[]}

export interface RecordPutResult {
  recordId: string
  version: number
  contentHash: Hex
  txHash: Hex
  /** Whether the anchor was final when the call returned (`wait: true`). */
  final: boolean
}

export interface RecordGetResult {
  recordId: string
  version: number
  resourceType: string
  resource: FhirResource
  salt: Hex
  contentHash: Hex
  custodian: string
  /** "release" under a consent (or as the patient/custodian), "break-glass" when flagged. */
  decision: "release" | "break-glass"
  consentId: string | null
  /** Where this node got the bytes: its own vault, or the custodian over the network (nothing is cached). */
  source: "vault" | "custodian"
}

export interface RecordVersionJson {
  version: number
  contentHash: Hex
  previous: Hex | null
  /** Hex key of the provider who anchored it. */
  provider: Hex
  txHash: Hex | null
  height: number | null
}

export interface RecordHistoryResult {
  recordId: string
  patient: Hex
  resourceType: string
  custodian: string
  erased: boolean
  versions: RecordVersionJson[]
}

export interface RecordVerifyResult {
  recordId: string
  version: number
  /** True when sha256(salt || canonical(resource)) equals the finalized anchor of that version. */
  valid: boolean
  anchoredHash: Hex
  computedHash: Hex
  erased: boolean
}

export interface ConsentJson {
  consentId: string
  patient: Hex
  grantee: GranteeJson
  scope: ScopeJson
  purposes: string[]
  expiresAt: number
  revoked: boolean
  active: boolean
}

export interface ConsentCheckResult {
  allowed: boolean
  decision: "release" | "deny" | "break-glass"
  reason: string
  consentId: string | null
}

export interface AuditEntryJson {
  recordId: string
  /** The reader; for an erasure, whoever erased. */
  reader: Hex
  /** The purpose claimed; null for an erasure. */
  purpose: string | null
  decision: "release" | "deny" | "break-glass" | "erase"
  reason: string
  /** Break-glass: the reader's stated reason; erasure by the custodian: the legal basis. */
  note: string | null
  consentId: string | null
  at: number
  via: string
  /** Hospital (custodian) node that wrote the log (the patient for their own erasure). */
  loggedBy: Hex
  txHash: Hex | null
  /** Height of the block that holds the entry. */
  height: number
}

/** One page of a trail, newest first; pass `next` as `cursor` for the older page (null: no more). */
export interface AuditPage {
  entries: AuditEntryJson[]
  next: string | null
}

export interface TrialVerifyResult {
  trialId: string
  registered: boolean
  /** Which protocol version (1 = registration) the document matches, if any. */
  protocolVersion: number | null
  resultsMatch: boolean | null
  datasetMatch: boolean | null
  /** True when the protocol was registered in an earlier block than any results. */
  registeredBeforeResults: boolean | null
  registeredAt: number | null
  resultsAt: number | null
}
