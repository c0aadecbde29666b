/**
 * The FHIR R4 REST endpoint of a hospital node: CapabilityStatement, SMART Backend Services token
 * endpoint, and read/vread/create/update/search over the health service's records, Consent and
 * AuditEvent searches over finalized chain state. Every answer that is not a resource is an
 * OperationOutcome with the HTTP status FHIR prescribes (OAuth errors at the token endpoint excepted).
 * Over 400 lines as one file because it is one routing table, each interaction's handler beside the
 * route it serves; token checks live in auth.ts and the CapabilityStatement in capability.ts.
 */
import type {IncomingMessage, Server, ServerResponse} from "node:http"
import type {AddressInfo} from "node:net"
import {
  CLIENT_ASSERTION_TYPE,
  MAX_LIST_LIMIT,
  Role,
  Transaction,
  TxType,
  fromHex,
  getIdentity,
  isCareLedgerError,
  listConsents,
  listRecordIdsOfPatient,
  loadRecord,
  loadRecordVersions,
  type FhirResource,
  type Logger,
} from "@careledger/core"
import type {HealthService} from "../health/service.js"
import type {FinalizedChain} from "../health/chain.js"
import {validateFhirResourceStrict} from "../health/fhir.js"
import {patientKeyOf} from "../health/patients.js"
import {accessEntryToFhir, chainEventToFhir, consentToFhir, exportContext, interactionToFhir, type ChainEvent} from "../health/export.js"
import type {InteractionCode, InteractionEntry, InteractionKind} from "../health/interactions.js"
import {wholeTrail} from "../health/audit.js"
import {FhirApiError, FhirApiErrorCode, operationOutcome} from "./errors.js"
import {AUDITOR, TokenStore, allows, grantable, grantableToAuditor, parseScope, verifyClientAssertion, type Access, type AccessToken, type Scope} from "./auth.js"
import {capabilityStatement, smartConfiguration} from "./capability.js"
import {defaultFhirServerOptions, type FhirServerOptions} from "./options.js"
import {closeHttpServer, createHttpServer, listenHttpServer, readTlsFiles, type TlsFiles} from "../rpc/http.js"
import {BrowserGuard} from "../rpc/browser.js"
import {NodeConfigError, NodeConfigErrorCode} from "../config/errors.js"

/** Record types this endpoint stores and serves (the CapabilityStatement lists exactly these). */
export const FHIR_RECORD_TYPES = [
  "Patient",
  "Observation",
  "Condition",
  "MedicationRequest",
  "DiagnosticReport",
  "DocumentReference",
  "Immunization",
  "AllergyIntolerance",
  "Procedure",
  "Encounter",
] as const

const FHIR_JSON = "application/fhir+json; charset=utf-8"
const MAX_JTI_ENTRIES = 100_000

export interface FhirServerDeps {
  health: HealthService
  /** Finalized state: enrolments, anchors, consents and the access log, read with core's state helpers. */
  chain: Pick<FinalizedChain, "state">
  /** Unix ms of the finalized block at `height`. */
  blockTime(height: number): Promise<number | undefined>
  logger?: Logger
  now?: () => number
  /** Resolves once the health service's vault is open (requests wait for it). */
  ready?: () => Promise<void>
}

interface Request {
  method: string
  path: string[]
  query: URLSearchParams
  headers: IncomingMessage["headers"]
  body: Buffer
  base: string
}

interface Reply {
  status: number
  body: unknown
  headers?: Record<string, string>
  contentType?: string
}

type Handler = (req: Request, match: string[]) => Promise<Reply>

function fail(code: FhirApiErrorCode, status: number, issueType: string, message: string, expression: string[] = []): FhirApiError {
  return new FhirApiError(code, message, status, issueType, {}, expression)
}

function resourceOf(body: Buffer): FhirResource {
  let value: unknown
  try {
    value = JSON.parse(body.toString("utf8"))
  } catch {
    throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "structure", "the body is not JSON")
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "structure", "the body is not a FHIR resource")
  return value as FhirResource
}

