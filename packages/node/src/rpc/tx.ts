import {Transaction} from "@careledger/core"
import type {TxSubmitted} from "@careledger/client"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"

/** What tx_ uses of the node: transaction intake. */
export interface TxRpcDeps {
  submitTx(tx: Transaction): Promise<string>
}

/** Largest hex accepted for one transaction: twice core's MAX_TX_BYTES. */
const MAX_TX_HEX_BYTES = 64 * 1024

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
  }
}
