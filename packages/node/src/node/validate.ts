import {
  BlockError,
  BlockErrorCode,
  bytesEqual,
  executeBlock,
  toHex,
  txRootOf,
  validatorsHashOf,
  verifyCommit,
  type Block,
  type BlockExecution,
  type ChainStore,
} from "@careledger/core"

/** How far ahead of our clock a proposer's timestamp may be (clocks of hospitals drift a little). */
export const MAX_CLOCK_DRIFT_MS = 15_000

/**
 * Checks that `block` may be the next block on `store`'s head: chain, height, parent, timestamp,
 * proposer, validator set, tx root, the parent's commit certificate, and that executing its
 * transactions yields the state root it claims. Returns the execution so a commit need not redo it.
 * Throws BlockError naming the first failed check.
 */
export async function validateNextBlock(store: ChainStore, block: Block, options: {now?: number} = {}): Promise<BlockExecution> {
  const head = store.head()
  const h = block.header
  const fail = (code: BlockErrorCode, message: string): never => {
    throw new BlockError(code, `block ${h.height}: ${message}`, {height: h.height})
  }
  if (h.chainId !== store.chainId) fail(BlockErrorCode.WRONG_CHAIN, `chain ${h.chainId}, expected ${store.chainId}`)
  if (h.height !== head.height + 1) fail(BlockErrorCode.BAD_HEIGHT, `expected height ${head.height + 1}`)
  if (!bytesEqual(h.parentHash, head.hash)) fail(BlockErrorCode.BAD_PARENT, "does not extend our head")
  if (h.timestamp <= head.header.timestamp) fail(BlockErrorCode.BAD_TIMESTAMP, "timestamp is not after the parent's")
  if (options.now !== undefined && h.timestamp > options.now + MAX_CLOCK_DRIFT_MS) fail(BlockErrorCode.BAD_TIMESTAMP, "timestamp is in the future")
  const validators = store.validatorsAt(h.height)
  if (!bytesEqual(h.validatorsHash, validatorsHashOf(validators))) fail(BlockErrorCode.BAD_VALIDATORS_HASH, "names another validator set")
  const proposer = validators[(h.height + h.round) % validators.length]!
  if (!bytesEqual(h.proposer, proposer)) fail(BlockErrorCode.BAD_PROPOSER, `proposer ${toHex(h.proposer)} is not the one of round ${h.round}`)
  if (!bytesEqual(h.txRoot, txRootOf(block.txs))) fail(BlockErrorCode.BAD_TX_ROOT, "tx root does not match its transactions")
  if (h.height === 1) {
    if (h.lastCommit !== null) fail(BlockErrorCode.BAD_COMMIT, "block 1 carries no last commit")
  } else {
    if (h.lastCommit === null) fail(BlockErrorCode.BAD_COMMIT, "the parent's commit certificate is missing")
    verifyCommit(store.chainId, h.lastCommit!, {height: head.height, blockHash: head.hash}, store.validatorsAt(head.height))
  }
  const execution = await executeBlock(store.state(), {
    chainId: store.chainId,
    height: h.height,
    timestamp: h.timestamp,
    parentStateRoot: head.header.stateRoot,
  }, block.txs)
  if (!bytesEqual(execution.stateRoot, h.stateRoot)) fail(BlockErrorCode.BAD_STATE_ROOT, "state root differs from executing its transactions")
  return execution
}
