/**
 * The health access service of one hospital node: stores records its providers anchor, decides
 * and logs every read from finalized consent state, fetches records held by other hospitals and
 * checks them against the chain, erases on a finalized `record.erase`, and answers verification,
 * history, audit, consent and trial questions.
 */
import {
  AccessDecisionKind,
  PrivateKey,
  Purpose,
  Transaction,
  TxType,
  bytesEqual,
  decode,
  encode,
  fromHex,
  isCareLedgerError,
  toHex,
  type Block,
} from "@careledger/core"
import {
  canonicalResourceBytes,
  contentHash,
  documentHash,
  encodeReadRequest,
  type AuditEntryJson,
  type ConsentCheckResult,
  type ConsentJson,
  type FhirResource,
  type ReadRequest,
  type RecordGetResult,
  type RecordHistoryResult,
  type RecordPutResult,
  type RecordVerifyResult,
  type TrialVerifyResult,
} from "@careledger/client"
import type {JsonValue} from "@careledger/client"
import {validateFhirResource, MAX_RESOURCE_BYTES} from "./fhir.js"
import type {Vault} from "./vault.js"
import {RequestVerifier, auditRequestFromJson, decodeReadRequest, readRequestFromJson} from "./request.js"
import {HealthError, HealthErrorCode} from "./errors.js"
import {decodeExchangeResponse, encodeExchangeResponse, type ExchangeResponse} from "./exchange.js"
import {accessEntryToFhir, exportBundle, exportContext} from "./export.js"
import type {HealthLedger, LedgerAccessEntry, LedgerConsent, LedgerRecord, RecordExchangeClient} from "./ledger.js"

export interface HealthServiceOptions {
  /** This node's hospital id. */
  hospital: string
  /** Freshness window of signed requests (default 5 minutes). */
  requestFreshnessMs?: number
  /** How long `wait: true` calls wait for finality (default 30 s). */
  finalityTimeoutMs?: number
}

export interface HealthLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface HealthServiceDeps {
  ledger: HealthLedger
  vault: Vault
  /** The node key: signs access logs (it is the hospital's identity on chain). */
  nodeKey: PrivateKey
  exchange?: RecordExchangeClient
  logger?: HealthLogger
  now?: () => number
  /** Checks a SMART client assertion forwarded by another hospital's FHIR endpoint (see docs/fhir.md). */
  verifyForwardedAssertion?: (jwt: string) => ReaderGrant
}

/** Who reads, why, and whether as break-glass: from a signed read request or a verified SMART assertion. */
export interface ReaderGrant {
  reader: Uint8Array
  purpose: Purpose
  breakGlass: boolean
}

/** Tag of the record-exchange request that carries a SMART client assertion instead of a read request. */
const ASSERTION_READ_TAG = "smart-read/v1"

type Submitted = {hash: string; final: boolean}

const PURPOSES = new Set<string>(Object.values(Purpose))
const ANCHOR_CATCH_UP_TRIES = 25
const ANCHOR_CATCH_UP_MS = 200
/** A forwarded SMART read: tag, assertion (at most 4 KiB), record id, version. */
const MAX_EXCHANGE_REQUEST_BYTES = 8192

function jsonDecision(kind: AccessDecisionKind): "release" | "deny" | "break-glass" {
  return kind
}

function consentJson(c: LedgerConsent, now: number): ConsentJson {
  return {
    consentId: c.id,
    patient: c.patient,
    grantee: c.grantee,
    scope: c.scope,
    purposes: c.purposes,
    expiresAt: c.expiresAt,
    revoked: c.revoked,
    active: !c.revoked && c.expiresAt > now,
  }
}

function auditJson(e: LedgerAccessEntry): AuditEntryJson {
  return {
    recordId: e.recordId,
    reader: e.reader,
    purpose: e.purpose,
    decision: jsonDecision(e.decision),
    reason: e.reason,
    consentId: e.consentId,
    at: e.at,
    via: e.via,
    loggedBy: e.loggedBy,
    txHash: e.txHash,
  }
}

function parseResourceBytes(bytes: Uint8Array): FhirResource {
  return JSON.parse(new TextDecoder().decode(bytes)) as FhirResource
}

