/**
 * The state key layout. State is one flat, ordered key space (the store keeps it in one LevelDB
 * sublevel); every key is ASCII, so JavaScript string order equals LevelDB byte order, and every
 * component is restricted to characters without "/" (ids, hospital ids, hex), so prefixes ending
 * in "/" never overlap.
 *
 *   meta/chain                               chain id and consensus parameters (from genesis)
 *   nonce/<account>                          next nonce of a sender
 *   ident/<account>                          IdentityRecord
 *   hosp/<hospital>                          HospitalRecord
 *   hospkey/<account>                        hospital id owning a node key
 *   rec/<recordId>                           RecordAnchor (latest version, erased flag)
 *   rec-p/<patient>/<recordId>               index: records by patient (a patient's everything)
 *   recv/<recordId>/<version:7>              RecordVersion (all versions kept)
 *   cons/<consentId>                         ConsentRecord
 *   cons-p/<patient>/<consentId>             index: consents by patient
 *   cons-g/<grantee>/<consentId>             index: consents by grantee ("p.<account>" | "h.<hospital>")
 *   cons-pg/<patient>/<grantee>/<consentId>  index: consents by patient and grantee (access checks)
 *   log/<seq:16>                             AccessLogEntry (seq descends with time: newest first)
 *   log-p/<patient>/<seq:16>                 index: access log by patient
 *   log-r/<recordId>/<seq:16>                index: access log by record
 *   erase/<recordId>                         ErasureRecord
 *   janchor/<hospital>                       JournalAnchorRecord (latest audit.anchor of a hospital)
 *   trial/<trialId>                          TrialHead
 *   trial-v/<trialId>/<n:7>                  TrialProtocolVersion
 *   trial-r/<trialId>/<n:7>                  TrialResultEntry
 *   val/set                                  ordered validator set (hex keys)
 *   val/vote/<action>/<hospital>/<key>       ValidatorProposal (pending)
 */

const pad = (n: number, width: number): string => n.toString().padStart(width, "0")

export const StateKeys = {
  chainMeta: (): string => "meta/chain",
  nonce: (account: string): string => `nonce/${account}`,
  identity: (account: string): string => `ident/${account}`,
  hospital: (id: string): string => `hosp/${id}`,
  hospitalPrefix: (): string => "hosp/",
  hospitalByKey: (account: string): string => `hospkey/${account}`,
  record: (recordId: string): string => `rec/${recordId}`,
  recordByPatient: (patient: string, recordId: string): string => `rec-p/${patient}/${recordId}`,
  recordByPatientPrefix: (patient: string): string => `rec-p/${patient}/`,
  recordVersion: (recordId: string, version: number): string => `recv/${recordId}/${pad(version, 7)}`,
  recordVersionPrefix: (recordId: string): string => `recv/${recordId}/`,
  consent: (consentId: string): string => `cons/${consentId}`,
  consentByPatient: (patient: string, consentId: string): string => `cons-p/${patient}/${consentId}`,
  consentByPatientPrefix: (patient: string): string => `cons-p/${patient}/`,
  consentByGrantee: (grantee: string, consentId: string): string => `cons-g/${grantee}/${consentId}`,
  consentByGranteePrefix: (grantee: string): string => `cons-g/${grantee}/`,
  consentByPatientGrantee: (patient: string, grantee: string, consentId: string): string => `cons-pg/${patient}/${grantee}/${consentId}`,
  consentByPatientGranteePrefix: (patient: string, grantee: string): string => `cons-pg/${patient}/${grantee}/`,
  accessLog: (seq: string): string => `log/${seq}`,
  accessLogByPatient: (patient: string, seq: string): string => `log-p/${patient}/${seq}`,
  accessLogByPatientPrefix: (patient: string): string => `log-p/${patient}/`,
  accessLogByRecord: (recordId: string, seq: string): string => `log-r/${recordId}/${seq}`,
  accessLogByRecordPrefix: (recordId: string): string => `log-r/${recordId}/`,
  erasure: (recordId: string): string => `erase/${recordId}`,
  journalAnchor: (hospital: string): string => `janchor/${hospital}`,
  trial: (trialId: string): string => `trial/${trialId}`,
  trialVersion: (trialId: string, n: number): string => `trial-v/${trialId}/${pad(n, 7)}`,
  trialVersionPrefix: (trialId: string): string => `trial-v/${trialId}/`,
  trialResult: (trialId: string, n: number): string => `trial-r/${trialId}/${pad(n, 7)}`,
  trialResultPrefix: (trialId: string): string => `trial-r/${trialId}/`,
  validatorSet: (): string => "val/set",
  validatorVote: (action: string, hospital: string, key: string): string => `val/vote/${action}/${hospital}/${key}`,
  validatorVotePrefix: (): string => "val/vote/",
} as const

/** Grantee index component: a person by account id, a hospital by id. */
export function granteeKey(grantee: {kind: "person"; key: string} | {kind: "hospital"; hospital: string}): string {
  return grantee.kind === "person" ? `p.${grantee.key}` : `h.${grantee.hospital}`
}

/** Largest tx index in a block plus one; MAX_BLOCK_TXS is below it. */
const SEQ_PER_BLOCK = 10_000
const SEQ_TOP = 9_000_000_000_000_000

/**
 * Access-log sequence of tx `index` at `height`, fixed width and decreasing with time so that an
 * ascending key scan (all a StateReader offers) returns the newest entries first.
 */
export function accessLogSeq(height: number, index: number): string {
  return pad(SEQ_TOP - (height * SEQ_PER_BLOCK + index), 16)
}

/** The last "/"-separated component of a key. */
export function lastComponent(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1)
}
