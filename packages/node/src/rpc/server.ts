import type {IncomingMessage, Server, ServerResponse} from "node:http"
import type {AddressInfo} from "node:net"
import type {Duplex} from "node:stream"
import {randomBytes} from "node:crypto"
import {WebSocketServer, type WebSocket} from "ws"
import type {Logger} from "../logger/index.js"
import type {SubscriptionTopic} from "@careledger/core"
import {NodeConfigError, NodeConfigErrorCode} from "../config/errors.js"
import {FailureLimiter, TokenStore} from "./auth.js"
import {RpcErrorCode, RpcServerError, toJsonRpcError, type JsonRpcErrorObject} from "./errors.js"
import type {HeadFeed} from "./feed.js"
import {permits, type CallContext, type Permission, type RpcMethod} from "./method.js"
import {BrowserGuard} from "./browser.js"
import {STATUS_TEXT, closeHttpServer, createHttpServer, isJsonContentType, listenHttpServer, nestedDeeperThan, readBody, readTlsFiles, send, type TlsFiles} from "./http.js"
import {isLoopback, type RpcServerOptions} from "./options.js"

type JsonRpcId = string | number | null

interface JsonRpcResponse {
  jsonrpc: "2.0"
  id: JsonRpcId
  result?: unknown
  error?: JsonRpcErrorObject
}

/** Counts requests for metrics, without the server knowing about Prometheus. */
export interface RpcObserver {
  /** One call or refusal; `seconds` (dispatched calls) is the time from dispatch to answer. */
  request(method: string, outcome: "ok" | "error", seconds?: number): void
}

export interface RpcServerDeps {
  methods: ReadonlyMap<string, RpcMethod>
  logger: Logger
  feed?: HeadFeed
  observer?: RpcObserver
}

/** Per WebSocket connection: its subscriptions, each an unsubscribe function. */
interface SocketSession {
  socket: WebSocket
  subscriptions: Map<string, () => void>
}

/** Deepest nesting of arrays and objects a request may have (a FHIR resource in a signed request needs far less). */
export const MAX_JSON_DEPTH = 64

/** Oversize bodies are read and discarded up to this many times the limit; past it the connection is cut. */
const DRAIN_FACTOR = 8

/**
 * JSON-RPC 2.0 over HTTP (single and batch) and WebSocket (plus head subscriptions). Requests are
 * bounded in size and batch length; a bad request gets an error object and reaches no handler.
 */
export class RpcServer {
  private readonly options: RpcServerOptions
  private readonly deps: RpcServerDeps
  private readonly tokens: TokenStore | null
  private readonly limiter: FailureLimiter
  private server: Server | null = null
  private wss: WebSocketServer | null = null
  private readonly sessions = new Set<SocketSession>()
  private readonly guard: BrowserGuard
  private readonly tls: TlsFiles | null

  constructor(options: RpcServerOptions, deps: RpcServerDeps) {
    this.options = options
    this.deps = deps
    this.tokens = options.tokensFile === null ? null : TokenStore.fromFile(options.tokensFile)
    this.guard = new BrowserGuard(options)
    this.tls = readTlsFiles(options.tlsCert, options.tlsKey, {cert: "--rpc-tls-cert", key: "--rpc-tls-key"})
    if (this.tokens === null && !isLoopback(options.host)) {
      throw new NodeConfigError(
        NodeConfigErrorCode.AUTH_REQUIRED,
        `RPC host ${options.host} is not loopback: set a tokens file (--rpc-tokens) so callers must authenticate`,
      )
    }
    this.limiter = new FailureLimiter({
      maxFailures: options.maxAuthFailures,
      windowMs: options.authFailureWindowMs,
      maxAddresses: 10_000,
    })
  }

  get authRequired(): boolean {
    return this.tokens !== null
  }