/** Maps health and chain errors to FHIR HTTP statuses and IssueType codes. */
function apiError(err: unknown): FhirApiError | undefined {
  if (err instanceof FhirApiError) return err
  if (!isCareLedgerError(err)) return undefined
  const code = err.code
  const table: Record<string, [number, string]> = {
    HEALTH_ERROR_ACCESS_DENIED: [403, "forbidden"],
    HEALTH_ERROR_RECORD_NOT_FOUND: [404, "not-found"],
    HEALTH_ERROR_RECORD_ERASED: [410, "deleted"],
    HEALTH_ERROR_BAD_ANCHOR: [422, "business-rule"],
    HEALTH_ERROR_WRONG_PATIENT: [422, "business-rule"],
    HEALTH_ERROR_CONTENT_MISMATCH: [502, "exception"],
    HEALTH_ERROR_CUSTODIAN_UNAVAILABLE: [502, "transient"],
    HEALTH_ERROR_NOT_FINAL: [504, "timeout"],
    HEALTH_ERROR_BAD_PARAMS: [400, "invalid"],
    HEALTH_ERROR_WRONG_TX_TYPE: [400, "invalid"],
    HEALTH_ERROR_TX_REJECTED: [422, "business-rule"],
    HEALTH_ERROR_JOURNAL_BROKEN: [503, "exception"],
    HEALTH_ERROR_JOURNAL_NOT_ANCHORED: [503, "exception"],
    FHIR_ERROR_INVALID: [400, "invalid"],
    FHIR_ERROR_UNSUPPORTED_TYPE: [400, "not-supported"],
  }
  const [status, issue] = table[code] ?? (code.startsWith("TX_ERROR") ? [422, "business-rule"] : code.startsWith("REQUEST_ERROR") ? [401, "security"] : [500, "exception"])
  const expressions = Array.isArray(err.details.expressions) ? (err.details.expressions as string[]) : []
  const apiCode = status === 403 ? FhirApiErrorCode.FORBIDDEN : status === 404 ? FhirApiErrorCode.NOT_FOUND : status === 410 ? FhirApiErrorCode.GONE : FhirApiErrorCode.BAD_REQUEST
  return new FhirApiError(apiCode, err.message, status, issue, {cause: code, ...err.details}, expressions)
}

export class FhirServer {
  private server: Server | null = null
  private readonly options: FhirServerOptions
  private readonly tokens: TokenStore
  /** Assertion ids already exchanged for a token, until the assertion would have expired anyway. */
  private readonly seenJti = new Map<string, number>()
  private readonly now: () => number
  private readonly routes: {method: string; pattern: RegExp; handler: Handler}[]
  private baseUrl = ""
  private boundUrl = ""
  /** Bytes of request bodies being received right now, across all requests. */
  private bodyBytesInFlight = 0
  /** The RPC's Host allow-list and Origin check; no CORS origins, so no web page of another origin is answered. */
  private readonly guard: BrowserGuard
  private readonly tls: TlsFiles | null
  private readonly auditors: ReadonlySet<string>

  constructor(
    options: Partial<FhirServerOptions>,
    private readonly deps: FhirServerDeps,
  ) {
    this.options = {...defaultFhirServerOptions, ...options}
    this.now = deps.now ?? Date.now
    this.tokens = new TokenStore({maxTokens: this.options.maxTokens, lifetimeSeconds: this.options.tokenLifetimeSeconds})
    this.guard = new BrowserGuard({host: this.options.host, allowedHosts: this.options.allowedHosts, corsOrigins: []}, "FHIR")
    this.tls = readTlsFiles(this.options.tlsCert, this.options.tlsKey, {cert: "--fhir-tls-cert", key: "--fhir-tls-key"})
    const badAuditor = this.options.auditors.find((key) => !/^[0-9a-f]{64}$/.test(key))
    if (badAuditor !== undefined) throw new NodeConfigError(NodeConfigErrorCode.BAD_VALUE, `FHIR auditor ${JSON.stringify(badAuditor)} is not a key (64 lowercase hex characters)`)
    this.auditors = new Set(this.options.auditors)
    const T = `(${FHIR_RECORD_TYPES.join("|")})`
    const ID = "([A-Za-z0-9\\-.]{1,64})"
    this.routes = [
      {method: "GET", pattern: /^metadata$/, handler: async (req) => ({status: 200, body: capabilityStatement(req.base, FHIR_RECORD_TYPES, this.now())})},
      {method: "GET", pattern: /^\.well-known\/smart-configuration$/, handler: async (req) => ({status: 200, body: smartConfiguration(req.base), contentType: "application/json"})},
      {method: "POST", pattern: /^auth\/token$/, handler: (req) => this.token(req)},
      {method: "GET", pattern: /^Consent$/, handler: (req) => this.searchConsent(req)},
      {method: "GET", pattern: /^AuditEvent$/, handler: (req) => this.searchAudit(req)},
      {method: "GET", pattern: new RegExp(`^Patient/${ID}/\\$everything$`), handler: (req, m) => this.everything(req, m[1]!)},
      {method: "GET", pattern: new RegExp(`^${T}$`), handler: (req, m) => this.search(req, m[1]!)},
      {method: "POST", pattern: new RegExp(`^${T}$`), handler: (req, m) => this.write(req, m[1]!, undefined)},
      {method: "PUT", pattern: new RegExp(`^${T}/${ID}$`), handler: (req, m) => this.write(req, m[1]!, m[2]!)},
      {method: "GET", pattern: new RegExp(`^${T}/${ID}$`), handler: (req, m) => this.read(req, m[1]!, m[2]!, undefined)},
      {method: "GET", pattern: new RegExp(`^${T}/${ID}/_history/([1-9][0-9]{0,8})$`), handler: (req, m) => this.read(req, m[1]!, m[2]!, Number(m[3]))},
    ]
  }

