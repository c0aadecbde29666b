import {MempoolError, MempoolErrorCode} from "./errors.js"

export interface MempoolOptions {
  /** Most pending transactions held at once. */
  maxTxs: number
  /** Most bytes of serialized pending transactions held at once. */
  maxBytes: number
  /**
   * How far ahead of a sender's next executable nonce a gapped tx may be and still be held (so a
   * sender's txs that arrive out of order are kept until the gap fills); further ahead is
   * NONCE_TOO_HIGH. Gossip delivers a sender's txs in any order and a client keeps many in flight,
   * so the window must cover what one sender has in flight.
   */
  maxFutureNonces: number
  /** Most bytes of one sender's txs held behind a nonce gap (its gap buffer); more is NONCE_TOO_HIGH. */
  maxGappedBytesPerSender: number
  /** Most bytes of all senders' txs held behind nonce gaps; more is NONCE_TOO_HIGH. */
  maxGappedBytes: number
}

export const defaultMempoolOptions: Readonly<MempoolOptions> = Object.freeze({
  maxTxs: 10_000,
  maxBytes: 32 * 1024 * 1024,
  maxFutureNonces: 4096,
  maxGappedBytesPerSender: 1024 * 1024,
  maxGappedBytes: 8 * 1024 * 1024,
})

export function resolveMempoolOptions(options: Partial<MempoolOptions> = {}): MempoolOptions {
  const resolved = {...defaultMempoolOptions, ...options}
  for (const [name, value] of Object.entries(resolved)) {
    const min = name === "maxFutureNonces" ? 0 : 1
    if (!Number.isSafeInteger(value) || value < min) {
      throw new MempoolError(MempoolErrorCode.BAD_OPTIONS, `mempool option ${name} must be an integer >= ${min}, got ${value}`)
    }
  }
  return resolved
}
