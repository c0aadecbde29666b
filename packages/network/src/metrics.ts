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

/** The subset of a pino logger this package uses; pino's Logger satisfies it. */
export interface Logger {
  debug(obj: unknown, msg?: string): void
  info(obj: unknown, msg?: string): void
  warn(obj: unknown, msg?: string): void
  error(obj: unknown, msg?: string): void
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
}
