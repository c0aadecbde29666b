import {encode, type Encodable} from "../encoding/index.js"
import {utf8} from "../encoding/bytes.js"
import {sha256} from "../crypto/hash.js"
import {BlockError, BlockErrorCode} from "../block/errors.js"
import type {Transaction} from "../tx/transaction.js"
import {TxError} from "../tx/errors.js"
import {validateTx} from "../tx/validation.js"
import type {BlockExecution, ExecutionContext, StateReader, StateWrites} from "./types.js"
import {StateOverlay, compareKeys} from "./overlay.js"
import {prepareTx} from "./check.js"
import {loadValidatorSet, validatorKeys} from "./repository.js"
import {YIELD_EVERY, yieldToEventLoop} from "../eventLoop.js"

const STATE_ROOT_DOMAIN = utf8("careledger/state/v1\n")

/** The parent state root of genesis. */
export const EMPTY_STATE_ROOT: Uint8Array = new Uint8Array(32)

/**
 * State root after a block: sha256(domain || parentStateRoot || encode(sorted [key, value|null])).
 *
 * Chosen over a Merkle tree of the whole state because it is cheap (proportional to the block's
 * writes, not to the state) and deterministic, and it still commits to the whole state: given
 * genesis, the chain of roots fixes every write ever made, so two nodes with the same root hold
 * the same state. What it does not give is a proof of one key against a header; proofs go through
 * the transaction Merkle root instead (a consent or an anchor is proven by its transaction).
 */
export function computeStateRoot(parentStateRoot: Uint8Array, writes: StateWrites): Uint8Array {
  const entries: Encodable[] = [...writes.keys()].sort(compareKeys).map((key) => [key, writes.get(key) ?? null])
  return sha256(STATE_ROOT_DOMAIN, parentStateRoot, encode(entries))
}

export interface ExecuteOptions {
  /**
   * Check each transaction's signature and chain id (default true). A caller that already ran
   * validateTx on every transaction (the mempool did) may skip it; the result is cached anyway.
   */
  verifySignatures?: boolean
}

/**
 * Applies `txs` in order to the state read through `reader` and returns the writes, the new
 * state root and the validator set for the next height. Each transaction is checked against the
 * state left by the ones before it; a proposer must include only valid transactions, so any
 * invalid one rejects the whole block (BlockError BAD_TX with its index, or DUPLICATE_TX) and
 * nothing is written.
 */
export async function executeBlock(
  reader: StateReader,
  ctx: ExecutionContext,
  txs: readonly Transaction[],
  options: ExecuteOptions = {},
): Promise<BlockExecution> {
  const overlay = new StateOverlay(reader)
  const seen = new Set<string>()
  for (let index = 0; index < txs.length; index++) {
    if (index > 0 && index % YIELD_EVERY === 0) await yieldToEventLoop()
    const tx = txs[index]!
    const hash = tx.hashHex()
    if (seen.has(hash)) throw new BlockError(BlockErrorCode.DUPLICATE_TX, `tx ${index} (${hash}) appears twice in the block`, {index, hash})
    seen.add(hash)
    try {
      if (options.verifySignatures !== false) validateTx(tx, ctx.chainId)
      const effect = await prepareTx(overlay, tx, ctx)
      effect(overlay, {index})
    } catch (err) {
      if (err instanceof TxError) {
        throw new BlockError(BlockErrorCode.BAD_TX, `tx ${index} (${hash}): ${err.message}`, {index, hash, txCode: err.code})
      }
      throw err
    }
  }
  const writes = overlay.writes()
  return {
    writes,
    stateRoot: computeStateRoot(ctx.parentStateRoot, writes),
    validators: validatorKeys(await loadValidatorSet(overlay)),
  }
}