  /** The base URL clients use (the public URL when one is configured). */
  get url(): string | null {
    return this.server === null ? null : this.baseUrl
  }

  /** The base URL on the bound address (what a proxy in front forwards to). */
  get listenUrl(): string | null {
    return this.server === null ? null : this.boundUrl
  }

  async start(): Promise<void> {
    if (this.server !== null) return
    const server = createHttpServer(this.tls, (req, res) => void this.handle(req, res))
    await listenHttpServer(server, this.options.port, this.options.host)
    const address = server.address() as AddressInfo
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address
    this.boundUrl = `${this.tls === null ? "http" : "https"}://${host}:${address.port}/fhir`
    this.baseUrl = this.options.publicUrl?.replace(/\/$/, "") ?? this.boundUrl
    this.server = server
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === null) return
    this.server = null
    await closeHttpServer(server)
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP plumbing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply
    try {
      reply = await this.dispatch(req)
    } catch (err) {
      const e = apiError(err)
      if (e === undefined) this.deps.logger?.error({err: (err as Error).message}, "FHIR request failed")
      const status = e?.status ?? 500
      const oauth = typeof e?.details.oauthError === "string" && req.url?.split("?")[0]?.endsWith("/auth/token") === true
      reply = oauth
        ? {status: e!.status === 401 ? 401 : 400, body: {error: e!.details.oauthError, error_description: e!.message}, contentType: "application/json"}
        : {
            status,
            body: operationOutcome([{severity: "error", code: e?.issueType ?? "exception", diagnostics: e?.message ?? "internal error", expression: e?.expression}]),
            ...(status === 401 ? {headers: {"WWW-Authenticate": 'Bearer realm="careledger"'}} : {}),
          }
    }
    const body = Buffer.from(JSON.stringify(reply.body))
    res.writeHead(reply.status, {
      "Content-Type": reply.contentType ?? FHIR_JSON,
      "Content-Length": body.length,
      "Cache-Control": "no-store",
      ...reply.headers,
    })
    res.end(body)
  }

  private async dispatch(req: IncomingMessage): Promise<Reply> {
    const refusal = this.guard.screen(req.headers)
    if (refusal !== null) {
      req.resume()
      throw fail(FhirApiErrorCode.FORBIDDEN, refusal.status, "security", refusal.error.message)
    }
    const url = new URL(req.url ?? "/", "http://localhost")
    if (url.searchParams.has("access_token")) {
      throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "security", "tokens are accepted only in the Authorization header, never in the URL")
    }
    if (!url.pathname.startsWith("/fhir/") && url.pathname !== "/fhir") throw fail(FhirApiErrorCode.NOT_FOUND, 404, "not-found", "the FHIR base is /fhir")
    const rest = url.pathname.slice("/fhir/".length).replace(/\/$/, "")
    const method = req.method ?? "GET"
    const route = this.routes.find((r) => r.method === method && r.pattern.test(rest))
    if (route === undefined) {
      const other = this.routes.some((r) => r.pattern.test(rest))
      throw other
        ? fail(FhirApiErrorCode.NOT_SUPPORTED, 405, "not-supported", `${method} is not supported on ${rest}`)
        : fail(FhirApiErrorCode.NOT_FOUND, 404, "not-supported", `no FHIR interaction at ${rest} (see ${this.baseUrl}/metadata)`)
    }
    const hasBody = method === "POST" || method === "PUT"
    // Only an authenticated caller may make the node buffer a body (the token request excepted).
    if (hasBody && rest !== "auth/token") this.authenticate({headers: req.headers} as Request)
    const body = hasBody ? await this.readBody(req) : Buffer.alloc(0)
    await this.deps.ready?.()
    return route.handler({method, path: rest.split("/"), query: url.searchParams, headers: req.headers, body, base: this.baseUrl}, route.pattern.exec(rest)!)
  }

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const declared = Number(req.headers["content-length"] ?? "0")
    if (declared > this.options.maxBodyBytes) {
      req.resume()
      throw fail(FhirApiErrorCode.TOO_LARGE, 413, "too-costly", `the body of ${declared} bytes exceeds ${this.options.maxBodyBytes}`)
    }
    const chunks: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length
        this.bodyBytesInFlight += (chunk as Buffer).length
        if (size > this.options.maxBodyBytes) {
          req.resume()
          throw fail(FhirApiErrorCode.TOO_LARGE, 413, "too-costly", `the body exceeds ${this.options.maxBodyBytes} bytes`)
        }
        if (this.bodyBytesInFlight > this.options.maxBodyBytesInFlight) {
          req.resume()
          throw fail(FhirApiErrorCode.TOO_LARGE, 503, "throttled", "too many large requests at once; retry shortly")
        }
        chunks.push(chunk as Buffer)
      }
      return Buffer.concat(chunks)
    } finally {
      this.bodyBytesInFlight -= size
    }
  }

  private authenticate(req: Request): AccessToken {
    const header = req.headers.authorization
    const m = typeof header === "string" ? /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(header) : null
    if (m === null) throw fail(FhirApiErrorCode.UNAUTHENTICATED, 401, "login", "a Bearer access token from the token endpoint is required")
    const token = this.tokens.lookup(m[1]!, this.now())
    if (token === undefined) throw fail(FhirApiErrorCode.UNAUTHENTICATED, 401, "expired", "the access token is unknown or expired")
    return token
  }

  private authorize(req: Request, type: string, access: Access): AccessToken {
    const token = this.authenticate(req)
    if (!allows(token, type, access)) {
      throw fail(FhirApiErrorCode.FORBIDDEN, 403, "forbidden", `the token's scopes (${token.scopeText}) do not allow ${access} of ${type}`)
    }
    return token
  }

  /**
   * A read-type interaction's token, checked for scope; a refusal is journalled (with what `about`
   * can tell of the record and patient concerned) before the 403 leaves.
   */
  private async authorizeRead(req: Request, type: string, interaction: InteractionCode, about: () => Promise<{recordId?: string; patient?: string}>): Promise<AccessToken> {
    const token = this.authenticate(req)
    if (!allows(token, type, "read")) {
      const known = await about().catch(() => ({}))
      throw await this.refuse(token, req, {interaction, resourceType: type, ...known}, `the token's scopes (${token.scopeText}) do not allow reading ${type}`)
    }
    return token
  }

  /** Journals an interaction (synced) before its answer leaves. */
  private async journal(
    token: AccessToken,
    req: Request,
    facts: {kind: InteractionKind; interaction: InteractionCode; resourceType: string; recordId?: string; patient?: string; reason?: string},
  ): Promise<void> {
    const q = req.query.toString()
    await this.deps.health.interactions.append({
      kind: facts.kind,
      interaction: facts.interaction,
      resourceType: facts.resourceType,
      recordId: facts.recordId ?? null,
      patient: facts.patient ?? null,
      client: token.client,
      role: token.role,
      purpose: token.purpose,
      breakGlass: token.breakGlass,
      query: `${req.path.join("/")}${q === "" ? "" : `?${q}`}`,
      reason: facts.reason ?? null,
    })
  }

  /** Journals a refusal and returns the 403 to throw. */
  private async refuse(
    token: AccessToken,
    req: Request,
    facts: {interaction: InteractionCode; resourceType: string; recordId?: string; patient?: string},
    message: string,
  ): Promise<FhirApiError> {
    await this.journal(token, req, {...facts, kind: "refused", reason: message})
    return fail(FhirApiErrorCode.FORBIDDEN, 403, "forbidden", message)
  }

  /** The patient a request's `patient`/`subject` parameter names, if it names a known one. */
  private async queryPatient(req: Request): Promise<{patient?: string}> {
    const ref = req.query.get("patient") ?? req.query.get("subject")
    if (ref === null) return {}
    return {patient: await patientKeyOf(this.deps.chain.state(), ref.includes("/") ? ref : `Patient/${ref}`, "patient")}
  }

  // ---------------------------------------------------------------------------------------------
  // SMART token endpoint

  private async token(req: Request): Promise<Reply> {
    const type = String(req.headers["content-type"] ?? "")
    if (!type.startsWith("application/x-www-form-urlencoded")) {
      throw new FhirApiError(FhirApiErrorCode.BAD_REQUEST, "the token request is application/x-www-form-urlencoded", 400, "invalid", {oauthError: "invalid_request"})
    }
    const form = new URLSearchParams(req.body.toString("utf8"))
    if (form.get("grant_type") !== "client_credentials") {
      throw new FhirApiError(FhirApiErrorCode.BAD_REQUEST, "grant_type must be client_credentials", 400, "invalid", {oauthError: "unsupported_grant_type"})
    }
    if (form.get("client_assertion_type") !== CLIENT_ASSERTION_TYPE) {
      throw new FhirApiError(FhirApiErrorCode.UNAUTHENTICATED, `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`, 401, "security", {oauthError: "invalid_client"})
    }
    const nowMs = this.now()
    const assertion = verifyClientAssertion(form.get("client_assertion") ?? "", {audience: `${req.base}/auth/token`, nowMs})
    for (const [jti, expiry] of this.seenJti) {
      if (expiry > nowMs) break
      this.seenJti.delete(jti)
    }
    const jtiKey = `${assertion.client}:${assertion.claims.jti}`
    if (this.seenJti.has(jtiKey)) throw new FhirApiError(FhirApiErrorCode.UNAUTHENTICATED, "this client assertion (jti) was already used", 401, "security", {oauthError: "invalid_client"})
    const identity = await getIdentity(this.deps.chain.state(), assertion.client)
    const auditor = this.auditors.has(assertion.client)
    // An auditor is named by this node's operator and need not be enrolled; a revoked enrolment still ends it.
    if (identity?.revoked === true || (identity === undefined && !auditor)) {
      throw new FhirApiError(FhirApiErrorCode.UNAUTHENTICATED, "the client key is not enrolled on chain (or was revoked)", 401, "security", {oauthError: "invalid_client"})
    }
    const role = auditor ? AUDITOR : identity!.role
    const scopes: Scope[] = []
    for (const text of (form.get("scope") ?? "").split(" ").filter((s) => s !== "")) {
      const scope = parseScope(text)
      if (scope === undefined) continue
      if (auditor) scopes.push(...grantableToAuditor(scope))
      else {
        const granted = grantable(identity!.role, scope)
        if (granted !== undefined) scopes.push(granted)
      }
    }
    if (scopes.length === 0) {
      throw new FhirApiError(FhirApiErrorCode.FORBIDDEN, `none of the requested scopes is allowed for a ${role}`, 400, "forbidden", {oauthError: "invalid_scope"})
    }
    if (assertion.breakGlass && role !== Role.Provider) {
      throw new FhirApiError(FhirApiErrorCode.FORBIDDEN, "only providers may ask for break-glass (ETREAT)", 400, "forbidden", {oauthError: "invalid_scope"})
    }
    this.seenJti.set(jtiKey, assertion.claims.exp * 1000)
    if (this.seenJti.size > MAX_JTI_ENTRIES) this.seenJti.delete(this.seenJti.keys().next().value as string)
    const {token, value} = this.tokens.issue(
      {client: assertion.client, role, hospital: identity?.hospital ?? this.deps.health.hospital, scopes, purpose: assertion.purpose, breakGlass: assertion.breakGlass, assertion: assertion.jwt},
      nowMs,
    )
    this.deps.logger?.info({client: assertion.client, role, scope: value.scopeText, purpose: assertion.claims.purpose_of_use}, "FHIR access token issued")
    return {
      status: 200,
      contentType: "application/json",
      body: {
        access_token: token,
        token_type: "Bearer",
        expires_in: this.options.tokenLifetimeSeconds,
        scope: value.scopeText,
        purpose_of_use: assertion.claims.purpose_of_use,
        ...(role === Role.Patient ? {patient: assertion.client} : {}),
      },
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Records

  private async write(req: Request, type: string, id: string | undefined): Promise<Reply> {
    const token = this.authorize(req, type, "write")
    const anchorHex = req.headers["x-careledger-anchor"]
    const salt = req.headers["x-careledger-salt"]
    if (typeof anchorHex !== "string" || typeof salt !== "string") {
      throw fail(
        FhirApiErrorCode.BAD_REQUEST,
        400,
        "required",
        "a write carries the provider-signed record.anchor transaction (X-CareLedger-Anchor, hex) and its salt (X-CareLedger-Salt, hex); see docs/fhir.md",
      )
    }
    const resource = resourceOf(req.body)
    if (resource.resourceType !== type) throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "invalid", `the body is a ${String(resource.resourceType)}, the URL says ${type}`, [`${type}`])
    const meta = resource.meta as {versionId?: unknown; lastUpdated?: unknown} | undefined
    if (meta?.versionId !== undefined || meta?.lastUpdated !== undefined) {
      throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "invalid", "meta.versionId and meta.lastUpdated are the server's; leave them out", [`${type}.meta`])
    }
    validateFhirResourceStrict(resource)
    const bytes = fromHex(anchorHex)
    let tx: Transaction
    try {
      tx = Transaction.decode(bytes ?? new Uint8Array())
    } catch (err) {
      throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "invalid", `X-CareLedger-Anchor is not a transaction: ${(err as Error).message}`)
    }
    if (tx.type !== TxType.RecordAnchor) throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "invalid", `X-CareLedger-Anchor is a ${tx.type}, not a record.anchor`)
    const anchor = (tx as Transaction<TxType.RecordAnchor>).payload
    const signer = Buffer.from(tx.sender).toString("hex")
    if (signer !== token.client) throw fail(FhirApiErrorCode.FORBIDDEN, 403, "forbidden", "the anchor must be signed by the authenticated client's key")
    if (resource.id !== anchor.recordId) {
      throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "invalid", `the resource id must be the anchored record id ${anchor.recordId}`, [`${type}.id`])
    }
    if (id !== undefined && id !== resource.id) throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "invalid", `the URL id ${id} is not the resource id`, [`${type}.id`])
    if (id === undefined && anchor.version !== 1) throw fail(FhirApiErrorCode.CONFLICT, 409, "conflict", "create is version 1; use PUT for a new version")
    const result = await this.deps.health.put({resource, salt, anchorTx: anchorHex, wait: true})
    const served = await this.decorate(resource, result.recordId, result.version)
    const location = `${req.base}/${type}/${result.recordId}/_history/${result.version}`
    return {status: result.version === 1 ? 201 : 200, body: served, headers: {Location: location, ETag: `W/"${result.version}"`}}
  }

  /** Adds meta.versionId and meta.lastUpdated (the anchor's block time) to a served copy. */
  private async decorate(resource: FhirResource, recordId: string, version: number): Promise<FhirResource> {
    const anchored = (await loadRecordVersions(this.deps.chain.state(), recordId)).find((v) => v.version === version)
    const time = anchored === undefined ? undefined : await this.deps.blockTime(anchored.height)
    const meta = {...(resource.meta as object | undefined), versionId: String(version), ...(time === undefined ? {} : {lastUpdated: new Date(time).toISOString()})}
    return {...resource, meta}
  }

  private async read(req: Request, type: string, id: string, version: number | undefined): Promise<Reply> {
    const interaction = version === undefined ? "read" : "vread"
    const token = await this.authorizeRead(req, type, interaction, async () => {
      const r = await loadRecord(this.deps.chain.state(), id)
      return r === undefined || r.resourceType !== type ? {} : {recordId: id, patient: r.patient}
    })
    const record = await loadRecord(this.deps.chain.state(), id)
    if (record === undefined || record.resourceType !== type) throw fail(FhirApiErrorCode.NOT_FOUND, 404, "not-found", `${type}/${id} is not known`)
    if (token.role === Role.Patient && record.patient !== token.client) {
      throw await this.refuse(token, req, {interaction, resourceType: type, recordId: id, patient: record.patient}, "a patient token reads only its own records")
    }
    const result = await this.deps.health.readAs({reader: fromHex(token.client)!, purpose: token.purpose, breakGlass: token.breakGlass, assertion: token.assertion}, id, version)
    const body = await this.decorate(result.resource, id, result.version)
    return {status: 200, body, headers: {ETag: `W/"${result.version}"`, ...(result.decision === "break-glass" ? {"X-CareLedger-Break-Glass": "true"} : {})}}
  }

  private pageParams(req: Request): {count: number; offset: number} {
    const countText = req.query.get("_count")
    const offsetText = req.query.get("_offset")
    const count = countText === null ? this.options.defaultPageSize : Number(countText)
    const offset = offsetText === null ? 0 : Number(offsetText)
    if (!Number.isSafeInteger(count) || count < 0) throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "invalid", "_count must be a non-negative integer", ["_count"])
    if (!Number.isSafeInteger(offset) || offset < 0) throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "invalid", "_offset must be a non-negative integer", ["_offset"])
    return {count: Math.min(count, this.options.maxPageSize), offset}
  }

  private checkParams(req: Request, allowed: string[]): void {
    for (const key of req.query.keys()) {
      if (!allowed.includes(key)) throw fail(FhirApiErrorCode.NOT_SUPPORTED, 400, "not-supported", `search parameter ${key} is not supported (supported: ${allowed.join(", ")})`, [key])
    }
  }

  private bundle(req: Request, type: string, entries: FhirResource[], total: number | undefined, page: {count: number; offset: number}, more: boolean): Reply {
    const link = (offset: number): string => {
      const q = new URLSearchParams(req.query)
      q.set("_count", String(page.count))
      q.set("_offset", String(offset))
      return `${req.base}/${req.path.join("/")}?${q.toString()}`
    }
    return {
      status: 200,
      body: {
        resourceType: "Bundle",
        type: "searchset",
        ...(total === undefined ? {} : {total}),
        link: [
          {relation: "self", url: link(page.offset)},
          ...(more ? [{relation: "next", url: link(page.offset + page.count)}] : []),
          ...(page.offset > 0 ? [{relation: "previous", url: link(Math.max(0, page.offset - page.count))}] : []),
        ],
        entry: entries.map((resource) => ({
          fullUrl: `${req.base}/${type === "*" ? resource.resourceType : type}/${String(resource.id)}`,
          resource,
          search: {mode: "match"},
        })),
      },
    }
  }

  /** The patient a search names; a patient token may only name itself (a refusal is journalled). */
  private async searchPatient(req: Request, token: AccessToken, type: string, required: boolean): Promise<string | undefined> {
    const {patient} = await this.queryPatient(req)
    if (patient === undefined) {
      if (token.role === Role.Patient) return token.client
      if (required) throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "required", "this search needs a patient parameter", ["patient"])
      return undefined
    }
    if (token.role === Role.Patient && patient !== token.client) {
      throw await this.refuse(token, req, {interaction: "search-type", resourceType: type, patient}, "a patient token searches only its own data")
    }
    return patient
  }

  /**
   * The patient whose consents or audit trail are searched: a patient's own, or any patient's for an
   * auditor. Anyone else is refused, and the refusal journalled.
   */
  private async trailPatient(req: Request, token: AccessToken, type: string): Promise<string> {
    if (token.role !== Role.Patient && token.role !== AUDITOR) {
      const known = await this.queryPatient(req).catch(() => ({}))
      throw await this.refuse(token, req, {interaction: "search-type", resourceType: type, ...known}, `${type} search is for the patient's own token (patient/${type}.read) or an auditor's (system/${type}.read)`)
    }
    return (await this.searchPatient(req, token, type, true))!
  }

  private lastUpdatedFilter(req: Request): (t: number) => boolean {
    const tests: ((t: number) => boolean)[] = []
    for (const value of req.query.getAll("_lastUpdated")) {
      const m = /^(eq|ne|gt|lt|ge|le)?(.+)$/.exec(value)!
      const prefix = m[1] ?? "eq"
      const at = Date.parse(m[2]!)
      if (Number.isNaN(at)) throw fail(FhirApiErrorCode.BAD_REQUEST, 400, "invalid", `_lastUpdated ${JSON.stringify(value)} is not a date`, ["_lastUpdated"])
      const cmp: Record<string, (t: number) => boolean> = {
        eq: (t) => t === at,
        ne: (t) => t !== at,
        gt: (t) => t > at,
        lt: (t) => t < at,
        ge: (t) => t >= at,
        le: (t) => t <= at,
      }
      tests.push(cmp[prefix]!)
    }
    return (t) => tests.every((test) => test(t))
  }

  /**
   * Records matching type/patient/_lastUpdated, in id order: with a patient, that patient's records at
   * every hospital (the chain's index); without, the records this node is custodian of.
   */
  private async matchingRecords(req: Request, type: string | undefined, patient: string | undefined): Promise<{recordId: string; type: string}[]> {
    const filter = this.lastUpdatedFilter(req)
    const found: {recordId: string; type: string}[] = []
    const ids = patient === undefined ? await this.deps.health.custodyRecordIds() : await listRecordIdsOfPatient(this.deps.chain.state(), patient)
    for (const recordId of ids) {
      const record = await loadRecord(this.deps.chain.state(), recordId)
      if (record === undefined || record.erased) continue
      if (type !== undefined && record.resourceType !== type) continue
      if (patient !== undefined && record.patient !== patient) continue
      if (req.query.has("_lastUpdated")) {
        const latest = (await loadRecordVersions(this.deps.chain.state(), recordId)).find((v) => v.version === record.version)
        const time = latest === undefined ? undefined : await this.deps.blockTime(latest.height)
        if (time === undefined || !filter(time)) continue
      }
      found.push({recordId, type: record.resourceType})
    }
    return found
  }

  /** Reads each match as the token's holder; what consent refuses is left out (and logged by the custodian). */
  private async readAll(token: AccessToken, matches: {recordId: string; type: string}[]): Promise<FhirResource[]> {
    const out: FhirResource[] = []
    for (const {recordId} of matches) {
      try {
        const r = await this.deps.health.readAs({reader: fromHex(token.client)!, purpose: token.purpose, breakGlass: token.breakGlass, assertion: token.assertion}, recordId)
        out.push(await this.decorate(r.resource, recordId, r.version))
      } catch (err) {
        if (isCareLedgerError(err) && (err.code === "HEALTH_ERROR_ACCESS_DENIED" || err.code === "HEALTH_ERROR_RECORD_ERASED")) continue
        throw err
      }
    }
    return out
  }

  private async search(req: Request, type: string): Promise<Reply> {
    const token = await this.authorizeRead(req, type, "search-type", () => this.queryPatient(req))
    this.checkParams(req, ["patient", "subject", "_lastUpdated", "_count", "_offset"])
    const patient = await this.searchPatient(req, token, type, false)
    const page = this.pageParams(req)
    const matches = await this.matchingRecords(req, type, patient)
    const slice = matches.slice(page.offset, page.offset + page.count)
    const reply = this.bundle(req, type, await this.readAll(token, slice), undefined, page, page.offset + page.count < matches.length)
    await this.journal(token, req, {kind: "search", interaction: "search-type", resourceType: type, patient})
    return reply
  }

  private async everything(req: Request, id: string): Promise<Reply> {
    this.authenticate(req)
    const key = await patientKeyOf(this.deps.chain.state(), `Patient/${id}`, "id")
    const token = await this.authorizeRead(req, "Patient", "operation", async () => ({patient: key}))
    this.checkParams(req, ["_count", "_offset"])
    if (token.role !== Role.Patient || key !== token.client) {
      throw await this.refuse(token, req, {interaction: "operation", resourceType: "Patient", patient: key}, "$everything is for the authenticated patient's own data (a patient token)")
    }
    const page = this.pageParams(req)
    const matches = await this.matchingRecords(req, undefined, key)
    const slice = matches.slice(page.offset, page.offset + page.count)
    const reply = this.bundle(req, "*", await this.readAll(token, slice), matches.length, page, page.offset + page.count < matches.length)
    await this.journal(token, req, {kind: "export", interaction: "operation", resourceType: "Patient", patient: key})
    return reply
  }

  private async searchConsent(req: Request): Promise<Reply> {
    const token = await this.authorizeRead(req, "Consent", "search-type", () => this.queryPatient(req))
    this.checkParams(req, ["patient", "_count", "_offset"])
    const patient = await this.trailPatient(req, token, "Consent")
    const page = this.pageParams(req)
    const now = this.now()
    const all = await listConsents(this.deps.chain.state(), {patient}, MAX_LIST_LIMIT)
    const slice = all.slice(page.offset, page.offset + page.count)
    const context = await exportContext(this.deps.chain.state(), slice, [], (await getIdentity(this.deps.chain.state(), patient))?.hospital, (h) => this.deps.blockTime(h))
    const entries = slice.map((c) => consentToFhir(c, now, context))
    await this.journal(token, req, {kind: "search", interaction: "search-type", resourceType: "Consent", patient})
    return this.bundle(req, "Consent", entries, all.length, page, page.offset + page.count < all.length)
  }

  private async searchAudit(req: Request): Promise<Reply> {
    const token = await this.authorizeRead(req, "AuditEvent", "search-type", () => this.queryPatient(req))
    this.checkParams(req, ["patient", "_count", "_offset"])
    const patient = await this.trailPatient(req, token, "AuditEvent")
    const page = this.pageParams(req)
    // Reads and refusals from the access log, the chain's other facts about the patient's data, and
    // this node's journal of searches, exports and scope refusals.
    const access = await wholeTrail(this.deps.chain.state(), patient)
    type Event = {at: number} & ({access: (typeof access)[number]} | {chain: ChainEvent} | {interaction: InteractionEntry})
    const events: Event[] = access.map((entry) => ({at: entry.at, access: entry}))
    for (const event of await this.chainEvents(patient)) events.push({at: event.at, chain: event})
    for (const entry of await this.deps.health.interactions.of(patient)) events.push({at: entry.at, interaction: entry})
    events.sort((a, b) => b.at - a.at)
    const slice = events.slice(page.offset, page.offset + page.count)
    const context = await exportContext(this.deps.chain.state(), [], slice.flatMap((e) => ("access" in e ? [e.access] : [])))
    const entries = slice.map((e) => ("access" in e ? accessEntryToFhir(e.access, context) : "chain" in e ? chainEventToFhir(e.chain) : interactionToFhir(e.interaction)))
    await this.journal(token, req, {kind: "search", interaction: "search-type", resourceType: "AuditEvent", patient})
    return this.bundle(req, "AuditEvent", entries, events.length, page, page.offset + page.count < events.length)
  }

  /** Anchors of the patient's records at every hospital and the patient's consent grants and revocations, with block times. */
  private async chainEvents(patient: string): Promise<ChainEvent[]> {
    const events: ChainEvent[] = []
    const timeOf = async (height: number): Promise<number> => (await this.deps.blockTime(height)) ?? 0
    for (const recordId of await listRecordIdsOfPatient(this.deps.chain.state(), patient)) {
      const record = await loadRecord(this.deps.chain.state(), recordId)
      if (record === undefined || record.patient !== patient) continue
      for (const v of await loadRecordVersions(this.deps.chain.state(), recordId)) {
        events.push({
          kind: "anchor",
          recordId,
          resourceType: record.resourceType,
          version: v.version,
          patient,
          author: v.anchoredBy,
          custodian: record.custodian,
          txHash: v.txHash,
          at: await timeOf(v.height),
        })
      }
    }
    for (const consent of await listConsents(this.deps.chain.state(), {patient}, MAX_LIST_LIMIT)) {
      events.push({kind: "consent", consentId: consent.id, patient, revoked: false, at: await timeOf(consent.grantedAt)})
      if (consent.revokedAt !== null) events.push({kind: "consent", consentId: consent.id, patient, revoked: true, at: await timeOf(consent.revokedAt)})
    }
    return events
  }
}
