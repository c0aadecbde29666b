import {Counter, Gauge, Registry, collectDefaultMetrics} from "prom-client"
import type {NetworkMetrics} from "@careledger/network"
import type {RpcObserver} from "../rpc/server.js"

/** Window over which tx/s is averaged. */
const RATE_WINDOW_MS = 10_000

/**
 * The node's Prometheus metrics, on their own registry so several nodes can share a process (tests).
 */
export class NodeMetrics implements RpcObserver {
  readonly registry = new Registry()
  readonly height: Gauge
  readonly finalizedHeight: Gauge
  readonly peers: Gauge
  readonly mempoolTxs: Gauge
  readonly mempoolBytes: Gauge
  readonly txsFinalized: Counter
  readonly txRate: Gauge
  readonly roundChanges: Counter
  readonly consensusTimeouts: Counter
  readonly rpcRequests: Counter<"method" | "outcome">
  readonly gossipIn: Counter<"topic" | "result">
  readonly gossipOut: Counter<"topic">
  readonly gossipDropped: Counter<"topic">
  readonly reqResp: Counter<"protocol" | "direction" | "outcome">
  readonly syncedBlocks: Counter
  readonly peerPenalties: Counter<"reason">
  private readonly recent: {at: number; txs: number}[] = []

  constructor(options: {defaultMetrics?: boolean} = {}) {
    const registers = [this.registry]
    this.height = new Gauge({name: "careledger_height", help: "Height of the latest stored block", registers})
    this.finalizedHeight = new Gauge({name: "careledger_finalized_height", help: "Height of the latest finalized block", registers})
    this.peers = new Gauge({name: "careledger_peers", help: "Connected peers", registers})
    this.mempoolTxs = new Gauge({name: "careledger_mempool_txs", help: "Transactions waiting in the mempool", registers})
    this.mempoolBytes = new Gauge({name: "careledger_mempool_bytes", help: "Bytes of transactions in the mempool", registers})
    this.txsFinalized = new Counter({name: "careledger_txs_finalized_total", help: "Transactions in finalized blocks", registers})
    this.txRate = new Gauge({
      name: "careledger_tx_per_second",
      help: `Finalized transactions per second over the last ${RATE_WINDOW_MS / 1000} s`,
      registers,
      collect: () => this.txRate.set(this.txPerSecond()),
    })
    this.roundChanges = new Counter({name: "careledger_round_changes_total", help: "Rounds that moved on to the next proposer", registers})
    this.consensusTimeouts = new Counter({name: "careledger_consensus_timeouts_total", help: "Consensus timeouts that fired", registers})
    this.rpcRequests = new Counter({
      name: "careledger_rpc_requests_total",
      help: "JSON-RPC calls by method and outcome",
      labelNames: ["method", "outcome"],
      registers,
    })
    this.gossipIn = new Counter({
      name: "careledger_gossip_messages_in_total",
      help: "Gossip messages received, by topic and validation result (accept, ignore, reject)",
      labelNames: ["topic", "result"],
      registers,
    })
    this.gossipOut = new Counter({name: "careledger_gossip_messages_out_total", help: "Gossip messages published, by topic", labelNames: ["topic"], registers})
    this.gossipDropped = new Counter({
      name: "careledger_gossip_dropped_total",
      help: "Outbound gossip messages dropped because the bounded queue was full, by topic",
      labelNames: ["topic"],
      registers,
    })
    this.reqResp = new Counter({
      name: "careledger_reqresp_total",
      help: "Request/response exchanges by protocol, direction and outcome",
      labelNames: ["protocol", "direction", "outcome"],
      registers,
    })
    this.syncedBlocks = new Counter({name: "careledger_synced_blocks_total", help: "Blocks imported by range sync", registers})
    this.peerPenalties = new Counter({name: "careledger_peer_penalties_total", help: "Peers penalised, by reason", labelNames: ["reason"], registers})
    if (options.defaultMetrics ?? true) collectDefaultMetrics({register: this.registry, prefix: "careledger_process_"})
  }

  /** The hooks the network layer reports through (it stays free of prom-client). */
  networkHooks(): NetworkMetrics {
    return {
      peerCount: (count) => this.peers.set(count),
      gossipIn: (topic, result) => this.gossipIn.inc({topic, result}),
      gossipOut: (topic, messages) => this.gossipOut.inc({topic}, messages),
      gossipDropped: (topic) => this.gossipDropped.inc({topic}),
      reqRespIn: (protocol, outcome) => this.reqResp.inc({protocol, direction: "in", outcome}),
      reqRespOut: (protocol, outcome) => this.reqResp.inc({protocol, direction: "out", outcome}),
      syncBlocks: (count) => this.syncedBlocks.inc(count),
      peerPenalised: (reason) => this.peerPenalties.inc({reason}),
    }
  }

  request(method: string, outcome: "ok" | "error"): void {
    this.rpcRequests.inc({method, outcome})
  }

  /** Records a finalized block for heights and tx/s. */
  blockFinalized(height: number, txs: number, now = Date.now()): void {
    this.height.set(height)
    this.finalizedHeight.set(height)
    this.txsFinalized.inc(txs)
    this.recent.push({at: now, txs})
    this.prune(now)
  }

  txPerSecond(now = Date.now()): number {
    this.prune(now)
    const total = this.recent.reduce((sum, entry) => sum + entry.txs, 0)
    return Math.round((total / (RATE_WINDOW_MS / 1000)) * 100) / 100
  }

  private prune(now: number): void {
    while (this.recent.length > 0 && now - this.recent[0]!.at > RATE_WINDOW_MS) this.recent.shift()
  }
}
