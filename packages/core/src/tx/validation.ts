import type {Transaction} from "./transaction.js"
import {TxError, TxErrorCode} from "./errors.js"

/**
 * Stateless checks of a decoded transaction: it is for this chain and its signature is the
 * sender's. Shape and payload limits were already checked by `Transaction.decode`/`sign`.
 */
export function validateTx(tx: Transaction, chainId: string): void {
  if (tx.chainId !== chainId) {
    throw new TxError(TxErrorCode.WRONG_CHAIN, `transaction is for chain ${JSON.stringify(tx.chainId)}, not ${JSON.stringify(chainId)}`, {
      chainId: tx.chainId,
    })
  }
  if (!tx.verifySignature()) {
    throw new TxError(TxErrorCode.BAD_SIGNATURE, `bad signature on transaction ${tx.hashHex()}`, {hash: tx.hashHex()})
  }
}
