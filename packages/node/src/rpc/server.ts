import {createServer, type IncomingMessage, type Server, type ServerResponse} from "node:http"
import type {AddressInfo} from "node:net"
import type {Duplex} from "node:stream"
import {randomBytes} from "node:crypto"
import {WebSocketServer, type WebSocket} from "ws"
import type {Logger} from "pino"
import type {SubscriptionTopic} from "@careledger/client"
import {NodeConfigError, NodeConfigErrorCode} from "../config/errors.js"
import {FailureLimiter, TokenStore} from "./auth.js"
import {RpcErrorCode, RpcServerError, toJsonRpcError, type JsonRpcErrorObject} from "./errors.js"
import type {HeadFeed} from "./feed.js"
import {permits, type CallContext, type Permission, type RpcMethod} from "./method.js"
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
  request(method: string, outcome: "ok" | "error"): void
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

  constructor(options: RpcServerOptions, deps: RpcServerDeps) {
    this.options = options
    this.deps = deps
    this.tokens = options.tokensFile === null ? null : TokenStore.fromFile(options.tokensFile)
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
    const server = createServer((req, res) => void this.onHttp(req, res))
    const wss = new WebSocketServer({noServer: true, maxPayload: this.options.maxBodyBytes})
    server.on("upgrade", (req, socket, head) => this.onUpgrade(wss, req, socket, head))
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(this.options.port, this.options.host, () => {
        server.off("error", reject)
        resolve()
      })
    })
    this.server = server
    this.wss = wss
    this.deps.logger.info({url: this.url, auth: this.authRequired}, "JSON-RPC listening")
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
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined
    return address?.port ?? this.options.port
  }

  get url(): string {
    const host = this.options.host.includes(":") && !this.options.host.startsWith("[") ? `[${this.options.host}]` : this.options.host
    return `http://${host}:${this.port}`
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
    if (req.method !== "POST") {
      this.refuse(req, res, 405, new RpcServerError(RpcErrorCode.INVALID_REQUEST, "JSON-RPC requests are POSTed"))
      return
    }
    const auth = this.authenticate(address, req.headers.authorization)
    if ("error" in auth) {
      this.deps.observer?.request("(auth)", "error")
      this.refuse(req, res, auth.status, auth.error)
      return
    }
    const body = await readBody(req, this.options.maxBodyBytes, this.options.maxBodyBytes * DRAIN_FACTOR)
    if (body.kind === "aborted") return
    if (body.kind === "too-large") {
      this.deps.observer?.request("(oversize)", "error")
      const error = new RpcServerError(RpcErrorCode.REQUEST_TOO_LARGE, `request body exceeds ${this.options.maxBodyBytes} bytes`, {
        limit: this.options.maxBodyBytes,
      })
      send(res, 413, errorResponse(null, error), true)
      return
    }
    const reply = await this.handleText(body.text, {permission: auth.permission, clientAddress: address}, null)
    if (reply === undefined) {
      res.writeHead(204).end()
      return
    }
    send(res, 200, reply)
  }

  /**
   * Answers a request refused before its body is read. The body is read and discarded first (up to
   * a bound), so a client still sending gets the answer instead of a reset connection.
   */
  private refuse(req: IncomingMessage, res: ServerResponse, status: number, error: RpcServerError): void {
    void readBody(req, 0, this.options.maxBodyBytes * DRAIN_FACTOR).then((body) => {
      if (body.kind !== "aborted") send(res, status, errorResponse(null, error), true)
    })
  }

  private onUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const address = req.socket.remoteAddress ?? "unknown"
    const token = new URL(req.url ?? "/", "http://localhost").searchParams.get("token")
    const auth = this.authenticate(address, req.headers.authorization ?? (token === null ? undefined : `Bearer ${token}`))
    if ("error" in auth) {
      const body = JSON.stringify(errorResponse(null, auth.error))
      socket.end(
        `HTTP/1.1 ${auth.status} ${auth.status === 429 ? "Too Many Requests" : "Unauthorized"}\r\n` +
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
    try {
      result = await this.invoke(name, params, call, session)
    } catch (err) {
      const error = toJsonRpcError(err)
      if (error.code === -32603) this.deps.logger.error({err, method: name}, "RPC handler failed")
      this.deps.observer?.request(this.deps.methods.has(name) ? name : "(unknown)", "error")
      return hasId ? {jsonrpc: "2.0", id: replyId, error} : undefined
    }
    this.deps.observer?.request(name, "ok")
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

function send(res: ServerResponse, status: number, payload: unknown, close = false): void {
  const body = JSON.stringify(payload)
  const headers: Record<string, string | number> = {"content-type": "application/json", "content-length": Buffer.byteLength(body)}
  if (close) headers.connection = "close"
  res.writeHead(status, headers).end(body)
}

type BodyRead = {kind: "body"; text: string} | {kind: "too-large"} | {kind: "aborted"}

/**
 * Reads a body of at most `limit` bytes. A larger one is read to its end and discarded, so the
 * client has finished sending when it gets the 413 and the close cannot reset its connection (a
 * reset discards an unread answer on the client's side). Past `drainLimit` (declared or sent) the
 * answer comes at once and the connection closes: such a client may see a reset instead.
 */
function readBody(req: IncomingMessage, limit: number, drainLimit: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let settled = false
    const settle = (value: BodyRead): void => {
      if (settled) return
      settled = true
      resolve(value)
    }
    if (Number(req.headers["content-length"] ?? "0") > drainLimit) {
      settle({kind: "too-large"})
      return
    }
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
      else if (size > drainLimit) settle({kind: "too-large"})
      else chunks.length = 0
    })
    req.on("end", () => settle(size > limit ? {kind: "too-large"} : {kind: "body", text: Buffer.concat(chunks).toString("utf8")}))
    req.on("error", () => settle({kind: "aborted"}))
    req.on("close", () => settle({kind: "aborted"}))
  })
}
