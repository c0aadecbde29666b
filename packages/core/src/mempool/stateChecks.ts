/**
 * Wiring between the mempool and the state machine: the nonce lookup and admission check the pool
 * needs, and the proposer's final pass that keeps a block executable.
 */
import {accountId} from "../crypto/keys.js"
import type {Transaction} from "../tx/transaction.js"
import {TxError, TxErrorCode} from "../tx/errors.js"
import {prepareTx} from "../state/check.js"
import {StateOverlay} from "../state/overlay.js"
import {loadNonce} from "../state/repository.js"
import type {ExecutionContext, StateReader} from "../state/types.js"
import type {MempoolDependencies} from "./mempool.js"
import {YIELD_EVERY, yieldToEventLoop} from "../eventLoop.js"

export interface StateCheckClock {
  /** Height the next block will have (head + 1). */
  nextHeight(): number
  /** Unix ms the admission is judged at (consent expiry and the like). */
  now(): number
}

/**
 * `nonceOf` and `checkTx` for a Mempool, backed by the state machine. Each tx is checked as if it
 * were next in its sender's line (the pool itself orders nonces and holds gapped txs), so a
 * gapped tx is refused for what it does, never for its gap.
 */
export function stateMempoolChecks(chainId: string, clock: StateCheckClock): Pick<MempoolDependencies, "nonceOf" | "checkTx"> {
  return {
    nonceOf: (reader, sender) => loadNonce(reader, accountId(sender)),
    checkTx: (tx, _pendingNonce, reader) =>
      prepareTx(reader, tx, {chainId, height: clock.nextHeight(), timestamp: clock.now(), expectedNonce: tx.nonce}).then(() => undefined),
  }
}

export interface BlockSelection {
  /** The txs to propose, in order; executing them on the state gives no error. */
  txs: Transaction[]
  /** Candidates left out, with the TxErrorCode that excluded them (a later tx of a skipped sender: its gap). */
  skipped: Array<{hash: string; reason: string}>
}

/**
 * The proposer's last pass over `reap()`'s candidates: applies them in order on an overlay of the
 * parent state and keeps only those that succeed. Each pending tx was checked alone against the
 * committed state, but two of them can conflict (two hospitals enrolling the same key); one
 * invalid tx would make the whole block invalid, so it is left out here instead.
 */
export async function selectExecutable(
  reader: StateReader,
  ctx: ExecutionContext,
  candidates: readonly Transaction[],
): Promise<BlockSelection> {
  const overlay = new StateOverlay(reader)
  const txs: Transaction[] = []
  const skipped: BlockSelection["skipped"] = []
  const blockedSenders = new Set<string>()
  for (const [i, tx] of candidates.entries()) {
    if (i > 0 && i % YIELD_EVERY === 0) await yieldToEventLoop()
    const sender = tx.senderId
    if (blockedSenders.has(sender)) {
      skipped.push({hash: tx.hashHex(), reason: TxErrorCode.NONCE_GAP})
      continue
    }
    try {
      const effect = await prepareTx(overlay, tx, {chainId: ctx.chainId, height: ctx.height, timestamp: ctx.timestamp})
      effect(overlay, {index: txs.length})
      txs.push(tx)
    } catch (err) {
      if (!(err instanceof TxError)) throw err
      // The sender's later nonces cannot run without this one.
      blockedSenders.add(sender)
      skipped.push({hash: tx.hashHex(), reason: err.code})
    }
  }
  return {txs, skipped}
}
