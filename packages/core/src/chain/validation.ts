import {Block, txRootOf, validatorsHashOf} from "../block/block.js"
import {verifyCommit, type SignatureVerifier} from "../block/commit.js"
import {BlockError, BlockErrorCode} from "../block/errors.js"
import {bytesEqual, toHex} from "../encoding/bytes.js"
import {executeBlock} from "../state/execute.js"
import type {BlockExecution} from "../state/types.js"
import type {ChainStore} from "../store/chainStore.js"
import {parentViewOf, type ParentView} from "./parent.js"
import {proposerOf} from "./proposer.js"

/** How far ahead of our clock a proposer's timestamp may be (clocks of hospitals drift a little). */
export const MAX_CLOCK_DRIFT_MS = 15_000

export interface HeaderCheckOptions {
  /** Our clock: a timestamp more than MAX_CLOCK_DRIFT_MS ahead of it is refused (unchecked when absent). */
  now?: number
  /** Verifies the parent's certificate signatures (a caller may remember verified ones). */
  verifySignature?: SignatureVerifier
}

/**
 * Checks that `block` may follow `parent`, without executing it: chain, height, parent hash,
 * timestamp, validator set, proposer, tx root and the parent's commit certificate.
 * Throws BlockError naming the first failed check.
 */
export function checkNextHeader(block: Block, parent: ParentView, options: HeaderCheckOptions = {}): void {
  const h = block.header
  const fail = (code: BlockErrorCode, message: string): never => {
    throw new BlockError(code, `block ${h.height}: ${message}`, {height: h.height})
  }
  if (h.chainId !== parent.chainId) fail(BlockErrorCode.WRONG_CHAIN, `chain ${h.chainId}, expected ${parent.chainId}`)
  if (h.height !== parent.height + 1) fail(BlockErrorCode.BAD_HEIGHT, `expected height ${parent.height + 1}`)
  if (!bytesEqual(h.parentHash, parent.hash)) fail(BlockErrorCode.BAD_PARENT, "does not extend our head")
  if (h.timestamp <= parent.timestamp) fail(BlockErrorCode.BAD_TIMESTAMP, "timestamp is not after the parent's")
  if (options.now !== undefined && h.timestamp > options.now + MAX_CLOCK_DRIFT_MS) fail(BlockErrorCode.BAD_TIMESTAMP, "timestamp is in the future")
  if (!bytesEqual(h.validatorsHash, validatorsHashOf(parent.validators))) fail(BlockErrorCode.BAD_VALIDATORS_HASH, "names another validator set")
  if (!bytesEqual(h.proposer, proposerOf(parent.validators, h.height, h.round))) {
    fail(BlockErrorCode.BAD_PROPOSER, `proposer ${toHex(h.proposer)} is not the one of round ${h.round}`)
  }
  if (!bytesEqual(h.txRoot, txRootOf(block.txs))) fail(BlockErrorCode.BAD_TX_ROOT, "tx root does not match its transactions")
  if (h.height === 1) {
    if (h.lastCommit !== null) fail(BlockErrorCode.BAD_COMMIT, "block 1 carries no last commit")
  } else {
    if (h.lastCommit === null) fail(BlockErrorCode.BAD_COMMIT, "the parent's commit certificate is missing")
    verifyCommit(parent.chainId, h.lastCommit!, {height: parent.height, blockHash: parent.hash}, parent.parentValidators, options)
  }
}

/**
 * Checks that `block` may be the next block on `store`'s head: the header checks above, and that
 * executing its transactions yields the state root it claims. Returns the execution so a commit
 * need not redo it. Throws BlockError naming the first failed check.
 */
export async function validateNextBlock(store: ChainStore, block: Block, options: HeaderCheckOptions = {}): Promise<BlockExecution> {
  checkNextHeader(block, parentViewOf(store), options)
  const head = store.head()
  const h = block.header
  const execution = await executeBlock(store.state(), {chainId: store.chainId, height: h.height, timestamp: h.timestamp, parentStateRoot: head.header.stateRoot}, block.txs)
  if (!bytesEqual(execution.stateRoot, h.stateRoot)) {
    throw new BlockError(BlockErrorCode.BAD_STATE_ROOT, `block ${h.height}: state root differs from executing its transactions`, {height: h.height})
  }
  return execution
}
