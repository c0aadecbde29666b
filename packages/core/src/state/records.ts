import type {AccessDecisionKind, ConsentScope, Purpose, Role} from "../tx/types.js"

/**
 * What the state holds, one interface per repository. StateKeys and hashes are lowercase hex so the
 * same objects serve the RPC layer as JSON; heights say when a fact became final.
 */

/** A person or system enrolled by a hospital. */
export interface IdentityRecord {
  /** Hex public key (the account id). */
  id: string
  role: Role
  /** Id of the enrolling hospital. */
  hospital: string
  /** For a proxy, the hex key of the patient it acts for; null for every other role. */
  patient: string | null
  revoked: boolean
  registeredAt: number
  revokedAt: number | null
}

export interface HospitalRecord {
  id: string
  name: string
  /** Hex of the node key (validator identity and libp2p peer ID). */
  key: string
  /** Whether it is in the validator set. */
  validator: boolean
  /** Height at which it joined (0 for genesis hospitals). */
  joinedAt: number
}

/** The latest state of an anchored record; every version is kept separately. */
export interface RecordAnchor {
  recordId: string
  /** Hex public key of the patient. */
  patient: string
  resourceType: string
  /** Custodian hospital id. */
  custodian: string
  /** Latest version number (1-based). */
  version: number
  /** Hex content hash of the latest version. */
  contentHash: string
  createdAt: number
  updatedAt: number
  erased: boolean
  erasedAt: number | null
}

export interface RecordVersion {
  version: number
  contentHash: string
  previous: string | null
  /** Hex key of the provider or lab that anchored it. */
  anchoredBy: string
  height: number
  txHash: string
}

export type ConsentGranteeRecord = {kind: "person"; key: string} | {kind: "hospital"; hospital: string}

export interface ConsentRecord {
  /** Hex hash of the consent.grant transaction. */
  id: string
  /** Hex public key of the patient who granted it. */
  patient: string
  grantee: ConsentGranteeRecord
  scope: ConsentScope
  purposes: Purpose[]
  expiresAt: number
  grantedAt: number
  revoked: boolean
  revokedAt: number | null
}

/**
 * One entry of a patient's trail: a read decision (`access.log`, checked by the chain against state)
 * or an erasure (decision `erase`, written by the chain when `record.erase` executes).
 */
export interface AccessLogEntry {
  /** Hex hash of the access.log (or record.erase) transaction. */
  txHash: string
  recordId: string
  patient: string
  /** Hex public key of the reader (for an erasure: whoever erased). */
  reader: string
  /** The purpose claimed; null for an erasure. */
  purpose: Purpose | null
  decision: AccessDecisionKind
  reason: string
  consentId: string | null
  /** Block time (unix ms) of the finalized state the decision was made from; for an erasure, its block's time. */
  at: number
  via: string
  /** Hex key of the node (or patient) that wrote the entry. */
  loggedBy: string
  height: number
  /** Break-glass: the reader's stated reason. Erasure by the custodian: the legal basis. Otherwise null. */
  note: string | null
}

export interface ErasureRecord {
  recordId: string
  /** Hex key of whoever erased it (the patient or the custodian node). */
  erasedBy: string
  legalBasis: string | null
  height: number
  txHash: string
}

export interface TrialProtocolVersion {
  /** 1 for the registered protocol, n+1 per amendment. */
  version: number
  protocolHash: string
  height: number
  txHash: string
}

export interface TrialResultEntry {
  resultsHash: string
  datasetHash: string | null
  height: number
  txHash: string
}

/** A trial's head entry; protocol versions and results live under their own keys. */
export interface TrialHead {
  trialId: string
  /** Hex key of the registering researcher. */
  registrant: string
  /** The researcher's hospital at registration. */
  hospital: string
  registeredAt: number
  protocolVersions: number
  results: number
}

export interface TrialRecord extends TrialHead {
  protocols: TrialProtocolVersion[]
  resultEntries: TrialResultEntry[]
}

/** Votes collected for one (action, hospital, key) proposal that has not passed yet. */
export interface ValidatorProposal {
  action: "add" | "remove"
  hospital: string
  key: string
  name: string
  /** Hex keys of the validators that voted for it, in vote order. */
  voters: string[]
}

/** The latest `audit.anchor` of one hospital: its interaction journal as of a finalized block. */
export interface JournalAnchorRecord {
  hospital: string
  /** Number of journal entries pinned (the newest one's sequence number). */
  sequence: number
  /** Hex id (sha256) of the journal entry numbered `sequence`. */
  head: string
  /** Height of the block that holds the anchor, and that block's time (unix ms). */
  height: number
  at: number
  /** Hex hash of the audit.anchor transaction. */
  txHash: string
}
