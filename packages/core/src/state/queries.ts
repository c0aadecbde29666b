import {accountId} from "../crypto/keys.js"
import type {StateReader} from "./types.js"
import {StateKeys, granteeKey} from "./keys.js"
import type {AccessLogEntry, ConsentRecord, ErasureRecord, HospitalRecord, IdentityRecord, JournalAnchorRecord, RecordAnchor, RecordVersion, TrialRecord, ValidatorProposal} from "./records.js"
import {
  MAX_STATE_SCAN,
  loadAccessLogByIndex,
  loadChainMeta,
  loadConsent,
  loadConsentsByIndex,
  loadErasure,
  loadHospital,
  loadHospitalByKey,
  loadHospitals,
  loadIdentity,
  loadJournalAnchor,
  loadNonce,
  loadProposals,
  loadRecord,
  loadRecordVersions,
  loadRecordIdsByPatient,
  loadTrialHead,
  loadTrialResults,
  loadTrialVersions,
  loadValidatorSet,
  validatorKeys,
  type ChainMeta,
} from "./repository.js"

/** Read helpers for the node and the RPC layer; each reads one consistent StateReader. */

type Account = Uint8Array | string

const account = (who: Account): string => (typeof who === "string" ? who.toLowerCase() : accountId(who))

/** Default and maximum page size of list queries. */
export const DEFAULT_LIST_LIMIT = 100
export const MAX_LIST_LIMIT = 1000

const clampLimit = (limit: number | undefined): number =>
  Math.max(1, Math.min(MAX_LIST_LIMIT, Number.isSafeInteger(limit) ? (limit as number) : DEFAULT_LIST_LIMIT))

/** The ordered validator set in force for the next block. */
export async function getValidators(state: StateReader): Promise<Uint8Array[]> {
  return validatorKeys(await loadValidatorSet(state))
}

export function getChainMeta(state: StateReader): Promise<ChainMeta | undefined> {
  return loadChainMeta(state)
}

export function getHospital(state: StateReader, id: string): Promise<HospitalRecord | undefined> {
  return loadHospital(state, id)
}

export function getHospitalByKey(state: StateReader, key: Account): Promise<HospitalRecord | undefined> {
  return loadHospitalByKey(state, account(key))
}

export function listHospitals(state: StateReader): Promise<HospitalRecord[]> {
  return loadHospitals(state)
}

export function getIdentity(state: StateReader, key: Account): Promise<IdentityRecord | undefined> {
  return loadIdentity(state, account(key))
}

/** The nonce the account's next transaction must carry. */
export function getNextNonce(state: StateReader, key: Account): Promise<number> {
  return loadNonce(state, account(key))
}

export interface RecordWithVersions extends RecordAnchor {
  /** Every anchored version, oldest first. */
  versions: RecordVersion[]
  erasure: ErasureRecord | null
}

export async function getRecord(state: StateReader, recordId: string): Promise<RecordWithVersions | undefined> {
  const record = await loadRecord(state, recordId)
  if (record === undefined) return undefined
  const [versions, erasure] = await Promise.all([loadRecordVersions(state, recordId), loadErasure(state, recordId)])
  return {...record, versions, erasure: erasure ?? null}
}

export type ConsentQuery = {patient: Account} | {grantee: {kind: "person"; key: Account} | {kind: "hospital"; hospital: string}}

/** Consents of a patient, or to a grantee, in consent-id order. */
export function listConsents(state: StateReader, query: ConsentQuery, limit?: number): Promise<ConsentRecord[]> {
  const prefix =
    "patient" in query
      ? StateKeys.consentByPatientPrefix(account(query.patient))
      : StateKeys.consentByGranteePrefix(
          granteeKey(query.grantee.kind === "person" ? {kind: "person", key: account(query.grantee.key)} : query.grantee),
        )
  return loadConsentsByIndex(state, prefix, clampLimit(limit))
}

export function getConsent(state: StateReader, consentId: string): Promise<ConsentRecord | undefined> {
  return loadConsent(state, consentId.toLowerCase())
}

/** Ids of a patient's records at every hospital (erased ones included), in id order, at most MAX_STATE_SCAN. */
export function listRecordIdsOfPatient(state: StateReader, patient: Account): Promise<string[]> {
  return loadRecordIdsByPatient(state, account(patient), MAX_STATE_SCAN)
}

export type AccessLogQuery = {patient: Account} | {recordId: string}

export interface AccessLogPage {
  /** Newest first. */
  entries: AccessLogEntry[]
  /** Pass as `cursor` to get the next (older) page; null when this page reached the oldest entry. */
  next: string | null
}

/** A cursor is the fixed-width sequence of the last entry of the previous page. */
export const ACCESS_LOG_CURSOR = /^[0-9]{16}$/

/**
 * One page of a patient's or a record's trail, newest first. Pages never skip or repeat an entry, so
 * following `next` to null yields the whole trail (an accounting of disclosures has no cap).
 */
export async function listAccessLog(state: StateReader, query: AccessLogQuery, page: {limit?: number; cursor?: string} = {}): Promise<AccessLogPage> {
  const prefix = "patient" in query ? StateKeys.accessLogByPatientPrefix(account(query.patient)) : StateKeys.accessLogByRecordPrefix(query.recordId)
  if (page.cursor !== undefined && !ACCESS_LOG_CURSOR.test(page.cursor)) throw new TypeError("cursor must be the 16-digit sequence a previous page returned")
  const limit = clampLimit(page.limit)
  // One more than asked tells whether an older page exists.
  const found = await loadAccessLogByIndex(state, prefix, limit + 1, page.cursor)
  const shown = found.slice(0, limit)
  return {entries: shown.map((f) => f.entry), next: found.length > limit ? shown[shown.length - 1]!.seq : null}
}

export async function getTrial(state: StateReader, trialId: string): Promise<TrialRecord | undefined> {
  const head = await loadTrialHead(state, trialId)
  if (head === undefined) return undefined
  const [protocols, resultEntries] = await Promise.all([loadTrialVersions(state, trialId), loadTrialResults(state, trialId)])
  return {...head, protocols, resultEntries}
}

/** The latest finalized anchor of a hospital's interaction journal, if it ever anchored one. */
export function getJournalAnchor(state: StateReader, hospital: string): Promise<JournalAnchorRecord | undefined> {
  return loadJournalAnchor(state, hospital)
}

/** Pending validator-set proposals with their voters. */
export function listValidatorProposals(state: StateReader): Promise<ValidatorProposal[]> {
  return loadProposals(state)
}

export {MAX_STATE_SCAN}
