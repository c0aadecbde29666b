/**
 * The read path of one hospital node: a reader's signed request is checked (signature, freshness,
 * enrolled reader, anchored record, named custodian) before it takes room in the replay cache; the
 * custodian decides from finalized state as of the finalized head, journals the access log before
 * anything leaves, checks the stored bytes against the anchor, and releases the asked-for version.
 * Another hospital's node forwards the reader's own request to the custodian and checks the answer
 * against the anchor too; nothing fetched is kept.
 */
import {setTimeout as sleep} from "node:timers/promises"
import {
  AccessDecisionKind,
  TxType,
  decode,
  encode,
  decodeReadRequest,
  encodeReadRequest,
  isCareLedgerError,
  readRequestFromJson,
  toHex,
  RequestError,
  RequestErrorCode,
  checkAccess,
  contentHash,
  loadIdentity,
  loadRecord,
  loadRecordVersions,
  type FhirResource,
  type Logger,
  type Purpose,
  type ReadRequest,
  type RecordGetResult,
  type RecordAnchor,
  type RecordVersion,
} from "@careledger/core"
import {validateFhirResource} from "./fhir.js"
import type {Vault} from "./vault.js"
import type {RequestVerifier} from "./request.js"
import type {NodeTxJournal} from "./journal.js"
import {HealthError, HealthErrorCode} from "./errors.js"
import {decodeExchangeResponse, encodeExchangeResponse, type ExchangeResponse} from "./exchange.js"
import type {FinalizedChain, RecordExchangeClient} from "./chain.js"

const ANCHOR_CATCH_UP_TRIES = 25
const ANCHOR_CATCH_UP_MS = 200

function parseResourceBytes(bytes: Uint8Array): FhirResource {
  return JSON.parse(new TextDecoder().decode(bytes)) as FhirResource
}

/** sha256(salt || canonical(resource)) of stored or received bytes, re-canonicalised; undefined when they do not parse. */
function hashOfBytes(salt: Uint8Array, bytes: Uint8Array): string | undefined {
  try {
    return toHex(contentHash(salt, parseResourceBytes(bytes)))
  } catch {
    return undefined
  }
}

type Served = Omit<RecordGetResult, "source"> & {salt: string}

/** Who reads, why, and whether as break-glass: from a verified SMART assertion (see docs/fhir.md). */
export interface ReaderGrant {
  reader: Uint8Array
  purpose: Purpose
  breakGlass: boolean
}

/** What a read asks for, from a signed read request or a SMART grant. */
interface Ask {
  reader: Uint8Array
  purpose: Purpose
  breakGlassReason: string | null
  version: number | null
}

/** Tag of the record-exchange request that carries a SMART client assertion instead of a read request. */
const ASSERTION_READ_TAG = "smart-read/v1"
/** A forwarded SMART read: tag, assertion (at most 4 KiB), record id, version. */
const MAX_EXCHANGE_REQUEST_BYTES = 8192
/** A SMART ETREAT purpose of use carries no reason text; the trail says where the break-glass came from. */
const SMART_BREAK_GLASS_REASON = "SMART purpose of use ETREAT"

function askOf(grant: ReaderGrant, version: number | undefined): Ask {
  return {reader: grant.reader, purpose: grant.purpose, breakGlassReason: grant.breakGlass ? SMART_BREAK_GLASS_REASON : null, version: version ?? null}
}

export class ReadPath {
  constructor(
    private readonly hospital: string,
    private readonly deps: {
      chain: FinalizedChain
      vault: Vault
      verifier: RequestVerifier
      journal: NodeTxJournal
      exchange?: RecordExchangeClient
      logger?: Logger
      signal?: AbortSignal
      verifyForwardedAssertion?: (jwt: string) => ReaderGrant
    },
  ) {}

