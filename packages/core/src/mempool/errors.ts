import {CareLedgerError, isCareLedgerError} from "../errors.js"

export enum MempoolErrorCode {
  /** The pool is at its count or byte bound and the tx may not evict anything (see the policy in mempool.ts). */
  FULL = "MEMPOOL_ERROR_FULL",
  /** A tx with the same hash is already pending. */
  DUPLICATE = "MEMPOOL_ERROR_DUPLICATE",
  /** The nonce is below the sender's next nonce in committed state: a replay or an already-executed tx. */
  NONCE_TOO_LOW = "MEMPOOL_ERROR_NONCE_TOO_LOW",
  /** The nonce is further ahead of the sender's pending sequence than the pool holds gapped txs for. */
  NONCE_TOO_HIGH = "MEMPOOL_ERROR_NONCE_TOO_HIGH",
  /** Another tx of the same sender with the same nonce is pending (no replacement: there are no fees to outbid). */
  NONCE_TAKEN = "MEMPOOL_ERROR_NONCE_TAKEN",
  /** A single tx larger than the pool's byte bound. */
  TOO_LARGE = "MEMPOOL_ERROR_TOO_LARGE",
  /** Stateless validation failed (wrong chain id, bad signature); `details.reason` holds the TxErrorCode. */
  INVALID_TX = "MEMPOOL_ERROR_INVALID_TX",
  /** The state check refused the tx (unauthorised signer, unknown record, ...); `details.reason` holds its code. */
  REJECTED = "MEMPOOL_ERROR_REJECTED",
  /** Options out of range. */
  BAD_OPTIONS = "MEMPOOL_ERROR_BAD_OPTIONS",
}

export class MempoolError extends CareLedgerError<MempoolErrorCode> {}

/**
 * The code that says why a transaction was refused: the pool wraps the chain's own verdict (stateless
 * validation or the state check) in INVALID_TX / REJECTED with the verdict in `details.reason`.
 * Undefined for anything that is not a CareLedger error.
 */
export function refusalCode(err: unknown): string | undefined {
  if (!isCareLedgerError(err)) return undefined
  const wrapped = err.code === MempoolErrorCode.REJECTED || err.code === MempoolErrorCode.INVALID_TX
  const reason = err.details.reason
  return wrapped && typeof reason === "string" ? reason : err.code
}
