import {Transaction, coreRoutes, isCareLedgerError, type TxBatchOutcome} from "@careledger/core"
import {toJsonRpcError} from "./errors.js"
import {serve, type RpcNamespace} from "./method.js"

/** What tx_ uses of the node: transaction intake. */
export interface TxRpcDeps {
  submitTx(tx: Transaction): Promise<string>
  submitTxs(txs: readonly Transaction[]): Promise<Array<{hash: string} | {error: unknown}>>
}

export function txMethods(node: TxRpcDeps): RpcNamespace {
  return {
    tx_send: serve(coreRoutes.tx_send, async ({tx}) => {
      const decoded = Transaction.decode(Uint8Array.from(Buffer.from(tx, "hex")))
      return {hash: await node.submitTx(decoded)}
    }),
    tx_sendBatch: serve(coreRoutes.tx_sendBatch, async ({txs}) => {
      const outcomes: TxBatchOutcome[] = new Array(txs.length)
      const decoded: Transaction[] = []
      const slots: number[] = []
      for (const [i, hex] of txs.entries()) {
        try {
          decoded.push(Transaction.decode(Uint8Array.from(Buffer.from(hex, "hex"))))
          slots.push(i)
        } catch (err) {
          if (!isCareLedgerError(err)) throw err
          outcomes[i] = {error: toJsonRpcError(err)}
        }
      }
      const admitted = await node.submitTxs(decoded)
      for (const [k, outcome] of admitted.entries()) outcomes[slots[k]!] = "hash" in outcome ? outcome : {error: toJsonRpcError(outcome.error)}
      return outcomes
    }),
  }
}
