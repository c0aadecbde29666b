/**
 * What the health service needs from the chain, as one injected interface: finalized reads (the
 * shapes mirror the state machine's records), the consent decision, and transaction submission.
 * The node implements it over its chain store, state helpers and mempool.
 */
import {
  MAX_LIST_LIMIT,
  checkAccess,
  getHospitalByKey,
  getTrial,
  listAccessLog,
  listConsents,
  loadIdentity,
  loadRecord,
  loadRecordVersions,
  type AccessDecisionKind,
  type AccessLogEntry,
  type AccessLogPage,
  type ConsentRecord,
  type IdentityRecord,
  type Purpose,
  type StateReader,
  type Transaction,
} from "@careledger/core"

/** The one logger shape the health parts use (the node's pino logger satisfies it). */
export interface HealthLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

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

/** Consents and access-log entries are the state machine's records, unchanged. */
export type LedgerConsent = ConsentRecord
export type LedgerAccessEntry = AccessLogEntry

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
  /** The finalized height the decision is made as of, and its block time (consent expiry is judged at it). */
  height: number
  at: number
}

/** The latest finalized block: decisions are made as of its height and time, never a node's wall clock. */
export interface FinalizedHead {
  height: number
  timestamp: number
}

export interface HealthLedger {
  readonly chainId: string
  /** The latest finalized block (reads below are all as of finalized state). */
  finalizedHead(): FinalizedHead
  getRecord(recordId: string): Promise<LedgerRecord | undefined>
  getIdentity(key: string): Promise<IdentityRecord | undefined>
  getRecordVersions(recordId: string): Promise<LedgerRecordVersion[]>
  /** The state machine's consent decision over finalized state. */
  decideAccess(query: AccessQuery): Promise<AccessDecision>
  listConsents(filter: {patient?: string; grantee?: string; hospital?: string}): Promise<LedgerConsent[]>
  listAccessLog(filter: {patient: string} | {recordId: string}, page?: {cursor?: string; limit?: number}): Promise<AccessLogPage>
  getTrial(trialId: string): Promise<LedgerTrial | undefined>
  /** Hospital id whose node key this is, if any. */
  hospitalOfKey(key: string): Promise<string | undefined>
  /** Checks a transaction against pending state and queues it for the next block (throws the typed TxError). */
  submit(tx: Transaction): Promise<void>
  /** The nonce the account's next transaction must carry, counting ones still in the mempool. */
  nextNonce(account: string): Promise<number>
  /** Resolves true once the transaction is in a finalized block, false after `timeoutMs`. */
  waitFinal(txHash: string, timeoutMs: number): Promise<boolean>
  /** Whether the transaction is in a finalized block now. */
  isFinal(txHash: string): Promise<boolean>
}

/** The request/response half of record exchange: send bytes to a hospital's node, get bytes back. */
export interface RecordExchangeClient {
  request(hospital: string, bytes: Uint8Array): Promise<Uint8Array>
}

export interface StateLedgerOptions {
  chainId: string
  /** Finalized state (the store's state reader; only finalized blocks are stored). */
  state: () => StateReader
  finalizedHead: () => FinalizedHead
  submit: (tx: Transaction) => Promise<void>
  nextNonce: (account: string) => Promise<number>
  waitFinal: (txHash: string, timeoutMs: number) => Promise<boolean>
  isFinal: (txHash: string) => Promise<boolean>
}

/** The HealthLedger over the state machine's read helpers and the node's mempool. */
export class StateLedger implements HealthLedger {
  readonly chainId: string

  constructor(private readonly options: StateLedgerOptions) {
    this.chainId = options.chainId
  }

  finalizedHead(): FinalizedHead {
    return this.options.finalizedHead()
  }

  async getRecord(recordId: string): Promise<LedgerRecord | undefined> {
    return loadRecord(this.options.state(), recordId)
  }

  getIdentity(key: string): Promise<IdentityRecord | undefined> {
    return loadIdentity(this.options.state(), key)
  }

  async getRecordVersions(recordId: string): Promise<LedgerRecordVersion[]> {
    return loadRecordVersions(this.options.state(), recordId)
  }

  async decideAccess(query: AccessQuery): Promise<AccessDecision> {
    const d = await checkAccess(this.options.state(), query)
    // A denial keeps the nearest consent (expired, revoked) so the audit entry says which one failed.
    return {decision: d.kind, reason: d.reason, consentId: d.consentId}
  }

  async listConsents(filter: {patient?: string; grantee?: string; hospital?: string}): Promise<LedgerConsent[]> {
    const state = this.options.state()
    if (filter.patient !== undefined) return listConsents(state, {patient: filter.patient}, MAX_LIST_LIMIT)
    if (filter.grantee !== undefined) return listConsents(state, {grantee: {kind: "person", key: filter.grantee}}, MAX_LIST_LIMIT)
    if (filter.hospital !== undefined) return listConsents(state, {grantee: {kind: "hospital", hospital: filter.hospital}}, MAX_LIST_LIMIT)
    return []
  }

  listAccessLog(filter: {patient: string} | {recordId: string}, page: {cursor?: string; limit?: number} = {}): Promise<AccessLogPage> {
    return listAccessLog(this.options.state(), filter, {limit: MAX_LIST_LIMIT, ...page})
  }

  async getTrial(trialId: string): Promise<LedgerTrial | undefined> {
    const trial = await getTrial(this.options.state(), trialId)
    if (trial === undefined) return undefined
    return {
      trialId: trial.trialId,
      registrant: trial.registrant,
      hospital: trial.hospital,
      registeredAt: trial.registeredAt,
      protocols: trial.protocols,
      results: trial.resultEntries,
    }
  }

  async hospitalOfKey(key: string): Promise<string | undefined> {
    return (await getHospitalByKey(this.options.state(), key))?.id
  }

  submit(tx: Transaction): Promise<void> {
    return this.options.submit(tx)
  }

  nextNonce(account: string): Promise<number> {
    return this.options.nextNonce(account)
  }

  waitFinal(txHash: string, timeoutMs: number): Promise<boolean> {
    return this.options.waitFinal(txHash, timeoutMs)
  }

  isFinal(txHash: string): Promise<boolean> {
    return this.options.isFinal(txHash)
  }
}
