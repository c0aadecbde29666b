/**
 * HTTP plumbing of the RPC server (shared with the FHIR endpoint): bounded body reading, answers,
 * request checks on raw values, and HTTPS from a configured certificate.
 */
import {readFileSync} from "node:fs"
import {createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse} from "node:http"
import {createServer as createTlsServer} from "node:https"
import {NodeConfigError, NodeConfigErrorCode} from "../config/errors.js"
import {readPrivateFile} from "./auth.js"

/** True when `value` nests arrays or objects more than `limit` deep; iterative, so any depth is safe to check. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: {value: unknown; depth: number}[] = [{value, depth: 1}]
  while (stack.length > 0) {
    const {value: current, depth} = stack.pop()!
    if (current === null || typeof current !== "object") continue
    if (depth > limit) return true
    for (const child of Array.isArray(current) ? current : Object.values(current)) stack.push({value: child, depth: depth + 1})
  }
  return false
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}

/** True for `application/json`, with or without parameters such as a charset. */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && header.split(";")[0]!.trim().toLowerCase() === "application/json"
}

/** A PEM file anyone may read (a certificate); a missing or unreadable one stops the node at start. */
export function readPublicFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new NodeConfigError(NodeConfigErrorCode.BAD_VALUE, `cannot read the ${what} ${path}: ${(err as Error).message}`, {path})
  }
}

/** A PEM certificate (chain) and its private key. */
export interface TlsFiles {
  cert: Buffer
  key: Buffer
}

/**
 * The certificate and key a server speaks HTTPS with, or null for plain HTTP. Both or neither must
 * be set (`flags` names them in the error); the key file must be private (mode 600).
 */
export function readTlsFiles(cert: string | null, key: string | null, flags: {cert: string; key: string}): TlsFiles | null {
  if ((cert === null) !== (key === null)) {
    throw new NodeConfigError(NodeConfigErrorCode.BAD_VALUE, `TLS needs both a certificate (${flags.cert}) and its key (${flags.key})`)
  }
  return cert === null || key === null ? null : {cert: readPublicFile(cert, "TLS certificate"), key: readPrivateFile(key, "TLS key")}
}

/** An HTTPS server when given TLS files, plain HTTP otherwise. */
export function createHttpServer(tls: TlsFiles | null, onRequest: RequestListener): Server {
  return tls === null ? createServer(onRequest) : createTlsServer({cert: tls.cert, key: tls.key}, onRequest)
}

export function send(res: ServerResponse, status: number, payload: unknown, close = false, extra: Record<string, string> = {}): void {
  const body = JSON.stringify(payload)
  const headers: Record<string, string | number> = {...extra, "content-type": "application/json", "content-length": Buffer.byteLength(body)}
  if (close) headers.connection = "close"
  res.writeHead(status, headers).end(body)
}

export type BodyRead = {kind: "body"; text: string} | {kind: "too-large"} | {kind: "aborted"}

/**
 * Reads a body of at most `limit` bytes. A larger one is read to its end and discarded, so the
 * client has finished sending when it gets the 413 and the close cannot reset its connection (a
 * reset discards an unread answer on the client's side). Past `drainLimit` (declared or sent) the
 * answer comes at once and the connection closes: such a client may see a reset instead.
 */
export function readBody(req: IncomingMessage, limit: number, drainLimit: number): Promise<BodyRead> {
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

/** Binds the server; a failure to bind (port taken, address not local) rejects instead of crashing the process. */
export async function listenHttpServer(server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, host, () => {
      server.off("error", reject)
      resolve()
    })
  })
}

/** Drops every open connection (keep-alive ones included) and resolves once the server has closed. */
export async function closeHttpServer(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
