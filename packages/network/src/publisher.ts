import {NetworkError, NetworkErrorCode} from "./errors.js"
import {encodeTxBatch, type GossipTopic} from "./gossip/topics.js"
import {BoundedConcurrency} from "./limiter.js"

/**
 * Bounds gossip publishing: gossipsub's `publish` has no backpressure, so at most `maxInFlight`
 * publishes run at once and at most `maxWaiting` wait for a slot; beyond that callers get
 * QUEUE_FULL instead of growing memory without bound.
 */
export class BoundedPublisher {
  private readonly slots: BoundedConcurrency

  constructor(
    private readonly send: (topic: GossipTopic, data: Uint8Array) => Promise<void>,
    maxInFlight: number,
    maxWaiting: number,
  ) {
    this.slots = new BoundedConcurrency(maxInFlight, maxWaiting, "gossip publish")
  }

  async publish(topic: GossipTopic, data: Uint8Array): Promise<void> {
    await this.slots.acquire()
    try {
      await this.send(topic, data)
    } finally {
      this.slots.release()
    }
  }

  /** Releases waiting callers at shutdown; their publish then fails because the host is down. */
  drain(): void {
    this.slots.releaseAll()
  }
}

/**
 * Collects transactions into bounded batches (at most `maxTxs` and `maxBytes` per message) and
 * publishes them one batch at a time; the queue itself is bounded by `maxQueued`.
 */
export class TxBatcher {
  private queue: Uint8Array[] = []
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined

  constructor(
    private readonly publisher: BoundedPublisher,
    private readonly limits: {maxTxs: number; maxBytes: number; maxQueued: number; delayMs: number},
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Queues serialized txs; all or nothing, so a caller never has to guess which ones went out. */
  enqueue(txs: readonly Uint8Array[]): void {
    if (this.queue.length + txs.length > this.limits.maxQueued) {
      throw new NetworkError(NetworkErrorCode.QUEUE_FULL, `tx queue holds ${this.queue.length} of ${this.limits.maxQueued}`)
    }
    for (const tx of txs) {
      // A tx that cannot fit in a batch on its own would be dropped by every peer.
      if (tx.length + 16 > this.limits.maxBytes) {
        throw new NetworkError(NetworkErrorCode.TOO_LARGE, `tx of ${tx.length} bytes does not fit in a gossip batch`)
      }
    }
    this.queue.push(...txs)
    if (this.queue.length >= this.limits.maxTxs) void this.flush()
    else this.timer ??= setTimeout(() => void this.flush(), this.limits.delayMs)
  }

  get queued(): number {
    return this.queue.length
  }

  /** Publishes everything queued, batch after batch; concurrent calls share one run. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    this.flushing ??= this.run().finally(() => {
      this.flushing = undefined
    })
    return this.flushing
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.queue = []
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const batch: Uint8Array[] = []
      let bytes = 8
      while (batch.length < this.limits.maxTxs && this.queue.length > 0) {
        const next = this.queue[0]!
        if (batch.length > 0 && bytes + next.length + 8 > this.limits.maxBytes) break
        batch.push(next)
        bytes += next.length + 8
        this.queue.shift()
      }
      try {
        await this.publisher.publish("tx", encodeTxBatch(batch))
      } catch (err) {
        this.onError(err)
      }
    }
  }
}
