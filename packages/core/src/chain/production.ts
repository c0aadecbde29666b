import {Block, validatorsHashOf} from "../block/block.js"
import type {CommitCertificate} from "../block/commit.js"
import {selectExecutable} from "../mempool/stateChecks.js"
import {executeBlock} from "../state/execute.js"
import type {BlockExecution} from "../state/types.js"
import type {ChainStore} from "../store/chainStore.js"
import type {Transaction} from "../tx/transaction.js"
import {parentViewOf, type ParentView} from "./parent.js"

/** A block's timestamp: our clock, but always after the parent's. */
export function nextTimestamp(parent: ParentView, now: number): number {
  return Math.max(now, parent.timestamp + 1)
}

export interface NextBlockFields {
  round: number
  proposer: Uint8Array
  timestamp: number
  stateRoot: Uint8Array
  /** The parent's commit certificate (null for block 1). */
  lastCommit: CommitCertificate | null
}

/** Creates the block that follows `parent` with `txs`: the one place a next block's header is put together. */
export function assembleNextBlock(parent: ParentView, fields: NextBlockFields, txs: readonly Transaction[]): Block {
  return Block.create(
    {
      chainId: parent.chainId,
      height: parent.height + 1,
      round: fields.round,
      parentHash: parent.hash,
      timestamp: fields.timestamp,
      proposer: fields.proposer,
      stateRoot: fields.stateRoot,
      validatorsHash: validatorsHashOf(parent.validators),
      lastCommit: fields.lastCommit,
    },
    [...txs],
  )
}

export interface BuildOptions {
  round: number
  proposer: Uint8Array
  now: number
  /** Most transactions and bytes in the block. */
  maxTxs: number
  maxBytes: number
}

/**
 * Builds the next block on `store`'s head: reaps candidates from the mempool, keeps those that
 * execute in order, executes them for the state root and creates the block. Returns the execution
 * so a commit need not redo it.
 */
export async function buildNextBlock(
  store: ChainStore,
  mempool: {reap(maxTxs: number, maxBytes: number): Transaction[]},
  options: BuildOptions,
): Promise<{block: Block; execution: BlockExecution}> {
  const parent = parentViewOf(store)
  const head = store.head()
  const timestamp = nextTimestamp(parent, options.now)
  const ctx = {chainId: store.chainId, height: parent.height + 1, timestamp, parentStateRoot: head.header.stateRoot}
  const candidates = mempool.reap(options.maxTxs, options.maxBytes)
  const {txs} = await selectExecutable(store.state(), ctx, candidates)
  const execution = await executeBlock(store.state(), ctx, txs, {verifySignatures: false})
  const lastCommit = parent.height >= 1 ? ((await store.getCommit(parent.height)) ?? null) : null
  const block = assembleNextBlock(parent, {round: options.round, proposer: options.proposer, timestamp, stateRoot: execution.stateRoot, lastCommit}, txs)
  return {block, execution}
}
