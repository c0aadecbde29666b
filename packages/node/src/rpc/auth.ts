import {readFileSync, statSync} from "node:fs"
import {createHash} from "node:crypto"
import type {Permission} from "./method.js"
import {NodeConfigError, NodeConfigErrorCode} from "../config/errors.js"

export interface TokenEntry {
  /** Who holds it, for logs (never the token itself). */
  name: string
  permission: Permission
}

const PERMISSIONS: readonly Permission[] = ["read", "submit", "admin"]

/**
 * Bearer tokens and their permission. Tokens are kept as sha256 digests and looked up by digest,
 * so neither memory dumps nor comparison timing reveal them.
 */
export class TokenStore {
  private readonly byDigest = new Map<string, TokenEntry>()

  static fromFile(path: string): TokenStore {
    let raw: unknown
    const text = readPrivateFile(path, "tokens file").toString("utf8")
    try {
      raw = JSON.parse(text)
    } catch (err) {
      throw new NodeConfigError(NodeConfigErrorCode.BAD_TOKENS_FILE, `cannot read tokens file ${path}: ${(err as Error).message}`, {path})
    }
    return TokenStore.fromJson(raw, path)
  }

  /** Parses `{"tokens": [{"name", "token", "permission"}]}`. */
  static fromJson(raw: unknown, source = "tokens"): TokenStore {
    const store = new TokenStore()
    const list = (raw as {tokens?: unknown} | null)?.tokens
    if (!Array.isArray(list)) throw new NodeConfigError(NodeConfigErrorCode.BAD_TOKENS_FILE, `${source}: expected {"tokens": [...]}`)
    list.forEach((entry: unknown, i) => {
      const {name, token, permission} = (entry ?? {}) as Record<string, unknown>
      if (typeof token !== "string" || token.length < 16) {
        throw new NodeConfigError(NodeConfigErrorCode.BAD_TOKENS_FILE, `${source}: tokens[${i}].token must be a string of at least 16 characters`)
      }
      if (!PERMISSIONS.includes(permission as Permission)) {
        throw new NodeConfigError(NodeConfigErrorCode.BAD_TOKENS_FILE, `${source}: tokens[${i}].permission must be read, submit or admin`)
      }
      store.add(token, {name: typeof name === "string" ? name : `token-${i}`, permission: permission as Permission})
    })
    return store
  }

  add(token: string, entry: TokenEntry): void {
    this.byDigest.set(digest(token), entry)
  }

  lookup(token: string): TokenEntry | undefined {
    return this.byDigest.get(digest(token))
  }

  get size(): number {
    return this.byDigest.size
  }
}

/**
 * Reads a secret file (tokens, a TLS key). One that group or others may access is refused, as the
 * node key is: a copy anyone on the host can read is not a secret.
 */
export function readPrivateFile(path: string, what: string): Buffer {
  let mode: number
  let bytes: Buffer
  try {
    mode = statSync(path).mode & 0o777
    bytes = readFileSync(path)
  } catch (err) {
    throw new NodeConfigError(NodeConfigErrorCode.BAD_TOKENS_FILE, `cannot read ${what} ${path}: ${(err as Error).message}`, {path})
  }
  if ((mode & 0o077) !== 0) {
    throw new NodeConfigError(NodeConfigErrorCode.FILE_TOO_OPEN, `${what} ${path} has mode ${mode.toString(8)}; run chmod 600 ${path}`, {path, mode})
  }
  return bytes
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex")
}

export interface FailureLimiterOptions {
  /** Wrong tokens allowed per address within the window before it is refused outright. */
  maxFailures: number
  windowMs: number
  /** Addresses remembered at most; the oldest are forgotten first so memory stays bounded. */
  maxAddresses: number
}

/** Counts wrong tokens per client address and blocks an address that keeps guessing. */
export class FailureLimiter {
  private readonly entries = new Map<string, {failures: number; since: number}>()

  constructor(
    private readonly options: FailureLimiterOptions,
    private readonly now: () => number = Date.now,
  ) {}

  blocked(address: string): boolean {
    const entry = this.entries.get(address)
    if (entry === undefined) return false
    if (this.now() - entry.since > this.options.windowMs) {
      this.entries.delete(address)
      return false
    }
    return entry.failures >= this.options.maxFailures
  }

  recordFailure(address: string): void {
    const now = this.now()
    let entry = this.entries.get(address)
    if (entry === undefined || now - entry.since > this.options.windowMs) {
      this.entries.delete(address)
      entry = {failures: 0, since: now}
      while (this.entries.size >= this.options.maxAddresses) {
        const oldest = this.entries.keys().next().value as string
        this.entries.delete(oldest)
      }
      this.entries.set(address, entry)
    }
    entry.failures += 1
  }

  get tracked(): number {
    return this.entries.size
  }
}
