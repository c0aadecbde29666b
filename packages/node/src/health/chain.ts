/**
 * What the health parts use of the chain, injected as two narrow interfaces: a reader of finalized
 * state (the parts read it with core's state helpers: loadRecord, checkAccess, listAccessLog, ...)
 * and a submitter of transactions into the node's intake. The node implements both over its store,
 * its head feed and its mempool; the health tests over a one-process chain.
 */
import type {StateReader, Transaction} from "@careledger/core"

/** The latest finalized block: decisions are made as of its height and time, never a node's wall clock. */
export interface FinalizedHead {
  height: number
  timestamp: number
}

/** Finalized state (only finalized blocks are stored) and the block it is as of. */
export interface FinalizedChain {
  readonly chainId: string
  /** A reader of finalized state, for core's state helpers. */
  state(): StateReader
  head(): FinalizedHead
}

/** How transactions reach the chain, and when they are final. */
export interface TxSubmitter {
  /** Checks a transaction against pending state and queues it for the next block (throws the typed TxError). */
  submit(tx: Transaction): Promise<void>
  /** The nonce the account's next transaction must carry, counting ones still in the mempool. */
  nextNonce(account: string): Promise<number>
  /** Resolves true once the transaction is in a finalized block, false after `timeoutMs`. */
  waitFinal(txHash: string, timeoutMs: number): Promise<boolean>
  /** Whether the transaction is in a finalized block now. */
  isFinal(txHash: string): Promise<boolean>
}

/** The request/response half of record exchange: send bytes to a hospital's node, get bytes back. */
export interface RecordExchangeClient {
  request(hospital: string, bytes: Uint8Array): Promise<Uint8Array>
}
