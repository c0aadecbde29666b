import {decodeOwn, encode, type Encodable} from "../encoding/index.js"
import {fromHex} from "../encoding/bytes.js"
import type {StateReader} from "./types.js"
import type {StateWriter} from "./overlay.js"
import {StateKeys, granteeKey, lastComponent} from "./keys.js"
import type {
  AccessLogEntry,
  ConsentRecord,
  ErasureRecord,
  HospitalRecord,
  IdentityRecord,
  JournalAnchorRecord,
  RecordAnchor,
  RecordVersion,
  TrialHead,
  TrialProtocolVersion,
  TrialResultEntry,
  ValidatorProposal,
} from "./records.js"
import type {ConsensusParams} from "./types.js"

/**
 * Typed repositories over the flat key space: one small get/put pair per stored type, all values
 * canonical CBOR so that every node writes identical bytes (the state root depends on it).
 */

const INDEX_MARK = encode(null)

/** Upper bound of any list read back from state in one call. */
export const MAX_STATE_SCAN = 10_000

function put(writer: StateWriter, key: string, value: object | string | number | readonly string[]): void {
  writer.set(key, encode(value as Encodable))
}

/**
 * Decoded state values by the bytes they came from. The state cache hands out the same bytes
 * object for a key until a block writes it, so an identity or a nonce read by every tx of a sender
 * is decoded once. Values are frozen: every reader shares them.
 */
const decodedValues = new WeakMap<Uint8Array, unknown>()

/** State values were encoded by `put` (on this node or, via the checked state root, identically elsewhere). */
async function getValue<T>(reader: StateReader, key: string): Promise<T | undefined> {
  const bytes = await reader.get(key)
  if (bytes === undefined) return undefined
  let value = decodedValues.get(bytes)
  if (value === undefined) {
    value = deepFreeze(decodeOwn(bytes))
    decodedValues.set(bytes, value)
  }
  return value as T
}

/** Freezes a decoded value and everything in it (byte strings cannot be frozen and are left as they are). */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array || Object.isFrozen(value)) return value
  for (const item of Object.values(value)) deepFreeze(item)
  return Object.freeze(value)
}

// ---- chain metadata ------------------------------------------------------------------------

export interface ChainMeta {
  chainId: string
  consensus: ConsensusParams
}

export function putChainMeta(writer: StateWriter, meta: ChainMeta): void {
  put(writer, StateKeys.chainMeta(), meta)
}

export function loadChainMeta(reader: StateReader): Promise<ChainMeta | undefined> {
  return getValue(reader, StateKeys.chainMeta())
}

// ---- nonces --------------------------------------------------------------------------------

export async function loadNonce(reader: StateReader, account: string): Promise<number> {
  return (await getValue<number>(reader, StateKeys.nonce(account))) ?? 0
}

export function putNonce(writer: StateWriter, account: string, next: number): void {
  put(writer, StateKeys.nonce(account), next)
}

// ---- identities and hospitals --------------------------------------------------------------

export function loadIdentity(reader: StateReader, account: string): Promise<IdentityRecord | undefined> {
  return getValue(reader, StateKeys.identity(account))
}

export function putIdentity(writer: StateWriter, identity: IdentityRecord): void {
  put(writer, StateKeys.identity(identity.id), identity)
}

export function loadHospital(reader: StateReader, id: string): Promise<HospitalRecord | undefined> {
  return getValue(reader, StateKeys.hospital(id))
}

export async function loadHospitalByKey(reader: StateReader, account: string): Promise<HospitalRecord | undefined> {
  const id = await getValue<string>(reader, StateKeys.hospitalByKey(account))
  return id === undefined ? undefined : loadHospital(reader, id)
}

export function putHospital(writer: StateWriter, hospital: HospitalRecord): void {
  put(writer, StateKeys.hospital(hospital.id), hospital)
  put(writer, StateKeys.hospitalByKey(hospital.key), hospital.id)
}