  /**
   * Everything about a request that state can refute, checked before it is remembered as used, so
   * throwaway keys and made-up records cannot fill the replay cache. Returns the record (erased or not).
   */
  private async admit(request: ReadRequest): Promise<RecordAnchor> {
    const {chain, verifier} = this.deps
    verifier.checkRead(request)
    const state = chain.state()
    const reader = await loadIdentity(state, toHex(request.reader))
    if (reader === undefined) throw new RequestError(RequestErrorCode.UNKNOWN_READER, "the reader's key is not enrolled")
    const record = await loadRecord(state, request.recordId)
    if (record === undefined) {
      throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${request.recordId} is not anchored (or not final yet)`, {recordId: request.recordId})
    }
    if (request.custodian !== record.custodian) {
      throw new RequestError(RequestErrorCode.WRONG_CUSTODIAN, `the request names custodian ${request.custodian}; ${record.recordId} is held by ${record.custodian}`)
    }
    verifier.rememberRead(request)
    return record
  }

  /** record_get: served from this node's vault, or fetched from the custodian. */
  async get(requestJson: unknown): Promise<RecordGetResult> {
    const request = readRequestFromJson(requestJson)
    const record = await this.admit(request)
    if (record.custodian === this.hospital) return {...(await this.serve(request, record, this.hospital)), source: "vault"}
    // Even a read of an erased record goes to the custodian, which logs it in the patient's trail.
    return this.fetchFromCustodian(encodeReadRequest(request), record, request.version)
  }

  /** A read on a verified SMART grant (the FHIR endpoint); its assertion goes to a custodian elsewhere. */
  async readAs(grant: ReaderGrant & {assertion: string}, recordId: string, version?: number): Promise<RecordGetResult> {
    const record = await loadRecord(this.deps.chain.state(), recordId)
    if (record === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} is not anchored (or not final yet)`, {recordId})
    if (record.custodian === this.hospital) return {...(await this.serve(askOf(grant, version), record, this.hospital)), source: "vault"}
    return this.fetchFromCustodian(encode([ASSERTION_READ_TAG, grant.assertion, recordId, version ?? 0]), record, version ?? null)
  }

