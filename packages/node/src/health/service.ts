/**
 * The health access service of one hospital node: stores records its providers anchor, decides
 * and logs every read from finalized consent state, fetches records held by other hospitals and
 * checks them against the chain, erases on a finalized `record.erase`, and answers verification,
 * history, audit, consent and trial questions.
 */
import {
  PrivateKey,
  Transaction,
  TxType,
  MAX_LIST_LIMIT,
  auditRequestFromJson,
  bytesEqual,
  canonicalResourceBytes,
  contentHash,
  fromHex,
  listConsents,
  loadRecord,
  loadRecordVersions,
  toHex,
  type AccessLogEntry,
  type AuditPage,
  type Block,
  type ConsentCheckResult,
  type ConsentJson,
  type FhirResource,
  type JsonValue,
  type Logger,
  type RecordAnchor,
  type RecordGetResult,
  type RecordHistoryResult,
  type RecordPutResult,
  type RecordVerifyResult,
  type RecordVersion,
  type TrialVerifyResult,
} from "@careledger/core"
import {validateFhirResource, MAX_RESOURCE_BYTES} from "./fhir.js"
import type {Vault} from "./vault.js"
import {RequestVerifier} from "./request.js"
import {HealthError, HealthErrorCode} from "./errors.js"
import {accessEntryToFhir, exportBundle, exportContext} from "./export.js"
import {NodeTxJournal} from "./journal.js"
import type {InteractionJournal} from "./interactions.js"
import {anchoredJournal, type JournalAnchorOptions} from "./anchoring.js"
import {checkPatientLink} from "./patients.js"
import {NodeSigner} from "../keystore/signer.js"
import {auditPage, wholeTrail} from "./audit.js"
import {verifyTrial, type TrialVerifyParams} from "./trials.js"
import {ReadPath, type ReaderGrant} from "./reads.js"
import {consentCheck, consentList, purposeOf} from "./consents.js"

export type {ReaderGrant} from "./reads.js"
import type {FinalizedChain, RecordExchangeClient, TxSubmitter} from "./chain.js"

export interface HealthServiceOptions extends JournalAnchorOptions {
  /** This node's hospital id. */
  hospital: string
  /** Freshness window of signed requests (default 5 minutes). */
  requestFreshnessMs?: number
  /** How long `wait: true` calls wait for finality (default 30 s). */
  finalityTimeoutMs?: number
  /** A stored version whose anchor is not final this long after it was written is removed (default 10 minutes). */
  unanchoredGraceMs?: number
}

export interface HealthServiceDeps {
  /** Finalized state, read with core's state helpers. */
  chain: FinalizedChain
  /** Transactions into the node's intake. */
  submitter: TxSubmitter
  vault: Vault
  /** The node key: signs access logs (it is the hospital's identity on chain). */
  nodeKey: PrivateKey
  /** The node's one signer of the node key (shared with validator votes); the service alone (tests) makes its own. */
  signer?: NodeSigner
  exchange?: RecordExchangeClient
  logger?: Logger
  /** The node's stop signal: a read waiting for this node's chain to catch up gives up when it aborts. */
  signal?: AbortSignal
  now?: () => number
  /** Checks a SMART client assertion forwarded by another hospital's FHIR endpoint (see docs/fhir.md). */
  verifyForwardedAssertion?: (jwt: string) => ReaderGrant
}

type Submitted = {hash: string; final: boolean}

/** How often (wall time) finalized blocks trigger a sweep for stored versions whose anchor never finalized. */
const SWEEP_EVERY_MS = 60_000

export class HealthService {
  readonly hospital: string
  private readonly verifier: RequestVerifier
  private readonly journal: NodeTxJournal
  readonly interactions: InteractionJournal
  private readonly reads: ReadPath
  private readonly finalityTimeoutMs: number
  private readonly unanchoredGraceMs: number
  private readonly now: () => number
  private lastSweep = 0
  private started = false

