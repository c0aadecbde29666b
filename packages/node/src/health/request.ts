/**
 * Checks signed read and audit requests (their wire format lives in @careledger/core): chain id,
 * freshness window, signature, and a bounded replay cache that never forgets a request before it
 * is stale. The cache refuses new entries when full instead of dropping old ones, and bounds each
 * reader, so throwaway keys cannot flush it (the service also checks the reader is enrolled first).
 */
import {
  RequestError,
  RequestErrorCode,
  auditRequestSigningBytes,
  readRequestSigningBytes,
  toHex,
  verifySignature,
  type AuditRequest,
  type ReadRequest,
} from "@careledger/core"

export interface RequestVerifierOptions {
  chainId: string
  /** How far a request's time may be from the node's clock (default 5 minutes). */
  freshnessMs?: number
  /** Most remembered unexpired requests in total; beyond it new ones are refused (default 100 000). */
  maxReplayEntries?: number
  /** Most remembered unexpired requests of one signer (default 1 000). */
  maxPerSigner?: number
  now?: () => number
}

/** Checks requests and remembers the accepted ones for the freshness window. */
export class RequestVerifier {
  readonly freshnessMs: number
  private readonly maxEntries: number
  private readonly maxPerSigner: number
  private readonly now: () => number
  /** Replay key -> expiry. */
  private readonly seen = new Map<string, {expiry: number; signer: string}>()
  private readonly perSigner = new Map<string, number>()

  constructor(private readonly options: RequestVerifierOptions) {
    this.freshnessMs = options.freshnessMs ?? 5 * 60_000
    this.maxEntries = options.maxReplayEntries ?? 100_000
    this.maxPerSigner = options.maxPerSigner ?? 1_000
    this.now = options.now ?? Date.now
  }

  private checkSigned(chainId: string, time: number, signed: Uint8Array, key: Uint8Array, signature: Uint8Array): void {
    if (chainId !== this.options.chainId) {
      throw new RequestError(RequestErrorCode.WRONG_CHAIN, `request is for chain ${JSON.stringify(chainId)}, this is ${JSON.stringify(this.options.chainId)}`)
    }
    const now = this.now()
    if (Math.abs(now - time) > this.freshnessMs) {
      throw new RequestError(RequestErrorCode.STALE, `request signed at ${time} is outside the ${this.freshnessMs} ms freshness window (now ${now})`, {time, now})
    }
    if (!verifySignature(key, signed, signature)) {
      throw new RequestError(RequestErrorCode.BAD_SIGNATURE, "the request signature does not verify against the stated key")
    }
  }

  /** Marks a checked request used until it would be stale; refuses a replay, and refuses rather than forgets when full. */
  private remember(replayKey: string, signer: string, time: number): void {
    const now = this.now()
    if (this.seen.has(replayKey)) {
      if (this.seen.get(replayKey)!.expiry >= now) throw new RequestError(RequestErrorCode.REPLAYED, "this signed request was already used")
    }
    if (this.seen.size >= this.maxEntries || (this.perSigner.get(signer) ?? 0) >= this.maxPerSigner) this.expire(now)
    if (this.seen.size >= this.maxEntries) {
      throw new RequestError(RequestErrorCode.BUSY, `${this.seen.size} unexpired requests are remembered, the most this node keeps; try again shortly`)
    }
    if ((this.perSigner.get(signer) ?? 0) >= this.maxPerSigner) {
      throw new RequestError(RequestErrorCode.BUSY, `this key has ${this.maxPerSigner} unexpired requests, the most one key may have; try again shortly`)
    }
    this.seen.set(replayKey, {expiry: time + this.freshnessMs, signer})
    this.perSigner.set(signer, (this.perSigner.get(signer) ?? 0) + 1)
  }

  /** Drops entries whose request is stale anyway (a full pass, run only when a bound is reached). */
  private expire(now: number): void {
    for (const [key, entry] of this.seen) {
      if (entry.expiry >= now) continue
      this.seen.delete(key)
      const left = (this.perSigner.get(entry.signer) ?? 1) - 1
      if (left <= 0) this.perSigner.delete(entry.signer)
      else this.perSigner.set(entry.signer, left)
    }
  }

  /** Stateless checks of a read request (chain, freshness, signature); throws RequestError. */
  checkRead(request: ReadRequest): void {
    this.checkSigned(request.chainId, request.time, readRequestSigningBytes(request), request.reader, request.signature)
  }

  /** Marks a checked read request used (call after the reader and record were found in state). */
  rememberRead(request: ReadRequest): void {
    this.remember(`r:${toHex(request.nonce)}:${toHex(request.reader)}`, toHex(request.reader), request.time)
  }

  /** Verifies a patient's audit-trail request and marks it used. */
  verifyAudit(request: AuditRequest): void {
    this.checkSigned(request.chainId, request.time, auditRequestSigningBytes(request), request.patient, request.signature)
    this.remember(`a:${toHex(request.nonce)}:${toHex(request.patient)}`, toHex(request.patient), request.time)
  }

  get size(): number {
    return this.seen.size
  }
}
