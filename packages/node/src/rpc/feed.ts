import type {ChainHeadJson, SubscriptionTopic} from "@careledger/core"

export type HeadEvent = ChainHeadJson & {txs: number}
export type HeadListener = (head: HeadEvent) => void

/** Fan-out of chain events to WebSocket subscribers; the node publishes, the RPC server listens. */
export class HeadFeed {
  private readonly listeners: Record<SubscriptionTopic, Set<HeadListener>> = {newHeads: new Set(), finalized: new Set()}

  subscribe(topic: SubscriptionTopic, listener: HeadListener): () => void {
    this.listeners[topic].add(listener)
    return () => this.listeners[topic].delete(listener)
  }

  publish(topic: SubscriptionTopic, head: HeadEvent): void {
    for (const listener of this.listeners[topic]) listener(head)
  }

  get subscribers(): number {
    return this.listeners.newHeads.size + this.listeners.finalized.size
  }
}
