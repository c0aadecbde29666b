import {networkInterfaces} from "node:os"
import type {NodeConfig} from "../config/options.js"

export interface RpcServerOptions {
  host: string
  /** 0 picks a free port (tests, devnet). */
  port: number
  /** Largest accepted request body; bigger ones get HTTP 413 and change nothing. */
  maxBodyBytes: number
  /** Most calls in one batch. */
  maxBatch: number
  /** Tokens file; when set, every request needs a token. Required when `host` is not loopback. */
  tokensFile: string | null
  /** Most live subscriptions per WebSocket connection. */
  maxSubscriptionsPerSocket: number
  maxAuthFailures: number
  authFailureWindowMs: number
  /**
   * Host names (without port) a request's `Host` header may carry; "*" accepts any. Empty: the bind
   * address and the loopback names (localhost, 127.0.0.1, ::1), plus this machine's interface
   * addresses when bound to every interface. A DNS-rebinding page's `Host` is its own domain, so it
   * is refused.
   */
  allowedHosts: string[]
  /** Browser origins (scheme://host[:port]) allowed cross-origin calls; "*" any. Empty: no CORS at all. */
  corsOrigins: string[]
  /** PEM certificate chain and private key files: when both are set the server speaks HTTPS and WSS only. */
  tlsCert: string | null
  tlsKey: string | null
}

export const defaultRpcServerOptions: RpcServerOptions = {
  host: "127.0.0.1",
  port: 8545,
  maxBodyBytes: 1024 * 1024,
  maxBatch: 100,
  tokensFile: null,
  maxSubscriptionsPerSocket: 16,
  maxAuthFailures: 5,
  authFailureWindowMs: 60_000,
  allowedHosts: [],
  corsOrigins: [],
  tlsCert: null,
  tlsKey: null,
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"]

/** The host part of a `Host` header or bind address: lowercase, without port, brackets or a trailing dot. */
export function hostName(value: string): string {
  const text = value.trim().toLowerCase()
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(text)
  if (bracketed !== null) return bracketed[1]!
  // More than one colon and no brackets: a bare IPv6 address, which has no port.
  const name = (text.match(/:/g) ?? []).length > 1 ? text : text.replace(/:\d*$/, "")
  return name.replace(/\.$/, "")
}

/** The host names a request may name in `Host`, or "any" when the allow-list holds "*". */
export function allowedHostNames(options: Pick<RpcServerOptions, "host" | "allowedHosts">): ReadonlySet<string> | "any" {
  if (options.allowedHosts.includes("*")) return "any"
  if (options.allowedHosts.length > 0) return new Set(options.allowedHosts.map(hostName))
  const names = new Set(LOOPBACK_NAMES)
  const bind = hostName(options.host)
  if (bind === "0.0.0.0" || bind === "::") {
    for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) names.add(hostName(a.address))
  } else {
    names.add(bind)
  }
  return names
}

/** An `Origin` header in the form the allow-list compares: lowercase, without a trailing slash. */
export function originName(value: string): string {
  return value.trim().toLowerCase().replace(/\/$/, "")
}

/** The RPC server's options from the node's config (the rest keep their defaults). */
export function rpcServerOptionsOf(config: NodeConfig): RpcServerOptions {
  return {
    ...defaultRpcServerOptions,
    host: config.rpcHost,
    port: config.rpcPort,
    tokensFile: config.rpcTokens,
    maxBodyBytes: config.rpcMaxBodyBytes,
    maxBatch: config.rpcMaxBatch,
    allowedHosts: config.rpcAllowedHosts,
    corsOrigins: config.rpcCorsOrigins,
    tlsCert: config.rpcTlsCert,
    tlsKey: config.rpcTlsKey,
  }
}