  private async anchoredVersion(record: RecordAnchor, version: number): Promise<RecordVersion> {
    const anchored = (await loadRecordVersions(this.deps.chain.state(), record.recordId)).find((v) => v.version === version)
    if (anchored === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${record.recordId} has no version ${version}`, {recordId: record.recordId})
    return anchored
  }

  /** Decides as of the finalized head, journals the access log either way, then releases the version asked for. */
  private async serve(request: Ask, record: RecordAnchor, via: string): Promise<Served> {
    const {chain, journal, vault} = this.deps
    const head = chain.head()
    // A denial keeps the nearest consent (expired, revoked) so the audit entry says which one failed.
    const decision = await checkAccess(chain.state(), {
      recordId: record.recordId,
      reader: toHex(request.reader),
      purpose: request.purpose,
      breakGlass: request.breakGlassReason !== null,
      height: head.height,
      at: head.timestamp,
    })
    // No release without its durable audit entry: if it cannot be journalled and queued, the read fails.
    await journal.submit(
      TxType.AccessLog,
      {
        recordId: record.recordId,
        reader: request.reader,
        purpose: request.purpose,
        decision: decision.kind,
        reason: decision.reason,
        consentId: decision.consentId,
        height: head.height,
        at: head.timestamp,
        via,
        breakGlassReason: request.breakGlassReason,
      },
      true,
    )
    if (decision.reason === "RECORD_ERASED") {
      throw new HealthError(HealthErrorCode.RECORD_ERASED, `record ${record.recordId} was erased`, {recordId: record.recordId, erasedAt: record.erasedAt})
    }
    if (decision.kind === AccessDecisionKind.Deny) {
      throw new HealthError(HealthErrorCode.ACCESS_DENIED, `access to ${record.recordId} refused: ${decision.reason}`, {recordId: record.recordId, reason: decision.reason})
    }
    if (decision.kind === AccessDecisionKind.BreakGlass) {
      this.deps.logger?.warn({recordId: record.recordId, reader: toHex(request.reader), via, reason: request.breakGlassReason}, "break-glass access released")
    }
    const anchored = await this.anchoredVersion(record, request.version ?? record.version)
    const entry = await vault.get(record.recordId, anchored.version)
    if (entry === undefined) {
      throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `version ${anchored.version} of ${record.recordId} is not in this vault`, {recordId: record.recordId})
    }
    // The same check a remote reader makes: what leaves must hash to the finalized anchor.
    if (hashOfBytes(entry.salt, entry.resource) !== anchored.contentHash) {
      this.deps.logger?.error({recordId: record.recordId, version: anchored.version}, "stored content does not match its anchor")
      throw new HealthError(HealthErrorCode.CONTENT_MISMATCH, `stored version ${anchored.version} of ${record.recordId} does not match its finalized anchor`, {
        recordId: record.recordId,
        version: anchored.version,
      })
    }
    return {
      recordId: record.recordId,
      version: anchored.version,
      resourceType: record.resourceType,
      resource: parseResourceBytes(entry.resource),
      salt: toHex(entry.salt),
      contentHash: anchored.contentHash,
      custodian: record.custodian,
      decision: decision.kind === AccessDecisionKind.BreakGlass ? "break-glass" : "release",
      consentId: decision.consentId,
    }
  }

  private async fetchFromCustodian(requestBytes: Uint8Array, record: RecordAnchor, wantVersion: number | null): Promise<RecordGetResult> {
    const exchange = this.deps.exchange
    if (exchange === undefined) {
      throw new HealthError(HealthErrorCode.CUSTODIAN_UNAVAILABLE, `record ${record.recordId} is held by ${record.custodian} and this node has no record exchange`)
    }
    let bytes: Uint8Array
    try {
      bytes = await exchange.request(record.custodian, requestBytes)
    } catch (err) {
      throw new HealthError(HealthErrorCode.CUSTODIAN_UNAVAILABLE, `custodian ${record.custodian} did not answer: ${(err as Error).message}`, {custodian: record.custodian})
    }
    const response = decodeExchangeResponse(bytes)
    if (!response.ok) {
      const code = Object.values(HealthErrorCode).includes(response.code as HealthErrorCode) ? (response.code as HealthErrorCode) : HealthErrorCode.CUSTODIAN_UNAVAILABLE
      throw new HealthError(code, `custodian ${record.custodian}: ${response.message}`, {
        custodian: record.custodian,
        custodianCode: response.code,
        ...(response.reason === null ? {} : {reason: response.reason}),
      })
    }
    const find = async () => (await loadRecordVersions(this.deps.chain.state(), record.recordId)).find((v) => v.version === response.version)
    let anchored = await find()
    // The custodian may be a block ahead with a new version; give this node's chain a moment to catch up.
    for (let i = 0; anchored === undefined && response.version > record.version && i < ANCHOR_CATCH_UP_TRIES && this.deps.signal?.aborted !== true; i++) {
      // Ends early (rejecting, ignored) when the node stops; the loop then gives up.
      await sleep(ANCHOR_CATCH_UP_MS, undefined, {signal: this.deps.signal}).catch(() => undefined)
      anchored = await find()
    }
    const wanted = wantVersion ?? response.version
    if (anchored === undefined || response.version !== wanted || hashOfBytes(response.salt, response.resource) !== anchored.contentHash) {
      this.deps.logger?.warn({recordId: record.recordId, custodian: record.custodian, version: response.version}, "custodian content does not match the anchor")
      throw new HealthError(HealthErrorCode.CONTENT_MISMATCH, `content from ${record.custodian} does not match the finalized anchor of ${record.recordId}`, {
        recordId: record.recordId,
        version: response.version,
      })
    }
    return {
      recordId: record.recordId,
      version: response.version,
      resourceType: record.resourceType,
      resource: validateFhirResource(parseResourceBytes(response.resource)),
      salt: toHex(response.salt),
      contentHash: anchored.contentHash,
      custodian: record.custodian,
      decision: response.decision === AccessDecisionKind.BreakGlass ? "break-glass" : "release",
      consentId: response.consentId,
      source: "custodian",
    }
  }

  /** What a record-exchange request asks: a reader-signed read request, or a forwarded SMART assertion. */
  private async exchangeAsk(bytes: Uint8Array): Promise<{ask: Ask; record: RecordAnchor}> {
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
      const grant = this.deps.verifyForwardedAssertion(jwt)
      const record = await loadRecord(this.deps.chain.state(), recordId)
      if (record === undefined) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `record ${recordId} is not anchored (or not final yet)`, {recordId})
      return {ask: askOf(grant, (version as number) === 0 ? undefined : (version as number)), record}
    }
    const request = decodeReadRequest(bytes)
    if (request.custodian !== this.hospital) {
      throw new RequestError(RequestErrorCode.WRONG_CUSTODIAN, `the request names custodian ${request.custodian}; this node is ${this.hospital}`)
    }
    return {ask: request, record: await this.admit(request)}
  }

  /** The custodian side of record exchange: the same checks and logging as a local read. */
  async handleExchange(bytes: Uint8Array, fromHospital: string | undefined): Promise<Uint8Array> {
    let response: ExchangeResponse
    try {
      if (fromHospital === undefined) throw new HealthError(HealthErrorCode.ACCESS_DENIED, "record exchange is only between member hospitals")
      const {ask, record} = await this.exchangeAsk(bytes)
      if (record.custodian !== this.hospital) throw new HealthError(HealthErrorCode.RECORD_NOT_FOUND, `${this.hospital} is not the custodian of ${record.recordId}`)
      const served = await this.serve(ask, record, fromHospital)
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
}
