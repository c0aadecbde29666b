import {getNextNonce, isCareLedgerError, type Mempool, type StateReader, type Transaction} from "@careledger/core"
import type {ValidationResult} from "@careledger/network"
import type {Logger} from "../logger/index.js"
import type {NodeMetrics} from "../metrics/index.js"

export interface TxIntakeDependencies {
  mempool: Mempool
  state(): StateReader
  /** Gossips admitted transactions; may throw when the gossip queue is full. */
  publishTxs(txs: Transaction[]): void
  /** Tells consensus that transactions wait (a proposer without empty blocks starts a height). */
  txsAvailable(): void
  metrics: NodeMetrics
  logger: Logger
}

/** Transaction intake: admission to the mempool from RPC and from gossip, and the next nonce of an account. */
export class TxIntake {
  constructor(private readonly deps: TxIntakeDependencies) {}

  /** Admits a transaction to the mempool and gossips it. Throws the mempool's typed error. */
  async submitTx(tx: Transaction): Promise<string> {
    const {mempool} = this.deps
    const result = await mempool.add(tx)
    this.noteMempool()
    try {
      this.deps.publishTxs([tx])
    } catch (err) {
      // The tx is pending here and will be proposed or re-gossiped; a full gossip queue is not its failure.
      this.deps.logger.warn({err: (err as Error).message}, "tx not gossiped")
    }
    // A tx held behind a nonce gap gives a proposer nothing to do yet.
    if (result.executable) this.deps.txsAvailable()
    return result.hash
  }

  /**
   * Admits several transactions in order (one sender's nonces stay in order) and gossips the
   * admitted ones as one batch. A refusal is that tx's outcome, not the batch's.
   */
  async submitTxs(txs: readonly Transaction[]): Promise<Array<{hash: string} | {error: unknown}>> {
    const {mempool} = this.deps
    const outcomes: Array<{hash: string} | {error: unknown}> = []
    const admitted: Transaction[] = []
    let executable = false
    for (const tx of txs) {
      try {
        const result = await mempool.add(tx)
        executable = result.executable || executable
        admitted.push(tx)
        outcomes.push({hash: result.hash})
      } catch (err) {
        if (!isCareLedgerError(err)) throw err
        outcomes.push({error: err})
      }
    }
    if (admitted.length === 0) return outcomes
    this.noteMempool()
    try {
      this.deps.publishTxs(admitted)
    } catch (err) {
      this.deps.logger.warn({err: (err as Error).message, txs: admitted.length}, "txs not gossiped")
    }
    if (executable) this.deps.txsAvailable()
    return outcomes
  }

  /** Admits a gossiped batch: accept when any tx was new and valid, ignore otherwise. */
  async admitGossip(txs: readonly Transaction[]): Promise<ValidationResult> {
    let added = 0
    let executable = false
    for (const tx of txs) {
      try {
        executable = (await this.deps.mempool.add(tx)).executable || executable
        added++
      } catch (err) {
        if (!isCareLedgerError(err)) throw err
      }
    }
    if (added > 0) this.noteMempool()
    if (executable) this.deps.txsAvailable()
    return added > 0 ? "accept" : "ignore"
  }

  /** The nonce the account's next transaction should carry, counting its pending ones. */
  async nextNonce(account: string): Promise<number> {
    const committed = await getNextNonce(this.deps.state(), account)
    return Math.max(committed, this.deps.mempool.pendingNonce(account) ?? 0)
  }

  private noteMempool(): void {
    this.deps.metrics.mempoolTxs.set(this.deps.mempool.size)
    this.deps.metrics.mempoolBytes.set(this.deps.mempool.bytes)
  }
}
