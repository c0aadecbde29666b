/** Over 400 lines as one file because it is one table: the state checks and effects of each transaction type, one entry per type. */
import {toHex} from "../encoding/bytes.js"
import {accountId} from "../crypto/keys.js"
import type {Transaction} from "../tx/transaction.js"
import {TxError, TxErrorCode} from "../tx/errors.js"
import {MAX_RECORD_VERSION} from "../tx/payload.js"
import {AccessDecisionKind, Role, TxType, type PayloadByType} from "../tx/types.js"
import {checkLoggedDecision, checkPersonGrantee} from "./grants.js"
import type {StateReader} from "./types.js"
import type {StateWriter} from "./overlay.js"
import {accessLogSeq} from "./keys.js"
import type {HospitalRecord, IdentityRecord, ValidatorProposal} from "./records.js"
import {
  deleteProposal,
  loadConsent,
  loadHospital,
  loadHospitalByKey,
  loadIdentity,
  loadJournalAnchor,
  loadNonce,
  loadProposal,
  loadRecord,
  loadTrialHead,
  loadValidatorSet,
  putAccessLog,
  putConsent,
  putErasure,
  putHospital,
  putIdentity,
  putJournalAnchor,
  putNonce,
  putProposal,
  putRecord,
  putRecordVersion,
  putTrialHead,
  putTrialResult,
  putTrialVersion,
  putValidatorSet,
} from "./repository.js"

/** What a transaction is judged against: the chain and the block it would be in. */
export interface CheckContext {
  chainId: string
  /** Height of the block the transaction would be included in. */
  height: number
  /** That block's timestamp (unix ms). */
  timestamp: number
  /**
   * The nonce the sender's next transaction must carry when it differs from state, e.g. the
   * mempool's pending nonce for a sender with queued transactions. Nonces below the state's next
   * nonce are replays whatever this says.
   */
  expectedNonce?: number
}

/** Who signed a transaction: a hospital's node key or an enrolled identity. */
export type TxSender =
  | {kind: "hospital"; account: string; hospital: HospitalRecord}
  | {kind: "identity"; account: string; identity: IdentityRecord}

/** Position of a transaction in its block (orders the access log). */
export interface TxPosition {
  index: number
}

/** Writes a checked transaction's effects; runs only after every check passed. */
type Effect = (writer: StateWriter, position: TxPosition) => void

interface TxEnv<T extends TxType> {
  tx: Transaction<T>
  payload: PayloadByType[T]
  sender: TxSender
  ctx: CheckContext
  hash: string
}

type Handler<T extends TxType> = (reader: StateReader, env: TxEnv<T>) => Promise<Effect>

/**
 * Checks everything that makes `tx` invalid against `reader`'s state (chain id, nonce, sender,
 * authorisation, references, version chains); throws a TxError with a specific code. The
 * signature is not checked here (see validateTx): it is stateless and the costly part.
 */
export async function checkTx(reader: StateReader, tx: Transaction, ctx: CheckContext): Promise<void> {
  await prepareTx(reader, tx, ctx)
}

/**
 * Checks `tx` and returns the function that applies it (its effects plus the sender's nonce).
 * Nothing is written unless the caller runs the effect, so a failed check changes nothing.
 */
export async function prepareTx(reader: StateReader, tx: Transaction, ctx: CheckContext): Promise<Effect> {
  if (tx.chainId !== ctx.chainId) {
    throw new TxError(TxErrorCode.WRONG_CHAIN, `transaction is for chain ${JSON.stringify(tx.chainId)}, not ${JSON.stringify(ctx.chainId)}`)
  }
  const account = tx.senderId
  const stateNonce = await loadNonce(reader, account)
  const expected = Math.max(stateNonce, ctx.expectedNonce ?? stateNonce)
  if (tx.nonce < stateNonce) {
    throw new TxError(TxErrorCode.NONCE_REPLAYED, `nonce ${tx.nonce} of ${account} was already used (next is ${stateNonce})`, {
      nonce: tx.nonce,
      expected: stateNonce,
    })
  }
  if (tx.nonce !== expected) {
    const code = tx.nonce > expected ? TxErrorCode.NONCE_GAP : TxErrorCode.NONCE_REPLAYED
    throw new TxError(code, `nonce ${tx.nonce} of ${account} is not the next one (${expected})`, {nonce: tx.nonce, expected})
  }
  const sender = await resolveSender(reader, account)
  const handler = HANDLERS[tx.type] as Handler<TxType>
  const effect = await handler(reader, {tx, payload: tx.payload, sender, ctx, hash: tx.hashHex()})
  return (writer, position) => {
    effect(writer, position)
    putNonce(writer, account, tx.nonce + 1)
  }
}