export class HealthService {
  readonly hospital: string
  private readonly verifier: RequestVerifier
  private readonly finalityTimeoutMs: number
  private readonly now: () => number
  /** Serialises the node key's transactions so each gets the next nonce exactly once. */
  private nodeTxQueue: Promise<unknown> = Promise.resolve()
  private started = false

  constructor(
    options: HealthServiceOptions,
    private readonly deps: HealthServiceDeps,
  ) {
    this.hospital = options.hospital
    this.now = deps.now ?? Date.now
    this.finalityTimeoutMs = options.finalityTimeoutMs ?? 30_000
    this.verifier = new RequestVerifier({chainId: deps.ledger.chainId, freshnessMs: options.requestFreshnessMs, now: this.now})
  }

  /** Starts the vault and drops anything the chain says was erased while this node was down. */
  async start(): Promise<void> {
    if (this.started) return
    await this.deps.vault.start()
    this.started = true
    for (const recordId of await this.deps.vault.recordIds()) {
      const record = await this.deps.ledger.getRecord(recordId)
      if (record?.erased === true) await this.deps.vault.erase(recordId)
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.nodeTxQueue.catch(() => undefined)
    await this.deps.vault.stop()
  }

  // ------------------------------------------------------------------------------------------
  // Transactions

  private decodeTx<T extends TxType>(hex: string, type: T): Transaction<T> {
    const bytes = fromHex(hex)
    if (bytes === undefined) throw new HealthError(HealthErrorCode.BAD_PARAMS, "tx must be hex")
    const tx = Transaction.decode(bytes)
    if (tx.type !== type) throw new HealthError(HealthErrorCode.WRONG_TX_TYPE, `expected a ${type} transaction, got ${tx.type}`, {type: tx.type})
    return tx as Transaction<T>
  }

  private async submitAndMaybeWait(tx: Transaction, wait: boolean): Promise<Submitted> {
    await this.deps.ledger.submit(tx)
    const hash = tx.hashHex()
    if (!wait) return {hash, final: false}
    const final = await this.deps.ledger.waitFinal(hash, this.finalityTimeoutMs)
    if (!final) throw new HealthError(HealthErrorCode.NOT_FINAL, `transaction ${hash} was not final within ${this.finalityTimeoutMs} ms`, {hash})
    return {hash, final}
  }

  /** Signs and submits a transaction with the node key (access logs, custodian erasures). */
  private submitAsNode<T extends TxType>(type: T, payload: Transaction<T>["payload"]): Promise<Transaction<T>> {
    const run = async (): Promise<Transaction<T>> => {
      const nonce = await this.deps.ledger.nextNonce(this.deps.nodeKey.id)
      const tx = Transaction.sign({chainId: this.deps.ledger.chainId, type, nonce, payload}, this.deps.nodeKey)
      await this.deps.ledger.submit(tx)
      return tx
    }
    const result = this.nodeTxQueue.then(run, run)
    this.nodeTxQueue = result.catch(() => undefined)
    return result
  }

  // ------------------------------------------------------------------------------------------
  // Records

  /** record_put: checks the provider's anchor against the resource, stores it encrypted, submits the anchor. */
  async put(params: {resource: unknown; salt: string; anchorTx: string; wait?: boolean}): Promise<RecordPutResult> {
    const tx = this.decodeTx(params.anchorTx, TxType.RecordAnchor)
    if (!tx.verifySignature()) throw new HealthError(HealthErrorCode.BAD_ANCHOR, "the anchor transaction's signature does not verify")
    const salt = fromHex(params.salt)
    if (salt === undefined || salt.length !== 32) throw new HealthError(HealthErrorCode.BAD_PARAMS, "salt must be 32 bytes of hex")
    const resource = validateFhirResource(params.resource)
    const canonical = canonicalResourceBytes(resource)
    if (canonical.length > MAX_RESOURCE_BYTES) {
      throw new HealthError(HealthErrorCode.BAD_PARAMS, `resource of ${canonical.length} bytes exceeds ${MAX_RESOURCE_BYTES}`)
    }
    const anchor = tx.payload
    if (anchor.custodian !== this.hospital) {
      throw new HealthError(HealthErrorCode.BAD_ANCHOR, `the anchor names custodian ${anchor.custodian}; this node is ${this.hospital}`)
    }
    if (anchor.resourceType !== resource.resourceType) {
      throw new HealthError(HealthErrorCode.BAD_ANCHOR, `the anchor says ${anchor.resourceType}, the resource is a ${resource.resourceType}`)
    }
    if (!bytesEqual(contentHash(salt, resource), anchor.contentHash)) {
      throw new HealthError(HealthErrorCode.BAD_ANCHOR, "the anchor's content hash is not sha256(salt || canonical resource)")
    }
    // Never overwrite a stored version: a second put of the same version would replace anchored content.
    if ((await this.deps.vault.versions(anchor.recordId)).includes(anchor.version)) {
      throw new HealthError(HealthErrorCode.BAD_ANCHOR, `version ${anchor.version} of ${anchor.recordId} is already stored`)
    }
    await this.deps.vault.put(anchor.recordId, anchor.version, {salt, resource: canonical})
    let submitted: Submitted
    try {
      await this.deps.ledger.submit(tx)
    } catch (err) {
      await this.deps.vault.removeVersion(anchor.recordId, anchor.version)
      throw err
    }
    submitted = {hash: tx.hashHex(), final: false}
    if (params.wait === true) {
      const final = await this.deps.ledger.waitFinal(submitted.hash, this.finalityTimeoutMs)
      if (!final) throw new HealthError(HealthErrorCode.NOT_FINAL, `anchor ${submitted.hash} was not final within ${this.finalityTimeoutMs} ms`)
      submitted = {...submitted, final}
    }
    this.deps.logger?.info({recordId: anchor.recordId, version: anchor.version, tx: submitted.hash}, "record stored")
    return {recordId: anchor.recordId, version: anchor.version, contentHash: toHex(anchor.contentHash), txHash: submitted.hash, final: submitted.final}
  }

  private async finalizedRecord(recordId: string): Promise<LedgerRecord> {
    const record = await this.deps.ledger.getRecord(recordId)
    if (record === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} is not anchored (or not final yet)`, {recordId})
    if (record.erased) throw new HealthError(HealthErrorCode.RECORD_ERASED, `record ${recordId} was erased`, {recordId, erasedAt: record.erasedAt})
    return record
  }

  /** record_get: a reader's signed request, served from this node's vault or fetched from the custodian. */
  async get(requestJson: unknown): Promise<RecordGetResult> {
    const request = readRequestFromJson(requestJson)
    this.verifier.verifyRead(request)
    const record = await this.finalizedRecord(request.recordId)
    if (record.custodian === this.hospital) {
      const served = await this.serve(request, record, this.hospital)
      return {...served, source: "vault"}
    }
    return this.fetchFromCustodian(encodeReadRequest(request), record)
  }

  /** Decides from finalized state, logs the access either way, and releases the latest version. */
  private async serve(request: ReaderGrant, record: LedgerRecord, via: string, version = record.version): Promise<Omit<RecordGetResult, "source">> {
    const at = this.now()
    const decision = await this.deps.ledger.decideAccess({
      recordId: record.recordId,
      reader: toHex(request.reader),
      purpose: request.purpose,
      breakGlass: request.breakGlass,
      at,
    })
    // No release without its audit entry: if the log cannot be queued, the read fails.
    await this.submitAsNode(TxType.AccessLog, {
      recordId: record.recordId,
      reader: request.reader,
      purpose: request.purpose,
      decision: decision.decision,
      reason: decision.reason,
      consentId: decision.consentId,
      at,
      via,
    })
    if (decision.decision === AccessDecisionKind.Deny) {
      throw new HealthError(HealthErrorCode.ACCESS_DENIED, `access to ${record.recordId} refused: ${decision.reason}`, {
        recordId: record.recordId,
        reason: decision.reason,
      })
    }
    if (decision.decision === AccessDecisionKind.BreakGlass) {
      this.deps.logger?.warn({recordId: record.recordId, reader: toHex(request.reader), via}, "break-glass access released")
    }
    const entry = await this.deps.vault.get(record.recordId, version)
    if (entry === undefined) {
      throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `version ${version} of ${record.recordId} is not in this vault`, {recordId: record.recordId})
    }
    return {
      recordId: record.recordId,
      version,
      resourceType: record.resourceType,
      resource: parseResourceBytes(entry.resource),
      salt: toHex(entry.salt),
      contentHash: record.contentHash,
      custodian: record.custodian,
      decision: decision.decision === AccessDecisionKind.BreakGlass ? "break-glass" : "release",
      consentId: decision.consentId,
    }
  }

  /**
   * A read for the FHIR endpoint: the grant comes from a verified SMART token, whose client
   * assertion (the reader's own signature) is what a custodian elsewhere checks.
   */
  async readAs(grant: ReaderGrant & {assertion: string}, recordId: string, version?: number): Promise<RecordGetResult> {
    const record = await this.finalizedRecord(recordId)
    if (version !== undefined && (!Number.isSafeInteger(version) || version < 1 || version > record.version)) {
      throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} has no version ${version}`, {recordId})
    }
    if (record.custodian === this.hospital) return {...(await this.serve(grant, record, this.hospital, version)), source: "vault"}
    return this.fetchFromCustodian(encode([ASSERTION_READ_TAG, grant.assertion, recordId, version ?? 0]), record, version)
  }

  /** Record ids this node holds as custodian. */
  async custodyRecordIds(): Promise<string[]> {
    return this.deps.vault.recordIds()
  }

  /** The grant of a record-exchange request: a reader-signed read request, or a forwarded SMART assertion. */
  private exchangeGrant(bytes: Uint8Array): {grant: ReaderGrant; recordId: string; version: number | undefined} {
    let raw: unknown
    try {
      raw = decode(bytes, MAX_EXCHANGE_REQUEST_BYTES)
    } catch {
      raw = undefined
    }
    if (Array.isArray(raw) && raw.length === 4 && raw[0] === ASSERTION_READ_TAG) {
      const [, jwt, recordId, version] = raw as [string, unknown, unknown, unknown]
      if (this.deps.verifyForwardedAssertion === undefined || typeof jwt !== "string" || typeof recordId !== "string" || !Number.isSafeInteger(version)) {
        throw new HealthError(HealthErrorCode.BAD_PARAMS, "malformed or unsupported forwarded SMART read")
      }
      return {grant: this.deps.verifyForwardedAssertion(jwt), recordId, version: (version as number) === 0 ? undefined : (version as number)}
    }
    const request = decodeReadRequest(bytes)
    this.verifier.verifyRead(request)
    return {grant: request, recordId: request.recordId, version: undefined}
  }

  private async fetchFromCustodian(requestBytes: Uint8Array, record: LedgerRecord, wantVersion?: number): Promise<RecordGetResult> {
    const exchange = this.deps.exchange
    if (exchange === undefined) {
      throw new HealthError(HealthErrorCode.CUSTODIAN_UNAVAILABLE, `record ${record.recordId} is held by ${record.custodian} and this node has no record exchange`)
    }
    let bytes: Uint8Array
    try {
      bytes = await exchange.request(record.custodian, requestBytes)
    } catch (err) {
      throw new HealthError(HealthErrorCode.CUSTODIAN_UNAVAILABLE, `custodian ${record.custodian} did not answer: ${(err as Error).message}`, {
        custodian: record.custodian,
      })
    }
    const response = decodeExchangeResponse(bytes)
    if (!response.ok) {
      const code = Object.values(HealthErrorCode).includes(response.code as HealthErrorCode)
        ? (response.code as HealthErrorCode)
        : HealthErrorCode.CUSTODIAN_UNAVAILABLE
      throw new HealthError(code, `custodian ${record.custodian}: ${response.message}`, {
        custodian: record.custodian,
        custodianCode: response.code,
        ...(response.reason === null ? {} : {reason: response.reason}),
      })
    }
    let anchored = (await this.deps.ledger.getRecordVersions(record.recordId)).find((v) => v.version === response.version)
    // The custodian may be a block ahead with a new version; give this node's chain a moment to catch up.
    if (wantVersion !== undefined && response.version !== wantVersion) {
      throw new HealthError(HealthErrorCode.CONTENT_MISMATCH, `custodian ${record.custodian} answered version ${response.version}, not ${wantVersion}`)
    }
    for (let i = 0; anchored === undefined && response.version > record.version && i < ANCHOR_CATCH_UP_TRIES; i++) {
      await new Promise((resolve) => setTimeout(resolve, ANCHOR_CATCH_UP_MS))
      anchored = (await this.deps.ledger.getRecordVersions(record.recordId)).find((v) => v.version === response.version)
    }
    const computed = toHex(await this.hashOf(response.salt, response.resource))
    if (anchored === undefined || anchored.contentHash !== computed) {
      this.deps.logger?.warn({recordId: record.recordId, custodian: record.custodian, version: response.version}, "custodian content does not match the anchor")
      throw new HealthError(HealthErrorCode.CONTENT_MISMATCH, `content from ${record.custodian} does not match the finalized anchor of ${record.recordId}`, {
        recordId: record.recordId,
        version: response.version,
      })
    }
    const resource = validateFhirResource(parseResourceBytes(response.resource))
    await this.deps.vault.cachePut(record.recordId, response.version, {salt: response.salt, resource: response.resource})
    return {
      recordId: record.recordId,
      version: response.version,
      resourceType: record.resourceType,
      resource,
      salt: toHex(response.salt),
      contentHash: anchored.contentHash,
      custodian: record.custodian,
      decision: response.decision === AccessDecisionKind.BreakGlass ? "break-glass" : "release",
      consentId: response.consentId,
      source: "custodian",
    }
  }

  private async hashOf(salt: Uint8Array, canonical: Uint8Array): Promise<Uint8Array> {
    // Re-canonicalise what the custodian sent, so non-canonical bytes cannot pass as a match.
    let parsed: FhirResource
    try {
      parsed = parseResourceBytes(canonical)
    } catch {
      return new Uint8Array(32)
    }
    return contentHash(salt, parsed)
  }

  /** The custodian side of record exchange: the same checks and logging as a local read. */
  async handleExchange(bytes: Uint8Array, fromHospital: string | undefined): Promise<Uint8Array> {
    let response: ExchangeResponse
    try {
      if (fromHospital === undefined) throw new HealthError(HealthErrorCode.ACCESS_DENIED, "record exchange is only between member hospitals")
      const {grant, recordId, version} = this.exchangeGrant(bytes)
      const record = await this.finalizedRecord(recordId)
      if (record.custodian !== this.hospital) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `${this.hospital} is not the custodian of ${record.recordId}`)
      if (version !== undefined && version > record.version) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} has no version ${version}`)
      const served = await this.serve(grant, record, fromHospital, version)
      const entry = await this.deps.vault.get(record.recordId, served.version)
      if (entry === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `${record.recordId} is not in this vault`)
      response = {ok: true, version: served.version, salt: entry.salt, resource: entry.resource, decision: served.decision, consentId: served.consentId}
    } catch (err) {
      if (!isCareLedgerError(err)) {
        this.deps.logger?.error({err: (err as Error).message}, "record exchange failed")
        response = {ok: false, code: "INTERNAL", message: "internal error", reason: null}
      } else {
        const reason = typeof err.details.reason === "string" ? err.details.reason : null
        response = {ok: false, code: err.code, message: err.message, reason}
      }
    }
    return encodeExchangeResponse(response)
  }

  /** record_verify: does this resource + salt hash to the finalized anchor (erased records included)? */
  async verify(params: {recordId: string; resource: unknown; salt: string; version?: number}): Promise<RecordVerifyResult> {
    const salt = fromHex(params.salt)
    if (salt === undefined || salt.length !== 32) throw new HealthError(HealthErrorCode.BAD_PARAMS, "salt must be 32 bytes of hex")
    if (params.resource === null || typeof params.resource !== "object" || Array.isArray(params.resource)) {
      throw new HealthError(HealthErrorCode.BAD_PARAMS, "resource must be a JSON object")
    }
    const record = await this.deps.ledger.getRecord(params.recordId)
    if (record === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${params.recordId} is not anchored`, {recordId: params.recordId})
    const version = params.version ?? record.version
    const anchored = (await this.deps.ledger.getRecordVersions(params.recordId)).find((v) => v.version === version)
    if (anchored === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${params.recordId} has no version ${version}`)
    const computed = toHex(contentHash(salt, params.resource as FhirResource))
    return {recordId: params.recordId, version, valid: computed === anchored.contentHash, anchoredHash: anchored.contentHash, computedHash: computed, erased: record.erased}
  }

  async history(recordId: string): Promise<RecordHistoryResult> {
    const record = await this.deps.ledger.getRecord(recordId)
    if (record === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} is not anchored`, {recordId})
    const versions = await this.deps.ledger.getRecordVersions(recordId)
    return {
      recordId,
      patient: record.patient,
      resourceType: record.resourceType,
      custodian: record.custodian,
      erased: record.erased,
      versions: versions.map((v) => ({version: v.version, contentHash: v.contentHash, previous: v.previous, provider: v.anchoredBy, txHash: v.txHash, height: v.height})),
    }
  }

  /** record_erase: submits the patient's (or custodian's) erase; the vault is shredded when it is final. */
  async erase(params: {tx: string; wait?: boolean}): Promise<Submitted> {
    const tx = this.decodeTx(params.tx, TxType.RecordErase)
    const submitted = await this.submitAndMaybeWait(tx, params.wait ?? false)
    if (submitted.final) await this.applyErasure(tx.payload.recordId)
    return submitted
  }

  /** The custodian erases under a stated legal basis, signing with the node key (serialised with its access logs). */
  async eraseAsCustodian(params: {recordId: string; legalBasis: string; wait?: boolean}): Promise<Submitted> {
    const record = await this.finalizedRecord(params.recordId)
    if (record.custodian !== this.hospital) {
      throw new HealthError(HealthErrorCode.BAD_PARAMS, `${this.hospital} is not the custodian of ${params.recordId} (${record.custodian} is)`)
    }
    const tx = await this.submitAsNode(TxType.RecordErase, {recordId: params.recordId, legalBasis: params.legalBasis})
    const hash = tx.hashHex()
    if (params.wait !== true) return {hash, final: false}
    if (!(await this.deps.ledger.waitFinal(hash, this.finalityTimeoutMs))) {
      throw new HealthError(HealthErrorCode.NOT_FINAL, `erasure ${hash} was not final within ${this.finalityTimeoutMs} ms`, {hash})
    }
    await this.applyErasure(params.recordId)
    this.deps.logger?.info({recordId: params.recordId, legalBasis: params.legalBasis}, "custodian erased a record")
    return {hash, final: true}
  }

  /** Shreds local custody and cache of a record if the finalized chain says it is erased. */
  async applyErasure(recordId: string): Promise<boolean> {
    const record = await this.deps.ledger.getRecord(recordId)
    if (record?.erased !== true) return false
    const had = await this.deps.vault.erase(recordId)
    if (had) this.deps.logger?.info({recordId}, "erased record shredded from this node")
    return had
  }

  /** Called with every finalized block: a final `record.erase` drops the record everywhere. */
  async onFinalizedBlock(block: Block): Promise<void> {
    // A stopped service catches up in start(), which checks every record it holds against the chain.
    if (!this.started) return
    for (const tx of block.txs) {
      if (tx.type === TxType.RecordErase) await this.applyErasure((tx as Transaction<TxType.RecordErase>).payload.recordId)
    }
  }

  // ------------------------------------------------------------------------------------------
  // Consent

  async grantConsent(params: {tx: string; wait?: boolean}): Promise<Submitted & {consentId: string}> {
    const tx = this.decodeTx(params.tx, TxType.ConsentGrant)
    const submitted = await this.submitAndMaybeWait(tx, params.wait ?? false)
    return {...submitted, consentId: submitted.hash}
  }

  async revokeConsent(params: {tx: string; wait?: boolean}): Promise<Submitted> {
    return this.submitAndMaybeWait(this.decodeTx(params.tx, TxType.ConsentRevoke), params.wait ?? false)
  }

  async listConsents(filter: {patient?: string; grantee?: string; hospital?: string}): Promise<ConsentJson[]> {
    if (filter.patient === undefined && filter.grantee === undefined && filter.hospital === undefined) {
      throw new HealthError(HealthErrorCode.BAD_PARAMS, "give a patient, a grantee or a hospital")
    }
    const now = this.now()
    return (await this.deps.ledger.listConsents(filter)).map((c) => consentJson(c, now))
  }

  async checkConsent(params: {recordId: string; reader: string; purpose: string; breakGlass?: boolean}): Promise<ConsentCheckResult> {
    if (!PURPOSES.has(params.purpose)) throw new HealthError(HealthErrorCode.BAD_PARAMS, `purpose must be one of ${[...PURPOSES].join(", ")}`)
    const record = await this.finalizedRecord(params.recordId)
    const d = await this.deps.ledger.decideAccess({
      recordId: record.recordId,
      reader: params.reader,
      purpose: params.purpose as Purpose,
      breakGlass: params.breakGlass ?? false,
      at: this.now(),
    })
    return {allowed: d.decision !== AccessDecisionKind.Deny, decision: jsonDecision(d.decision), reason: d.reason, consentId: d.consentId}
  }

  // ------------------------------------------------------------------------------------------
  // Audit

  private async patientOf(requestJson: unknown): Promise<string> {
    const request = auditRequestFromJson(requestJson)
    this.verifier.verifyAudit(request)
    return toHex(request.patient)
  }

  /** audit_trail: the signing patient's trail, optionally narrowed to one of their records. */
  async auditTrail(params: {request: unknown; recordId?: string}): Promise<AuditEntryJson[]> {
    const patient = await this.patientOf(params.request)
    if (params.recordId !== undefined) {
      const record = await this.deps.ledger.getRecord(params.recordId)
      if (record === undefined || record.patient !== patient) {
        throw new HealthError(HealthErrorCode.NOT_PATIENT, `record ${params.recordId} is not the signing patient's`)
      }
      return (await this.deps.ledger.listAccessLog({recordId: params.recordId})).map(auditJson)
    }
    return (await this.deps.ledger.listAccessLog({patient})).map(auditJson)
  }

  /** A record's trail for the node's operator or an auditor (the RPC layer requires an admin token). */
  async recordAuditTrail(recordId: string): Promise<AuditEntryJson[]> {
    if ((await this.deps.ledger.getRecord(recordId)) === undefined) {
      throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} is not anchored`, {recordId})
    }
    return (await this.deps.ledger.listAccessLog({recordId})).map(auditJson)
  }

  /** audit_export: the signing patient's consents and access log as a FHIR Bundle. */
  async auditExport(params: {request: unknown}): Promise<JsonValue> {
    const patient = await this.patientOf(params.request)
    const [consents, entries] = await Promise.all([this.deps.ledger.listConsents({patient}), this.deps.ledger.listAccessLog({patient})])
    return exportBundle(consents, entries, this.now(), await exportContext(this.deps.ledger, consents, entries)) as unknown as JsonValue
  }

  /** One access entry as a FHIR AuditEvent (for integrators that push events one by one). */
  auditEvent(entry: LedgerAccessEntry): FhirResource {
    return accessEntryToFhir(entry)
  }

  // ------------------------------------------------------------------------------------------
  // Trials

  async trialTx(kind: TxType.TrialRegister | TxType.TrialAmend | TxType.TrialResult, params: {tx: string; wait?: boolean}): Promise<Submitted> {
    return this.submitAndMaybeWait(this.decodeTx(params.tx, kind), params.wait ?? false)
  }

  /**
   * trial_verify: which registered protocol version a document matches, whether results/dataset
   * match, and whether the protocol was registered in an earlier block than the first results.
   */
  async verifyTrial(params: {
    trialId: string
    protocol?: string
    protocolHash?: string
    results?: string
    resultsHash?: string
    dataset?: string
    datasetHash?: string
  }): Promise<TrialVerifyResult> {
    const trial = await this.deps.ledger.getTrial(params.trialId)
    if (trial === undefined) {
      return {
        trialId: params.trialId,
        registered: false,
        protocolVersion: null,
        resultsMatch: null,
        datasetMatch: null,
        registeredBeforeResults: null,
        registeredAt: null,
        resultsAt: null,
      }
    }
    const hashOf = (doc: string | undefined, hash: string | undefined): string | undefined =>
      doc !== undefined ? toHex(documentHash(doc)) : hash?.toLowerCase().replace(/^0x/, "")
    const protocolHash = hashOf(params.protocol, params.protocolHash)
    const resultsHash = hashOf(params.results, params.resultsHash)
    const datasetHash = hashOf(params.dataset, params.datasetHash)
    const firstResults = trial.results.length === 0 ? null : Math.min(...trial.results.map((r) => r.height))
    return {
      trialId: trial.trialId,
      registered: true,
      protocolVersion: protocolHash === undefined ? null : (trial.protocols.find((p) => p.protocolHash === protocolHash)?.version ?? null),
      resultsMatch: resultsHash === undefined ? null : trial.results.some((r) => r.resultsHash === resultsHash),
      datasetMatch: datasetHash === undefined ? null : trial.results.some((r) => r.datasetHash === datasetHash),
      registeredBeforeResults: firstResults === null ? null : trial.registeredAt < firstResults,
      registeredAt: trial.registeredAt,
      resultsAt: firstResults,
    }
  }
}