  constructor(
    options: HealthServiceOptions,
    private readonly deps: HealthServiceDeps,
  ) {
    this.hospital = options.hospital
    this.now = deps.now ?? Date.now
    this.finalityTimeoutMs = options.finalityTimeoutMs ?? 30_000
    this.unanchoredGraceMs = options.unanchoredGraceMs ?? 10 * 60_000
    this.verifier = new RequestVerifier({chainId: deps.chain.chainId, freshnessMs: options.requestFreshnessMs, now: this.now})
    const signer = deps.signer ?? new NodeSigner({chainId: deps.chain.chainId, key: deps.nodeKey, nextNonce: (account) => deps.submitter.nextNonce(account)})
    this.journal = new NodeTxJournal({submitter: deps.submitter, vault: deps.vault, signer, logger: deps.logger})
    this.interactions = anchoredJournal(options, {vault: deps.vault, chain: deps.chain, submitter: deps.submitter, txs: this.journal, now: this.now, logger: deps.logger})
    this.reads = new ReadPath(options.hospital, {
      chain: deps.chain,
      vault: deps.vault,
      verifier: this.verifier,
      journal: this.journal,
      exchange: deps.exchange,
      logger: deps.logger,
      signal: deps.signal,
      verifyForwardedAssertion: deps.verifyForwardedAssertion,
    })
  }

  /**
   * Starts the vault, checks the interaction journal against its hash chain and its anchor on chain
   * (one that fails stops the service here), drops what the chain says was erased while this node was
   * down, and submits again every access log journalled but not yet final (a crash right after a release).
   */
  async start(): Promise<void> {
    if (this.started) return
    await this.deps.vault.start()
    this.started = true
    await this.interactions.start()
    for (const recordId of await this.deps.vault.recordIds()) {
      const record = await this.record(recordId)
      if (record?.erased === true) await this.deps.vault.erase(recordId)
    }
    await this.journal.resubmit()
    await this.sweepUnanchored()
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.interactions.stop()
    await this.journal.drain()
    await this.deps.vault.stop()
  }

  /**
   * Removes stored versions whose anchor is not final well after they were written (a put whose
   * anchor was dropped, or a node that crashed between storing and submitting).
   */
  private async sweepUnanchored(): Promise<void> {
    this.lastSweep = this.now()
    for (const recordId of await this.deps.vault.recordIds()) {
      const anchored = new Set((await this.versions(recordId)).map((v) => v.version))
      for (const version of await this.deps.vault.versions(recordId)) {
        if (anchored.has(version)) continue
        const written = await this.deps.vault.writtenAt(recordId, version)
        if (written === undefined || this.now() - written < this.unanchoredGraceMs) continue
        await this.deps.vault.removeVersion(recordId, version)
        this.deps.logger?.warn({recordId, version}, "removed a stored version whose anchor never finalized")
      }
    }
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
    await checkPatientLink(this.deps.chain.state(), resource, toHex(anchor.patient))
    // Never overwrite a stored version: of two concurrent puts of one version exactly one stores (and submits).
    if (!(await this.deps.vault.putNew(anchor.recordId, anchor.version, {salt, resource: canonical}))) {
      throw new HealthError(HealthErrorCode.BAD_ANCHOR, `version ${anchor.version} of ${anchor.recordId} is already stored`)
    }
    let submitted: Submitted
    try {
      await this.deps.submitter.submit(tx)
    } catch (err) {
      await this.deps.vault.removeVersion(anchor.recordId, anchor.version)
      throw err
    }
    submitted = {hash: tx.hashHex(), final: false}
    if (params.wait === true) {
      const final = await this.deps.submitter.waitFinal(submitted.hash, this.finalityTimeoutMs)
      if (!final) throw new HealthError(HealthErrorCode.NOT_FINAL, `anchor ${submitted.hash} was not final within ${this.finalityTimeoutMs} ms`)
      submitted = {...submitted, final}
    }
    this.deps.logger?.info({recordId: anchor.recordId, version: anchor.version, tx: submitted.hash}, "record stored")
    return {recordId: anchor.recordId, version: anchor.version, contentHash: toHex(anchor.contentHash), txHash: submitted.hash, final: submitted.final}
  }

  /** A record's finalized anchor (erased or not), read with core's state helper. */
  private record(recordId: string): Promise<RecordAnchor | undefined> {
    return loadRecord(this.deps.chain.state(), recordId)
  }

