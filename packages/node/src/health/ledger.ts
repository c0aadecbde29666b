/**
 * What the health service needs from the chain, as one injected interface: finalized reads (the
 * shapes mirror the state machine's records), the consent decision, and transaction submission.
 * The node implements it over its chain store, state helpers and mempool.
 */
import type {AccessDecisionKind, Purpose, Transaction, ConsentScope} from "@careledger/core"

export interface LedgerRecord {
  recordId: string
  /** Hex public key of the patient. */
  patient: string
  resourceType: string
  custodian: string
  version: number
  contentHash: string
  erased: boolean
  erasedAt: number | null
}

export interface LedgerRecordVersion {
  version: number
  contentHash: string
  previous: string | null
  anchoredBy: string
  height: number
  txHash: string
}

export interface LedgerConsent {
  id: string
  patient: string
  grantee: {kind: "person"; key: string} | {kind: "hospital"; hospital: string}
  scope: ConsentScope
  purposes: Purpose[]
  expiresAt: number
  grantedAt: number
  revoked: boolean
  revokedAt: number | null
}

export interface LedgerAccessEntry {
  txHash: string
  recordId: string
  patient: string
  reader: string
  purpose: Purpose
  decision: AccessDecisionKind
  reason: string
  consentId: string | null
  at: number
  via: string
  loggedBy: string
  height: number
}

export interface LedgerTrial {
  trialId: string
  registrant: string
  hospital: string
  registeredAt: number
  protocols: {version: number; protocolHash: string; height: number; txHash: string}[]
  results: {resultsHash: string; datasetHash: string | null; height: number; txHash: string}[]
}

export interface AccessDecision {
  decision: AccessDecisionKind
  /** Machine-readable reason (the state machine's code, e.g. "consent", "no-consent", "expired"). */
  reason: string
  consentId: string | null
}

export interface AccessQuery {
  recordId: string
  /** Hex key of the reader. */
  reader: string
  purpose: Purpose
  breakGlass: boolean
  /** Unix ms the access is judged at (consent expiry). */
  at: number
}

export interface HealthLedger {
  readonly chainId: string
  /** Height of the latest finalized block (reads below are all as of finalized state). */
  finalizedHeight(): Promise<number>
  getRecord(recordId: string): Promise<LedgerRecord | undefined>
  getRecordVersions(recordId: string): Promise<LedgerRecordVersion[]>
  /** The state machine's consent decision over finalized state. */
  decideAccess(query: AccessQuery): Promise<AccessDecision>
  listConsents(filter: {patient?: string; grantee?: string; hospital?: string}): Promise<LedgerConsent[]>
  listAccessLog(filter: {patient?: string; recordId?: string}): Promise<LedgerAccessEntry[]>
  getTrial(trialId: string): Promise<LedgerTrial | undefined>
  /** Hospital id whose node key this is, if any. */
  hospitalOfKey(key: string): Promise<string | undefined>
  /** Checks a transaction against pending state and queues it for the next block (throws the typed TxError). */
  submit(tx: Transaction): Promise<void>
  /** The nonce the account's next transaction must carry, counting ones still in the mempool. */
  nextNonce(account: string): Promise<number>
  /** Resolves true once the transaction is in a finalized block, false after `timeoutMs`. */
  waitFinal(txHash: string, timeoutMs: number): Promise<boolean>
}

/** The request/response half of record exchange: send bytes to a hospital's node, get bytes back. */
export interface RecordExchangeClient {
  request(hospital: string, bytes: Uint8Array): Promise<Uint8Array>
}