export async function loadHospitals(reader: StateReader): Promise<HospitalRecord[]> {
  const keys = await reader.keys(StateKeys.hospitalPrefix(), MAX_STATE_SCAN)
  const hospitals = await Promise.all(keys.map((key) => getValue<HospitalRecord>(reader, key)))
  return hospitals.filter((h): h is HospitalRecord => h !== undefined)
}

// ---- records -------------------------------------------------------------------------------

export function loadRecord(reader: StateReader, recordId: string): Promise<RecordAnchor | undefined> {
  return getValue(reader, StateKeys.record(recordId))
}

export function putRecord(writer: StateWriter, record: RecordAnchor): void {
  put(writer, StateKeys.record(record.recordId), record)
  writer.set(StateKeys.recordByPatient(record.patient, record.recordId), INDEX_MARK)
}

/** Ids of a patient's records (erased ones included), in id order. */
export async function loadRecordIdsByPatient(reader: StateReader, patient: string, limit: number): Promise<string[]> {
  return (await reader.keys(StateKeys.recordByPatientPrefix(patient), limit)).map(lastComponent)
}

export function putRecordVersion(writer: StateWriter, recordId: string, version: RecordVersion): void {
  put(writer, StateKeys.recordVersion(recordId, version.version), version)
}

export async function loadRecordVersions(reader: StateReader, recordId: string, limit = MAX_STATE_SCAN): Promise<RecordVersion[]> {
  const keys = await reader.keys(StateKeys.recordVersionPrefix(recordId), limit)
  const versions = await Promise.all(keys.map((key) => getValue<RecordVersion>(reader, key)))
  return versions.filter((v): v is RecordVersion => v !== undefined)
}

export function loadErasure(reader: StateReader, recordId: string): Promise<ErasureRecord | undefined> {
  return getValue(reader, StateKeys.erasure(recordId))
}

export function putErasure(writer: StateWriter, erasure: ErasureRecord): void {
  put(writer, StateKeys.erasure(erasure.recordId), erasure)
}

// ---- consents ------------------------------------------------------------------------------

export function loadConsent(reader: StateReader, consentId: string): Promise<ConsentRecord | undefined> {
  return getValue(reader, StateKeys.consent(consentId))
}

/** Writes a consent; `isNew` also writes its three indexes (they never change afterwards). */
export function putConsent(writer: StateWriter, consent: ConsentRecord, isNew: boolean): void {
  put(writer, StateKeys.consent(consent.id), consent)
  if (!isNew) return
  const grantee = granteeKey(consent.grantee)
  writer.set(StateKeys.consentByPatient(consent.patient, consent.id), INDEX_MARK)
  writer.set(StateKeys.consentByGrantee(grantee, consent.id), INDEX_MARK)
  writer.set(StateKeys.consentByPatientGrantee(consent.patient, grantee, consent.id), INDEX_MARK)
}

/** Consents found under an index prefix (the consent id is the last key component). */
export async function loadConsentsByIndex(reader: StateReader, prefix: string, limit: number): Promise<ConsentRecord[]> {
  const keys = await reader.keys(prefix, limit)
  const consents = await Promise.all(keys.map((key) => loadConsent(reader, lastComponent(key))))
  return consents.filter((c): c is ConsentRecord => c !== undefined)
}

// ---- access log ----------------------------------------------------------------------------

export function putAccessLog(writer: StateWriter, seq: string, entry: AccessLogEntry): void {
  put(writer, StateKeys.accessLog(seq), entry)
  writer.set(StateKeys.accessLogByPatient(entry.patient, seq), INDEX_MARK)
  writer.set(StateKeys.accessLogByRecord(entry.recordId, seq), INDEX_MARK)
}