async function resolveSender(reader: StateReader, account: string): Promise<TxSender> {
  const hospital = await loadHospitalByKey(reader, account)
  if (hospital !== undefined) return {kind: "hospital", account, hospital}
  const identity = await loadIdentity(reader, account)
  if (identity === undefined) throw new TxError(TxErrorCode.UNKNOWN_SENDER, `sender ${account} is neither a hospital nor an enrolled identity`)
  if (identity.revoked) throw new TxError(TxErrorCode.SENDER_REVOKED, `sender ${account} was revoked at height ${identity.revokedAt}`)
  return {kind: "identity", account, identity}
}

function fail(code: TxErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new TxError(code, message, details)
}

function requireHospital(sender: TxSender, what: string): HospitalRecord {
  if (sender.kind !== "hospital") fail(TxErrorCode.UNAUTHORIZED, `only a hospital node key may ${what}`)
  return sender.hospital
}

function requireRole(sender: TxSender, roles: readonly Role[], what: string): IdentityRecord {
  if (sender.kind !== "identity" || !roles.includes(sender.identity.role)) {
    fail(TxErrorCode.UNAUTHORIZED, `only an enrolled ${roles.join(" or ")} may ${what}`)
  }
  return sender.identity
}

const HANDLERS: {[T in TxType]: Handler<T>} = {
  [TxType.IdentityRegister]: async (reader, {payload, sender, ctx}) => {
    const hospital = requireHospital(sender, "enrol identities")
    const account = accountId(payload.key)
    if ((await loadHospitalByKey(reader, account)) !== undefined) fail(TxErrorCode.CONFLICT, `${account} is a hospital node key`)
    const existing = await loadIdentity(reader, account)
    if (existing !== undefined) {
      fail(TxErrorCode.CONFLICT, existing.revoked ? `${account} was revoked and cannot be enrolled again` : `${account} is already enrolled`)
    }
    let patient: string | null = null
    if (payload.patient !== undefined) {
      patient = accountId(payload.patient)
      const linked = await loadIdentity(reader, patient)
      if (linked === undefined || linked.role !== Role.Patient) fail(TxErrorCode.NOT_FOUND, `a proxy's patient ${patient} is not an enrolled patient`)
      if (linked.revoked) fail(TxErrorCode.CONFLICT, `patient ${patient} is revoked`)
    }
    return (writer) =>
      putIdentity(writer, {id: account, role: payload.role, hospital: hospital.id, patient, revoked: false, registeredAt: ctx.height, revokedAt: null})
  },

  [TxType.IdentityRevoke]: async (reader, {payload, sender, ctx}) => {
    const hospital = requireHospital(sender, "revoke identities")
    const account = accountId(payload.key)
    const identity = await loadIdentity(reader, account)
    if (identity === undefined) fail(TxErrorCode.NOT_FOUND, `${account} is not enrolled`)
    if (identity.hospital !== hospital.id) fail(TxErrorCode.UNAUTHORIZED, `${account} was enrolled by ${identity.hospital}, not ${hospital.id}`)
    if (identity.revoked) fail(TxErrorCode.CONFLICT, `${account} is already revoked`)
    return (writer) => putIdentity(writer, {...identity, revoked: true, revokedAt: ctx.height})
  },

  [TxType.RecordAnchor]: async (reader, {payload, sender, ctx, hash}) => {
    const author = requireRole(sender, [Role.Provider, Role.Lab], "anchor records")
    if (author.hospital !== payload.custodian) {
      fail(TxErrorCode.UNAUTHORIZED, `a ${author.role} of ${author.hospital} cannot anchor records of ${payload.custodian}`)
    }
    const patient = accountId(payload.patient)
    const patientIdentity = await loadIdentity(reader, patient)
    if (patientIdentity === undefined || patientIdentity.role !== Role.Patient) fail(TxErrorCode.NOT_FOUND, `${patient} is not an enrolled patient`)
    if (patientIdentity.revoked) fail(TxErrorCode.CONFLICT, `patient ${patient} is revoked`)
    const contentHash = toHex(payload.contentHash)
    const previous = payload.previous === null ? null : toHex(payload.previous)
    const existing = await loadRecord(reader, payload.recordId)
    if (existing === undefined) {
      if (payload.version !== 1) fail(TxErrorCode.CONFLICT, `record ${payload.recordId} does not exist: its first version is 1`)
    } else {
      if (existing.erased) fail(TxErrorCode.CONFLICT, `record ${payload.recordId} was erased`)
      if (existing.patient !== patient || existing.resourceType !== payload.resourceType || existing.custodian !== payload.custodian) {
        fail(TxErrorCode.CONFLICT, `record ${payload.recordId} belongs to another patient, type or custodian`)
      }
      if (payload.version !== existing.version + 1) {
        fail(TxErrorCode.CONFLICT, `record ${payload.recordId} is at version ${existing.version}; the next is ${existing.version + 1}`, {
          version: existing.version,
        })
      }
      if (previous !== existing.contentHash) fail(TxErrorCode.CONFLICT, `previous does not match version ${existing.version} of ${payload.recordId}`)
    }
    return (writer) => {
      putRecord(writer, {
        recordId: payload.recordId,
        patient,
        resourceType: payload.resourceType,
        custodian: payload.custodian,
        version: payload.version,
        contentHash,
        createdAt: existing?.createdAt ?? ctx.height,
        updatedAt: ctx.height,
        erased: false,
        erasedAt: null,
      })
      putRecordVersion(writer, payload.recordId, {
        version: payload.version,
        contentHash,
        previous,
        anchoredBy: author.id,
        height: ctx.height,
        txHash: hash,
      })
    }
  },

  [TxType.ConsentGrant]: async (reader, {payload, sender, ctx, hash}) => {
    const patient = requireRole(sender, [Role.Patient], "grant consent")
    if (payload.expiresAt <= ctx.timestamp) {
      fail(TxErrorCode.BAD_PAYLOAD, `expiresAt: ${payload.expiresAt} is not after the block time ${ctx.timestamp}`, {field: "expiresAt"})
    }
    const grantee =
      payload.grantee.kind === "person"
        ? ({kind: "person", key: accountId(payload.grantee.key)} as const)
        : ({kind: "hospital", hospital: payload.grantee.hospital} as const)
    if (grantee.kind === "person") {
      checkPersonGrantee(await loadIdentity(reader, grantee.key), grantee.key, patient.id, payload.purposes)
    } else if ((await loadHospital(reader, grantee.hospital)) === undefined) {
      fail(TxErrorCode.NOT_FOUND, `grantee hospital ${grantee.hospital} does not exist`)
    }
    if (payload.scope.kind === "records") {
      for (const recordId of payload.scope.recordIds) {
        const record = await loadRecord(reader, recordId)
        if (record === undefined) fail(TxErrorCode.NOT_FOUND, `record ${recordId} does not exist`)
        if (record.patient !== patient.id) fail(TxErrorCode.UNAUTHORIZED, `record ${recordId} is another patient's`)
      }
    }
    const scope =
      payload.scope.kind === "records"
        ? {kind: "records" as const, recordIds: [...payload.scope.recordIds]}
        : {kind: "resource-types" as const, resourceTypes: [...payload.scope.resourceTypes]}
    return (writer) =>
      putConsent(
        writer,
        {
          id: hash,
          patient: patient.id,
          grantee,
          scope,
          purposes: [...payload.purposes],
          expiresAt: payload.expiresAt,
          grantedAt: ctx.height,
          revoked: false,
          revokedAt: null,
        },
        true,
      )
  },

  [TxType.ConsentRevoke]: async (reader, {payload, sender, ctx}) => {
    const patient = requireRole(sender, [Role.Patient], "revoke consent")
    const consent = await loadConsent(reader, payload.consentId)
    if (consent === undefined) fail(TxErrorCode.NOT_FOUND, `consent ${payload.consentId} does not exist`)
    if (consent.patient !== patient.id) fail(TxErrorCode.UNAUTHORIZED, `consent ${payload.consentId} is another patient's`)
    if (consent.revoked) fail(TxErrorCode.CONFLICT, `consent ${payload.consentId} is already revoked`)
    return (writer) => putConsent(writer, {...consent, revoked: true, revokedAt: ctx.height}, false)
  },

  [TxType.AccessLog]: async (reader, {payload, sender, ctx, hash}) => {
    const hospital = requireHospital(sender, "write the access log")
    const record = await loadRecord(reader, payload.recordId)
    if (record === undefined) fail(TxErrorCode.NOT_FOUND, `record ${payload.recordId} does not exist`)
    if (record.custodian !== hospital.id) fail(TxErrorCode.UNAUTHORIZED, `only the custodian ${record.custodian} logs access to ${payload.recordId}`)
    if ((await loadHospital(reader, payload.via)) === undefined) fail(TxErrorCode.NOT_FOUND, `hospital ${payload.via} does not exist`)
    await checkLoggedDecision(reader, payload, ctx)
    return (writer, position) =>
      putAccessLog(writer, accessLogSeq(ctx.height, position.index), {
        txHash: hash,
        recordId: payload.recordId,
        patient: record.patient,
        reader: accountId(payload.reader),
        purpose: payload.purpose,
        decision: payload.decision,
        reason: payload.reason,
        consentId: payload.consentId,
        at: payload.at,
        via: payload.via,
        loggedBy: sender.account,
        height: ctx.height,
        note: payload.breakGlassReason,
      })
  },

  [TxType.RecordErase]: async (reader, {payload, sender, ctx, hash}) => {
    const record = await loadRecord(reader, payload.recordId)
    if (record === undefined) fail(TxErrorCode.NOT_FOUND, `record ${payload.recordId} does not exist`)
    const byPatient = sender.kind === "identity" && sender.account === record.patient
    const byCustodian = sender.kind === "hospital" && sender.hospital.id === record.custodian
    if (!byPatient && !byCustodian) fail(TxErrorCode.UNAUTHORIZED, `only the patient or the custodian may erase ${payload.recordId}`)
    if (byCustodian && payload.legalBasis === null) {
      fail(TxErrorCode.UNAUTHORIZED, `the custodian may erase ${payload.recordId} only under a stated legal basis`)
    }
    if (record.erased) fail(TxErrorCode.CONFLICT, `record ${payload.recordId} is already erased`)
    return (writer, position) => {
      putRecord(writer, {...record, erased: true, erasedAt: ctx.height, updatedAt: ctx.height})
      putErasure(writer, {recordId: payload.recordId, erasedBy: sender.account, legalBasis: payload.legalBasis, height: ctx.height, txHash: hash})
      // The erasure is part of the patient's trail, next to the reads it ends.
      putAccessLog(writer, accessLogSeq(ctx.height, position.index), {
        txHash: hash,
        recordId: payload.recordId,
        patient: record.patient,
        reader: sender.account,
        purpose: null,
        decision: AccessDecisionKind.Erase,
        reason: byPatient ? "PATIENT_REQUEST" : "CUSTODIAN_LEGAL_BASIS",
        consentId: null,
        at: ctx.timestamp,
        via: record.custodian,
        loggedBy: sender.account,
        height: ctx.height,
        note: payload.legalBasis,
      })
    }
  },

  [TxType.TrialRegister]: async (reader, {payload, sender, ctx, hash}) => {
    const researcher = requireRole(sender, [Role.Researcher], "register trials")
    if ((await loadTrialHead(reader, payload.trialId)) !== undefined) fail(TxErrorCode.CONFLICT, `trial ${payload.trialId} is already registered`)
    return (writer) => {
      putTrialHead(writer, {
        trialId: payload.trialId,
        registrant: researcher.id,
        hospital: researcher.hospital,
        registeredAt: ctx.height,
        protocolVersions: 1,
        results: 0,
      })
      putTrialVersion(writer, payload.trialId, {version: 1, protocolHash: toHex(payload.protocolHash), height: ctx.height, txHash: hash})
    }
  },

  [TxType.TrialAmend]: async (reader, {payload, sender, ctx, hash}) => {
    const researcher = requireRole(sender, [Role.Researcher], "amend trials")
    const trial = await loadTrialHead(reader, payload.trialId)
    if (trial === undefined) fail(TxErrorCode.NOT_FOUND, `trial ${payload.trialId} is not registered`)
    if (trial.registrant !== researcher.id) fail(TxErrorCode.UNAUTHORIZED, `only the registrant may amend trial ${payload.trialId}`)
    if (trial.protocolVersions >= MAX_RECORD_VERSION) fail(TxErrorCode.CONFLICT, `trial ${payload.trialId} has too many amendments`)
    const version = trial.protocolVersions + 1
    return (writer) => {
      putTrialHead(writer, {...trial, protocolVersions: version})
      putTrialVersion(writer, payload.trialId, {version, protocolHash: toHex(payload.protocolHash), height: ctx.height, txHash: hash})
    }
  },

  [TxType.TrialResult]: async (reader, {payload, sender, ctx, hash}) => {
    const researcher = requireRole(sender, [Role.Researcher], "report trial results")
    const trial = await loadTrialHead(reader, payload.trialId)
    if (trial === undefined) fail(TxErrorCode.NOT_FOUND, `trial ${payload.trialId} is not registered`)
    if (trial.registrant !== researcher.id) fail(TxErrorCode.UNAUTHORIZED, `only the registrant may report results of ${payload.trialId}`)
    if (trial.results >= MAX_RECORD_VERSION) fail(TxErrorCode.CONFLICT, `trial ${payload.trialId} has too many results`)
    const n = trial.results + 1
    return (writer) => {
      putTrialHead(writer, {...trial, results: n})
      putTrialResult(writer, payload.trialId, n, {
        resultsHash: toHex(payload.resultsHash),
        datasetHash: payload.datasetHash === null ? null : toHex(payload.datasetHash),
        height: ctx.height,
        txHash: hash,
      })
    }
  },

  [TxType.AuditAnchor]: async (reader, {payload, sender, ctx, hash}) => {
    // Hospitals are never revoked: one removed from the validator set keeps its record and still serves its patients.
    const hospital = requireHospital(sender, "anchor an interaction journal")
    const previous = await loadJournalAnchor(reader, hospital.id)
    if (previous !== undefined && payload.sequence <= previous.sequence) {
      fail(TxErrorCode.CONFLICT, `the journal of ${hospital.id} is anchored at ${previous.sequence}; an anchor must name a later entry`, {
        sequence: previous.sequence,
      })
    }
    return (writer) =>
      putJournalAnchor(writer, {hospital: hospital.id, sequence: payload.sequence, head: toHex(payload.head), height: ctx.height, at: ctx.timestamp, txHash: hash})
  },

  [TxType.ValidatorVote]: async (reader, {payload, sender, ctx}) => {
    const validators = await loadValidatorSet(reader)
    if (sender.kind !== "hospital" || !validators.includes(sender.account)) {
      fail(TxErrorCode.UNAUTHORIZED, "only a current validator may vote")
    }
    const key = accountId(payload.key)
    if (payload.action === "withdraw-add" || payload.action === "withdraw-remove") {
      // A voter takes back its vote on a pending proposal; the proposal goes when no vote is left.
      const action = payload.action === "withdraw-add" ? "add" : "remove"
      const pending = await loadProposal(reader, action, payload.hospital, key)
      if (pending === undefined || !pending.voters.includes(sender.account)) {
        fail(TxErrorCode.NOT_FOUND, `${sender.account} has no pending vote to ${action} ${payload.hospital}`)
      }
      const proposal = pending as ValidatorProposal
      return (writer) => {
        const voters = proposal.voters.filter((v) => v !== sender.account && validators.includes(v))
        if (voters.length === 0) deleteProposal(writer, proposal)
        else putProposal(writer, {...proposal, voters})
      }
    }
    const existing = await loadHospital(reader, payload.hospital)
    if (payload.action === "add") {
      if (payload.name === "") fail(TxErrorCode.BAD_PAYLOAD, "name: a hospital being added needs a name", {field: "name"})
      if (validators.includes(key)) fail(TxErrorCode.CONFLICT, `${key} is already a validator`)
      if (existing !== undefined && existing.key !== key) fail(TxErrorCode.CONFLICT, `hospital ${payload.hospital} has another node key`)
      const owner = await loadHospitalByKey(reader, key)
      if (owner !== undefined && owner.id !== payload.hospital) fail(TxErrorCode.CONFLICT, `${key} is the node key of ${owner.id}`)
      if ((await loadIdentity(reader, key)) !== undefined) fail(TxErrorCode.CONFLICT, `${key} is an enrolled identity`)
    } else {
      if (existing === undefined) fail(TxErrorCode.NOT_FOUND, `hospital ${payload.hospital} does not exist`)
      if (existing.key !== key) fail(TxErrorCode.CONFLICT, `${key} is not the node key of ${payload.hospital}`)
      if (!validators.includes(key)) fail(TxErrorCode.CONFLICT, `${payload.hospital} is not a validator`)
      if (validators.length <= 1) fail(TxErrorCode.CONFLICT, "the last validator cannot be removed")
    }
    const proposal: ValidatorProposal = (await loadProposal(reader, payload.action, payload.hospital, key)) ?? {
      action: payload.action,
      hospital: payload.hospital,
      key,
      name: payload.name,
      voters: [],
    }
    if (payload.action === "add" && proposal.name !== payload.name) {
      fail(TxErrorCode.CONFLICT, `the pending proposal to add ${payload.hospital} names it ${JSON.stringify(proposal.name)}`)
    }
    if (proposal.voters.includes(sender.account)) fail(TxErrorCode.CONFLICT, `${sender.account} already voted for this proposal`)
    return (writer) => {
      const {voters, passes} = tallyValidatorVote(proposal.voters, validators, sender.account)
      if (!passes) {
        putProposal(writer, {...proposal, voters})
        return
      }
      deleteProposal(writer, proposal)
      if (payload.action === "add") {
        putValidatorSet(writer, [...validators, key])
        putHospital(writer, {id: payload.hospital, name: payload.name, key, validator: true, joinedAt: existing?.joinedAt ?? ctx.height})
      } else {
        putValidatorSet(
          writer,
          validators.filter((v) => v !== key),
        )
        putHospital(writer, {...(existing as HospitalRecord), validator: false})
      }
    }
  },
}

/**
 * Adds `voter` to a validator-set proposal's voters: votes of validators that have since left the
 * set no longer count, and the proposal passes when more than half of the current set voted for it.
 */
export function tallyValidatorVote(voters: readonly string[], validators: readonly string[], voter: string): {voters: string[]; passes: boolean} {
  const counted = [...voters.filter((v) => validators.includes(v) && v !== voter), voter]
  return {voters: counted, passes: counted.length * 2 > validators.length}
}
