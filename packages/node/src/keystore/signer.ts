import {Transaction, type PrivateKey, type TxType} from "@careledger/core"

/** Signs one transaction with the node key and the next nonce of the current exclusive step. */
export type SignNext = <T extends TxType>(type: T, payload: Transaction<T>["payload"]) => Promise<Transaction<T>>

export interface NodeSignerDependencies {
  chainId: string
  key: PrivateKey
  /** The account's next nonce counting its pending transactions (the node's intake). */
  nextNonce(account: string): Promise<number>
}

/**
 * The one signer and nonce allocator of the node key. Validator votes and the health part's access
 * logs and erasures all go through it: each exclusive step signs with the next nonce and submits
 * before the next step asks for one, so two of them can never take the same nonce.
 */
export class NodeSigner {
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly deps: NodeSignerDependencies) {}

  /** The node key's account id (hex public key). */
  get account(): string {
    return this.deps.key.id
  }

  /**
   * Runs `use` alone among the node key's transactions. `use` signs with `sign` and submits what it
   * signed before it returns; a transaction it signs but never submits leaves its nonce to the next.
   */
  exclusive<R>(use: (sign: SignNext) => Promise<R>): Promise<R> {
    const run = async (): Promise<R> => {
      let last = -1
      const sign: SignNext = async (type, payload) => {
        const nonce = Math.max(await this.deps.nextNonce(this.account), last + 1)
        last = nonce
        return Transaction.sign({chainId: this.deps.chainId, type, nonce, payload}, this.deps.key)
      }
      return use(sign)
    }
    const result = this.queue.then(run, run)
    this.queue = result.catch(() => undefined)
    return result
  }

  /** Signs with the next nonce and submits, in one exclusive step. */
  signAndSubmit<T extends TxType>(type: T, payload: Transaction<T>["payload"], submit: (tx: Transaction<T>) => Promise<unknown>): Promise<Transaction<T>> {
    return this.exclusive(async (sign) => {
      const tx = await sign(type, payload)
      await submit(tx)
      return tx
    })
  }

  /** Waits for the steps queued so far (stop). */
  async drain(): Promise<void> {
    await this.queue.catch(() => undefined)
  }
}