  private versions(recordId: string): Promise<RecordVersion[]> {
    return loadRecordVersions(this.deps.chain.state(), recordId)
  }

  private async finalizedRecord(recordId: string): Promise<RecordAnchor> {
    const record = await this.record(recordId)
    if (record === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} is not anchored (or not final yet)`, {recordId})
    if (record.erased) throw new HealthError(HealthErrorCode.RECORD_ERASED, `record ${recordId} was erased`, {recordId, erasedAt: record.erasedAt})
    return record
  }

  /** record_get: a reader's signed request, served from this node's vault or fetched from the custodian. */
  get(requestJson: unknown): Promise<RecordGetResult> {
    return this.reads.get(requestJson)
  }

  /**
   * A read for the FHIR endpoint: the grant comes from a verified SMART token, whose client
   * assertion (the reader's own signature) is what a custodian elsewhere checks.
   */
  readAs(grant: ReaderGrant & {assertion: string}, recordId: string, version?: number): Promise<RecordGetResult> {
    return this.reads.readAs(grant, recordId, version)
  }

  /** Record ids this node holds as custodian. */
  custodyRecordIds(): Promise<string[]> {
    return this.deps.vault.recordIds()
  }

  /** The custodian side of record exchange. */
  handleExchange(bytes: Uint8Array, fromHospital: string | undefined): Promise<Uint8Array> {
    return this.reads.handleExchange(bytes, fromHospital)
  }

  /** record_verify: does this resource + salt hash to the finalized anchor (erased records included)? */
  async verify(params: {recordId: string; resource: unknown; salt: string; version?: number}): Promise<RecordVerifyResult> {
    const salt = fromHex(params.salt)
    if (salt === undefined || salt.length !== 32) throw new HealthError(HealthErrorCode.BAD_PARAMS, "salt must be 32 bytes of hex")
    if (params.resource === null || typeof params.resource !== "object" || Array.isArray(params.resource)) {
      throw new HealthError(HealthErrorCode.BAD_PARAMS, "resource must be a JSON object")
    }
    const record = await this.record(params.recordId)
    if (record === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${params.recordId} is not anchored`, {recordId: params.recordId})
    const version = params.version ?? record.version
    const anchored = (await this.versions(params.recordId)).find((v) => v.version === version)
    if (anchored === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${params.recordId} has no version ${version}`)
    const computed = toHex(contentHash(salt, params.resource as FhirResource))
    return {recordId: params.recordId, version, valid: computed === anchored.contentHash, anchoredHash: anchored.contentHash, computedHash: computed, erased: record.erased}
  }

  async history(recordId: string): Promise<RecordHistoryResult> {
    const record = await this.record(recordId)
    if (record === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} is not anchored`, {recordId})
    const versions = await this.versions(recordId)
    return {
      recordId,
      patient: record.patient,
      resourceType: record.resourceType,
      custodian: record.custodian,
      erased: record.erased,
      versions: versions.map((v) => ({version: v.version, contentHash: v.contentHash, previous: v.previous, provider: v.anchoredBy, txHash: v.txHash, height: v.height})),
    }
  }

  /** The custodian erases under a stated legal basis, signing with the node key (serialised with its access logs). */
  async eraseAsCustodian(params: {recordId: string; legalBasis: string; wait?: boolean}): Promise<Submitted> {
    const record = await this.finalizedRecord(params.recordId)
    if (record.custodian !== this.hospital) {
      throw new HealthError(HealthErrorCode.BAD_PARAMS, `${this.hospital} is not the custodian of ${params.recordId} (${record.custodian} is)`)
    }
    const tx = await this.journal.submit(TxType.RecordErase, {recordId: params.recordId, legalBasis: params.legalBasis}, false)
    const hash = tx.hashHex()
    if (params.wait !== true) return {hash, final: false}
    if (!(await this.deps.submitter.waitFinal(hash, this.finalityTimeoutMs))) {
      throw new HealthError(HealthErrorCode.NOT_FINAL, `erasure ${hash} was not final within ${this.finalityTimeoutMs} ms`, {hash})
    }
    await this.applyErasure(params.recordId)
    this.deps.logger?.info({recordId: params.recordId, legalBasis: params.legalBasis}, "custodian erased a record")
    return {hash, final: true}
  }

  /** Shreds local custody and cache of a record if the finalized chain says it is erased. */
  async applyErasure(recordId: string): Promise<boolean> {
    const record = await this.record(recordId)
    if (record?.erased !== true) return false
    const had = await this.deps.vault.erase(recordId)
    if (had) this.deps.logger?.info({recordId}, "erased record shredded from this node")
    return had
  }

  /**
   * Called with every finalized block: a final `record.erase` drops the record; journalled access
   * logs that are final leave the journal, the others are submitted again.
   */
  async onFinalizedBlock(block: Block): Promise<void> {
    // A stopped service catches up in start(), which checks every record it holds against the chain.
    if (!this.started) return
    for (const tx of block.txs) {
      if (tx.type === TxType.RecordErase) await this.applyErasure((tx as Transaction<TxType.RecordErase>).payload.recordId)
    }
    // Not awaited: the journal's own submission may be what finalized this block.
    this.journal.resubmit().catch((err: Error) => this.deps.logger?.error({err: err.message}, "resubmitting journalled access logs failed"))
    if (this.now() - this.lastSweep >= SWEEP_EVERY_MS) await this.sweepUnanchored()
  }

  // ------------------------------------------------------------------------------------------
  // Consent

  async listConsents(filter: {patient?: string; grantee?: string; hospital?: string}): Promise<ConsentJson[]> {
    return consentList(this.deps.chain, filter)
  }

  async checkConsent(params: {recordId: string; reader: string; purpose: string; breakGlassReason?: string}): Promise<ConsentCheckResult> {
    const purpose = purposeOf(params.purpose)
    return consentCheck(this.deps.chain, await this.finalizedRecord(params.recordId), {...params, purpose})
  }

  // ------------------------------------------------------------------------------------------
  // Audit

  private async patientOf(requestJson: unknown): Promise<string> {
    const request = auditRequestFromJson(requestJson)
    this.verifier.verifyAudit(request)
    return toHex(request.patient)
  }

  /** audit_trail: one page of the signing patient's trail (reads, denials, break-glass, erasures), optionally of one record. */
  async auditTrail(params: {request: unknown; recordId?: string; cursor?: string; limit?: number}): Promise<AuditPage> {
    const patient = await this.patientOf(params.request)
    const page = {cursor: params.cursor, limit: params.limit}
    if (params.recordId !== undefined) {
      const record = await this.record(params.recordId)
      if (record === undefined || record.patient !== patient) {
        throw new HealthError(HealthErrorCode.NOT_PATIENT, `record ${params.recordId} is not the signing patient's`)
      }
      return auditPage(this.deps.chain.state(), {recordId: params.recordId}, page)
    }
    return auditPage(this.deps.chain.state(), {patient}, page)
  }

  /** A record's trail for the node's operator or an auditor (the RPC layer requires an admin token). */
  async recordAuditTrail(recordId: string, page: {cursor?: string; limit?: number} = {}): Promise<AuditPage> {
    if ((await this.record(recordId)) === undefined) {
      throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} is not anchored`, {recordId})
    }
    return auditPage(this.deps.chain.state(), {recordId}, page)
  }

  /** audit_export: the signing patient's consents and whole trail (erasures included) as a FHIR Bundle. */
  async auditExport(params: {request: unknown}): Promise<JsonValue> {
    const patient = await this.patientOf(params.request)
    const state = this.deps.chain.state()
    const [consents, entries] = await Promise.all([listConsents(state, {patient}, MAX_LIST_LIMIT), wholeTrail(state, patient)])
    return exportBundle(consents, entries, this.deps.chain.head().timestamp, await exportContext(state, consents, entries)) as unknown as JsonValue
  }

  /** One access entry as a FHIR AuditEvent (for integrators that push events one by one). */
  auditEvent(entry: AccessLogEntry): FhirResource {
    return accessEntryToFhir(entry)
  }

  // ------------------------------------------------------------------------------------------
  // Trials

  /** trial_verify: which protocol version a document matches, and whether it was registered before the results. */
  async verifyTrial(params: TrialVerifyParams): Promise<TrialVerifyResult> {
    return verifyTrial(this.deps.chain.state(), params)
  }
}
