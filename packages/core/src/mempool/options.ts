import {MempoolError, MempoolErrorCode} from "./errors.js"

export interface MempoolOptions {
  /** Most pending transactions held at once. */
  maxTxs: number
  /** Most bytes of serialized pending transactions held at once. */
  maxBytes: number
  /**
   * How far ahead of a sender's next executable nonce a gapped tx may be and still be held (so a
   * sender's txs that arrive slightly out of order are kept); further ahead is NONCE_TOO_HIGH.
   */
  maxFutureNonces: number
}

export const defaultMempoolOptions: Readonly<MempoolOptions> = Object.freeze({
  maxTxs: 10_000,
  maxBytes: 32 * 1024 * 1024,
  maxFutureNonces: 16,
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