  async start(): Promise<void> {
    if (this.server !== null) return
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => void this.onHttp(req, res)
    const server: Server = createHttpServer(this.tls, onRequest)
    const wss = new WebSocketServer({noServer: true, maxPayload: this.options.maxBodyBytes})
    server.on("upgrade", (req, socket, head) => this.onUpgrade(wss, req, socket, head))
    await listenHttpServer(server, this.options.port, this.options.host)
    this.server = server
    this.wss = wss
    this.deps.logger.info({url: this.url, auth: this.authRequired, tls: this.tls !== null}, "JSON-RPC listening")
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === null) return
    this.server = null
    for (const session of this.sessions) {
      for (const unsubscribe of session.subscriptions.values()) unsubscribe()
      session.socket.terminate()
    }
    this.sessions.clear()
    this.wss?.close()
    this.wss = null
    await closeHttpServer(server)
  }

  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined
    return address?.port ?? this.options.port
  }

  get url(): string {
    const host = this.options.host.includes(":") && !this.options.host.startsWith("[") ? `[${this.options.host}]` : this.options.host
    return `${this.tls === null ? "http" : "https"}://${host}:${this.port}`
  }

  get wsUrl(): string {
    return this.url.replace(/^http/, "ws")
  }

  /** Decides the caller's permission, or the error (with HTTP status) that refuses it. */
  private authenticate(address: string, header: string | undefined): {permission: Permission} | {status: number; error: RpcServerError} {
    if (this.tokens === null) return {permission: "admin"}
    if (this.limiter.blocked(address)) {
      return {status: 429, error: new RpcServerError(RpcErrorCode.RATE_LIMITED, "too many wrong tokens from this address; try later")}
    }
    const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header)
    if (match === null) {
      return {status: 401, error: new RpcServerError(RpcErrorCode.TOKEN_MISSING, "this node requires an Authorization: Bearer token")}
    }
    const entry = this.tokens.lookup(match[1]!)
    if (entry === undefined) {
      this.limiter.recordFailure(address)
      this.deps.logger.warn({client: address}, "RPC request with an unknown token")
      return {status: 401, error: new RpcServerError(RpcErrorCode.TOKEN_UNKNOWN, "unknown token")}
    }
    return {permission: entry.permission}
  }

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const address = req.socket.remoteAddress ?? "unknown"
    const screened = this.guard.screen(req.headers)
    if (screened !== null) {
      this.deps.observer?.request("(refused)", "error")
      this.refuse(req, res, screened.status, screened.error)
      return
    }
    const cors = this.guard.corsHeaders(req.headers)
    if (req.method === "OPTIONS") {
      req.resume()
      res.writeHead(204, {...this.guard.preflightHeaders(req.headers), allow: "POST, OPTIONS"}).end()
      return
    }
    if (req.method !== "POST") {
      this.refuse(req, res, 405, new RpcServerError(RpcErrorCode.INVALID_REQUEST, "JSON-RPC requests are POSTed"), {...cors, allow: "POST, OPTIONS"})
      return
    }
    if (!isJsonContentType(req.headers["content-type"])) {
      // A page may POST text/plain across origins without a preflight: such a request runs nothing.
      this.refuse(req, res, 415, new RpcServerError(RpcErrorCode.UNSUPPORTED_MEDIA_TYPE, "send requests with Content-Type: application/json"), cors)
      return
    }
    const auth = this.authenticate(address, req.headers.authorization)
    if ("error" in auth) {
      this.deps.observer?.request("(auth)", "error")
      this.refuse(req, res, auth.status, auth.error, cors)
      return
    }
    const body = await readBody(req, this.options.maxBodyBytes, this.options.maxBodyBytes * DRAIN_FACTOR)
    if (body.kind === "aborted") return
    if (body.kind === "too-large") {
      this.deps.observer?.request("(oversize)", "error")
      const error = new RpcServerError(RpcErrorCode.REQUEST_TOO_LARGE, `request body exceeds ${this.options.maxBodyBytes} bytes`, {
        limit: this.options.maxBodyBytes,
      })
      send(res, 413, errorResponse(null, error), true, cors)
      return
    }
    const reply = await this.handleText(body.text, {permission: auth.permission, clientAddress: address}, null)
    if (reply === undefined) {
      res.writeHead(204, cors).end()
      return
    }
    send(res, 200, reply, false, cors)
  }

  /**
   * Answers a request refused before its body is read. The body is read and discarded first (up to
   * a bound), so a client still sending gets the answer instead of a reset connection.
   */
  private refuse(req: IncomingMessage, res: ServerResponse, status: number, error: RpcServerError, headers: Record<string, string> = {}): void {
    void readBody(req, 0, this.options.maxBodyBytes * DRAIN_FACTOR).then((body) => {
      if (body.kind !== "aborted") send(res, status, errorResponse(null, error), true, headers)
    })
  }

  private onUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const address = req.socket.remoteAddress ?? "unknown"
    const inUrl = new URL(req.url ?? "/", "http://localhost").searchParams.has("token")
    const refusal =
      this.guard.screen(req.headers) ??
      (inUrl ? {status: 400, error: new RpcServerError(RpcErrorCode.TOKEN_IN_URL, "send the token in an Authorization header, never in a URL")} : null)
    const auth = refusal ?? this.authenticate(address, req.headers.authorization)
    if ("error" in auth) {
      const body = JSON.stringify(errorResponse(null, auth.error))
      socket.end(
        `HTTP/1.1 ${auth.status} ${STATUS_TEXT[auth.status] ?? "Refused"}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session: SocketSession = {socket: ws, subscriptions: new Map()}
      this.sessions.add(session)
      const call: CallContext = {permission: auth.permission, clientAddress: address}
      ws.on("message", (data, isBinary) => {
        const text = isBinary ? null : Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.concat(data as Buffer[]).toString("utf8")
        if (text === null) {
          ws.send(JSON.stringify(errorResponse(null, new RpcServerError(RpcErrorCode.PARSE, "send JSON text frames"))))
          return
        }
        void this.handleText(text, call, session).then((reply) => {
          if (reply !== undefined && ws.readyState === ws.OPEN) ws.send(JSON.stringify(reply))
        })
      })
      ws.on("close", () => {
        for (const unsubscribe of session.subscriptions.values()) unsubscribe()
        this.sessions.delete(session)
      })
      ws.on("error", () => ws.terminate())
    })
  }

  /** Handles one request body: a single call or a batch; undefined when nothing needs an answer. */
  async handleText(text: string, call: CallContext, session: SocketSession | null): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
    let request: unknown
    try {
      request = JSON.parse(text)
    } catch {
      this.deps.observer?.request("(parse)", "error")
      return errorResponse(null, new RpcServerError(RpcErrorCode.PARSE, "request is not valid JSON"))
    }
    // Handlers, hashing and answers walk values recursively: a deeper body is refused before any of them.
    if (nestedDeeperThan(request, MAX_JSON_DEPTH)) {
      this.deps.observer?.request("(parse)", "error")
      return errorResponse(null, new RpcServerError(RpcErrorCode.PARSE, `request JSON is nested deeper than ${MAX_JSON_DEPTH} levels`, {limit: MAX_JSON_DEPTH}))
    }
    if (!Array.isArray(request)) return this.dispatch(request, call, session)
    if (request.length === 0) return errorResponse(null, new RpcServerError(RpcErrorCode.INVALID_REQUEST, "empty batch"))
    if (request.length > this.options.maxBatch) {
      return errorResponse(
        null,
        new RpcServerError(RpcErrorCode.BATCH_TOO_LARGE, `batch of ${request.length} calls exceeds ${this.options.maxBatch}`, {
          limit: this.options.maxBatch,
        }),
      )
    }
    // Calls run in order, so a batch of transactions from one sender keeps its nonce order.
    const replies: JsonRpcResponse[] = []
    for (const item of request) {
      const reply = await this.dispatch(item, call, session)
      if (reply !== undefined) replies.push(reply)
    }
    return replies.length === 0 ? undefined : replies
  }

  private async dispatch(request: unknown, call: CallContext, session: SocketSession | null): Promise<JsonRpcResponse | undefined> {
    if (request === null || typeof request !== "object" || Array.isArray(request)) {
      return errorResponse(null, new RpcServerError(RpcErrorCode.INVALID_REQUEST, "a request is an object"))
    }
    const {jsonrpc, method: name, params, id} = request as Record<string, unknown>
    const hasId = Object.hasOwn(request, "id")
    const validId = id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id))
    const replyId: JsonRpcId = validId ? (id as JsonRpcId) : null
    if (jsonrpc !== "2.0" || typeof name !== "string" || (hasId && !validId) || (params !== undefined && (params === null || typeof params !== "object"))) {
      return errorResponse(replyId, new RpcServerError(RpcErrorCode.INVALID_REQUEST, "not a JSON-RPC 2.0 request (jsonrpc, method, params, id)"))
    }
    let result: unknown
    const started = performance.now()
    // Only known names become labels, so a caller cannot grow the metrics without bound.
    const label = this.deps.methods.has(name) || name === "chain_subscribe" || name === "chain_unsubscribe" ? name : "(unknown)"
    try {
      result = await this.invoke(name, params, call, session)
    } catch (err) {
      const error = toJsonRpcError(err)
      if (error.code === -32603) this.deps.logger.error({err, method: name}, "RPC handler failed")
      this.deps.observer?.request(label, "error", (performance.now() - started) / 1000)
      return hasId ? {jsonrpc: "2.0", id: replyId, error} : undefined
    }
    this.deps.observer?.request(label, "ok", (performance.now() - started) / 1000)
    return hasId ? {jsonrpc: "2.0", id: replyId, result: result ?? null} : undefined
  }

  private async invoke(name: string, params: unknown, call: CallContext, session: SocketSession | null): Promise<unknown> {
    if (name === "chain_subscribe" || name === "chain_unsubscribe") {
      if (session === null) throw new RpcServerError(RpcErrorCode.WEBSOCKET_ONLY, `${name} needs a WebSocket connection`)
      return name === "chain_subscribe" ? this.subscribe(session, params) : this.unsubscribe(session, params)
    }
    const method = this.deps.methods.get(name)
    if (method === undefined) throw new RpcServerError(RpcErrorCode.METHOD_NOT_FOUND, `unknown method ${name}`)
    if (!permits(call.permission, method.permission)) {
      throw new RpcServerError(RpcErrorCode.PERMISSION, `${name} needs ${method.permission} permission, the token has ${call.permission}`, {
        required: method.permission,
      })
    }
    return method.invoke(params, call)
  }

  private subscribe(session: SocketSession, params: unknown): string {
    const topic = Array.isArray(params) ? params[0] : (params as {topic?: unknown} | undefined)?.topic
    if (topic !== "newHeads" && topic !== "finalized") {
      throw new RpcServerError(RpcErrorCode.INVALID_PARAMS, "topic must be newHeads or finalized", {param: "topic"})
    }
    if (this.deps.feed === undefined) throw new RpcServerError(RpcErrorCode.UNAVAILABLE, "this server has no chain feed")
    if (session.subscriptions.size >= this.options.maxSubscriptionsPerSocket) {
      throw new RpcServerError(RpcErrorCode.INVALID_REQUEST, `at most ${this.options.maxSubscriptionsPerSocket} subscriptions per connection`)
    }
    const id = `0x${randomBytes(8).toString("hex")}`
    const unsubscribe = this.deps.feed.subscribe(topic as SubscriptionTopic, (head) => {
      if (session.socket.readyState !== session.socket.OPEN) return
      session.socket.send(JSON.stringify({jsonrpc: "2.0", method: "chain_subscription", params: {subscription: id, result: head}}))
    })
    session.subscriptions.set(id, unsubscribe)
    return id
  }

  private unsubscribe(session: SocketSession, params: unknown): boolean {
    const id = Array.isArray(params) ? params[0] : (params as {subscription?: unknown} | undefined)?.subscription
    if (typeof id !== "string") throw new RpcServerError(RpcErrorCode.INVALID_PARAMS, "subscription must be a string id", {param: "subscription"})
    const unsubscribe = session.subscriptions.get(id)
    if (unsubscribe === undefined) return false
    unsubscribe()
    session.subscriptions.delete(id)
    return true
  }
}

function errorResponse(id: JsonRpcId, err: unknown): JsonRpcResponse {
  return {jsonrpc: "2.0", id, error: toJsonRpcError(err)}
}
