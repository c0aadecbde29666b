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
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)
}