/** Entries under an index prefix, newest first, each with its sequence (the paging cursor), after `afterSeq` when given. */
export async function loadAccessLogByIndex(
  reader: StateReader,
  prefix: string,
  limit: number,
  afterSeq?: string,
): Promise<Array<{seq: string; entry: AccessLogEntry}>> {
  const keys = await reader.keys(prefix, limit, afterSeq === undefined ? undefined : `${prefix}${afterSeq}`)
  const found = await Promise.all(
    keys.map(async (key) => {
      const seq = lastComponent(key)
      return {seq, entry: await getValue<AccessLogEntry>(reader, StateKeys.accessLog(seq))}
    }),
  )
  return found.filter((f): f is {seq: string; entry: AccessLogEntry} => f.entry !== undefined)
}

// ---- interaction journal anchors ----------------------------------------------------------

export function loadJournalAnchor(reader: StateReader, hospital: string): Promise<JournalAnchorRecord | undefined> {
  return getValue(reader, StateKeys.journalAnchor(hospital))
}

export function putJournalAnchor(writer: StateWriter, anchor: JournalAnchorRecord): void {
  put(writer, StateKeys.journalAnchor(anchor.hospital), anchor)
}

// ---- trials --------------------------------------------------------------------------------

export function loadTrialHead(reader: StateReader, trialId: string): Promise<TrialHead | undefined> {
  return getValue(reader, StateKeys.trial(trialId))
}

export function putTrialHead(writer: StateWriter, trial: TrialHead): void {
  put(writer, StateKeys.trial(trial.trialId), trial)
}

export function putTrialVersion(writer: StateWriter, trialId: string, version: TrialProtocolVersion): void {
  put(writer, StateKeys.trialVersion(trialId, version.version), version)
}

export function putTrialResult(writer: StateWriter, trialId: string, n: number, result: TrialResultEntry): void {
  put(writer, StateKeys.trialResult(trialId, n), result)
}

export async function loadTrialVersions(reader: StateReader, trialId: string): Promise<TrialProtocolVersion[]> {
  const keys = await reader.keys(StateKeys.trialVersionPrefix(trialId), MAX_STATE_SCAN)
  const items = await Promise.all(keys.map((key) => getValue<TrialProtocolVersion>(reader, key)))
  return items.filter((v): v is TrialProtocolVersion => v !== undefined)
}

export async function loadTrialResults(reader: StateReader, trialId: string): Promise<TrialResultEntry[]> {
  const keys = await reader.keys(StateKeys.trialResultPrefix(trialId), MAX_STATE_SCAN)
  const items = await Promise.all(keys.map((key) => getValue<TrialResultEntry>(reader, key)))
  return items.filter((v): v is TrialResultEntry => v !== undefined)
}

// ---- validators ----------------------------------------------------------------------------

/** The ordered validator set as hex keys (order defines round-robin proposers). */
export async function loadValidatorSet(reader: StateReader): Promise<string[]> {
  return (await getValue<string[]>(reader, StateKeys.validatorSet())) ?? []
}

export function putValidatorSet(writer: StateWriter, validators: readonly string[]): void {
  put(writer, StateKeys.validatorSet(), validators)
}

export function validatorKeys(validators: readonly string[]): Uint8Array[] {
  return validators.map((hex) => fromHex(hex) as Uint8Array)
}

export function loadProposal(reader: StateReader, action: string, hospital: string, key: string): Promise<ValidatorProposal | undefined> {
  return getValue(reader, StateKeys.validatorVote(action, hospital, key))
}

export function putProposal(writer: StateWriter, proposal: ValidatorProposal): void {
  put(writer, StateKeys.validatorVote(proposal.action, proposal.hospital, proposal.key), proposal)
}

export function deleteProposal(writer: StateWriter, proposal: ValidatorProposal): void {
  writer.delete(StateKeys.validatorVote(proposal.action, proposal.hospital, proposal.key))
}

export async function loadProposals(reader: StateReader): Promise<ValidatorProposal[]> {
  const keys = await reader.keys(StateKeys.validatorVotePrefix(), MAX_STATE_SCAN)
  const items = await Promise.all(keys.map((key) => getValue<ValidatorProposal>(reader, key)))
  return items.filter((v): v is ValidatorProposal => v !== undefined)
}
