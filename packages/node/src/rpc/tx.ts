import {Transaction, isCareLedgerError} from "@careledger/core"
import type {TxBatchOutcome, TxSubmitted} from "@careledger/client"
import {toJsonRpcError} from "./errors.js"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"

/** What tx_ uses of the node: transaction intake. */
export interface TxRpcDeps {
  submitTx(tx: Transaction): Promise<string>
  submitTxs(txs: readonly Transaction[]): Promise<Array<{hash: string} | {error: unknown}>>
}

/** Largest hex accepted for one transaction: twice core's MAX_TX_BYTES. */
const MAX_TX_HEX_BYTES = 64 * 1024
/** Most transactions in one tx_sendBatch (the request body bound applies as well). */
export const MAX_TX_BATCH = 512

export function txMethods(node: TxRpcDeps): RpcNamespace {
  return {
    tx_send: method(params({tx: p.hex({maxBytes: MAX_TX_HEX_BYTES})}), {
      permission: "submit",
      summary: "submit a signed transaction (hex of its canonical bytes); answers its hash once it is pending",
      handler: async ({tx}): Promise<TxSubmitted> => {
        const decoded = Transaction.decode(Uint8Array.from(Buffer.from(tx, "hex")))
        return {hash: await node.submitTx(decoded)}
      },
    }),
    tx_sendBatch: method(params({txs: p.array(p.hex({maxBytes: MAX_TX_HEX_BYTES}), {max: MAX_TX_BATCH})}), {
      permission: "submit",
      summary: `submit up to ${MAX_TX_BATCH} signed transactions in order, gossiped together; one outcome per tx: its hash, or the error tx_send would answer`,
      handler: async ({txs}): Promise<TxBatchOutcome[]> => {
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
      },
    }),
  }
}
