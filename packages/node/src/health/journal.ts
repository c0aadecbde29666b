/**
 * The node key's health transactions (access logs, custodian erasures): one nonce queue, and a
 * journal that makes an access log durable before the data it records leaves the node. An entry is
 * synced to the vault's LevelDB before it is submitted and stays there until its block is final; on
 * start and after every finalized block, entries not yet final are submitted again (re-signed with
 * a fresh nonce when theirs was taken), so a custodian killed right after a release still logs it.
 */
import {MempoolErrorCode, Transaction, TxErrorCode, refusalCode, type Logger, type TxType} from "@careledger/core"
import type {NodeSigner, SignNext} from "../keystore/signer.js"
import type {TxSubmitter} from "./chain.js"
import type {Vault} from "./vault.js"
import {HealthError, HealthErrorCode} from "./errors.js"

/** Most access-log entries waiting for finality; past it reads are refused until some finalize. */
export const MAX_PENDING_ENTRIES = 10_000

const NONCE_CODES: readonly string[] = [TxErrorCode.NONCE_REPLAYED, TxErrorCode.NONCE_GAP, MempoolErrorCode.NONCE_TOO_LOW]

export class NodeTxJournal {
  private pendingCount = 0

  /** `signer` is the node's one signer of the node key, so these transactions never take a nonce another one took. */
  constructor(private readonly deps: {submitter: TxSubmitter; vault: Vault; signer: NodeSigner; logger?: Logger}) {}

  /**
   * Signs and submits with the node key. With `durable`, the transaction is journalled (synced)
   * first and kept until final; if it cannot be queued it leaves the journal and the call fails.
   */
  submit<T extends TxType>(type: T, payload: Transaction<T>["payload"], durable: boolean): Promise<Transaction<T>> {
    return this.deps.signer.exclusive(async (sign) => {
      if (durable && this.pendingCount >= MAX_PENDING_ENTRIES) {
        throw new HealthError(HealthErrorCode.BUSY, `${MAX_PENDING_ENTRIES} access-log entries are waiting for finality; try again shortly`)
      }
      const tx = await sign(type, payload)
      const hash = tx.hashHex()
      if (durable) {
        await this.deps.vault.putPending(hash, tx.serialize())
        this.pendingCount++
      }
      try {
        await this.deps.submitter.submit(tx)
      } catch (err) {
        if (durable) {
          await this.deps.vault.deletePending(hash)
          this.pendingCount--
        }
        throw err
      }
      return tx
    })
  }

  /** Drops journalled entries that are final and submits the others again. */
  resubmit(): Promise<void> {
    return this.deps.signer.exclusive(async (sign) => {
      const entries = await this.deps.vault.pending(MAX_PENDING_ENTRIES)
      this.pendingCount = entries.length
      const txs = entries.map(({hash, tx}) => ({hash, tx: Transaction.decode(tx)})).sort((a, b) => a.tx.nonce - b.tx.nonce)
      for (const {hash, tx} of txs) {
        if (await this.deps.submitter.isFinal(hash)) {
          await this.forget(hash)
          continue
        }
        await this.submitAgain(hash, tx, sign)
      }
    })
  }

  private async forget(hash: string): Promise<void> {
    await this.deps.vault.deletePending(hash)
    this.pendingCount = Math.max(0, this.pendingCount - 1)
  }

  private async submitAgain(hash: string, tx: Transaction, sign: SignNext): Promise<void> {
    try {
      await this.deps.submitter.submit(tx)
      this.deps.logger?.info({tx: hash}, "resubmitted a journalled access log")
    } catch (err) {
      const code = refusalCode(err)
      if (code === MempoolErrorCode.DUPLICATE) return
      if (code !== undefined && NONCE_CODES.includes(code)) {
        // Its nonce went to another transaction of the node key (or an earlier one was lost): sign again.
        const again = await sign(tx.type, tx.payload)
        await this.deps.vault.putPending(again.hashHex(), again.serialize())
        await this.forget(hash)
        this.pendingCount++
        await this.deps.submitter.submit(again).catch((e: Error) => this.deps.logger?.warn({tx: again.hashHex(), err: e.message}, "re-signed access log not queued yet"))
        return
      }
      if (code === undefined || !code.startsWith("TX_ERROR_")) {
        // Not a verdict on the entry (the node is catching up, its pool is full, ...): it stays journalled for the next block.
        this.deps.logger?.warn({tx: hash, code, err: (err as Error).message}, "a journalled access log is not queued yet")
        return
      }
      // The chain will never take it (e.g. older than the access-log age bound): keep evidence of that in the node's log.
      this.deps.logger?.error({tx: hash, code, err: (err as Error).message, payload: tx.payload}, "a journalled access log can no longer be logged on chain")
      await this.forget(hash)
    }
  }

  /** Waits for queued work (stop). */
  async drain(): Promise<void> {
    await this.deps.signer.drain()
  }
}
