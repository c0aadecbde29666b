import type {GossipTopic} from "./gossip/topics.js"

/**
 * Hooks the node wires to its Prometheus registry; this package stays free of prom-client.
 * Every hook is optional.
 */
export interface NetworkMetrics {
  peerCount?(count: number): void
  gossipIn?(topic: GossipTopic, result: "accept" | "ignore" | "reject"): void
  gossipOut?(topic: GossipTopic, messages: number): void
  gossipDropped?(topic: GossipTopic): void
  reqRespIn?(protocol: string, outcome: "ok" | "error" | "rate_limited"): void
  reqRespOut?(protocol: string, outcome: "ok" | "error"): void
  syncBlocks?(count: number): void
  peerPenalised?(reason: string): void
}

/** The network logs through core's logger interface (the node's pino logger satisfies it). */
export {silentLogger, type Logger} from "@careledger/core"
