import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from "prom-client"
import type {NetworkMetrics} from "@careledger/network"
import type {RpcObserver} from "../rpc/server.js"

/** Window over which tx/s is averaged. */
const RATE_WINDOW_MS = 10_000

/** What the metrics read from the running node at scrape time. */
export interface NodeView {
  /** Validators in force. */
  validatorCount(): number
  /** Whether this node votes (its key is a validator and it is not an observer). */
  isValidator(): boolean
  /** Connected peers per hospital id ("unknown" for a peer not yet matched to a hospital). */
  peersByHospital(): ReadonlyMap<string, number>
}

/** `/careledger/<chain>/<name>/<version>` or a bare name: the protocol's name, one label value per protocol. */
export function protocolLabel(protocol: string): string {
  return /\/([^/]+)\/[^/]+$/.exec(protocol)?.[1] ?? protocol
}

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
  readonly rpcDuration: Histogram<"method">
  readonly gossipIn: Counter<"topic" | "result">
  readonly gossipOut: Counter<"topic">
  readonly gossipDropped: Counter<"topic">
  readonly reqResp: Counter<"protocol" | "direction" | "outcome">
  readonly syncedBlocks: Counter
  readonly peerPenalties: Counter<"reason">
  readonly round: Gauge
  readonly validators: Gauge
  readonly isValidator: Gauge
  readonly peersByHospital: Gauge<"hospital">
  readonly lastFinalizedAge: Gauge
  private readonly recent: {at: number; txs: number}[] = []
  private view: NodeView | null = null
  private finalized = {height: 0, blocks: 0, txs: 0}
  private lastFinalizedTimestamp: number | null = null

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
    this.rpcDuration = new Histogram({
      name: "careledger_rpc_request_duration_seconds",
      help: "Time from a JSON-RPC call's dispatch to its answer, by method (unknown names count as (unknown))",
      labelNames: ["method"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
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
    this.round = new Gauge({name: "careledger_consensus_round", help: "Consensus round of the height being decided (0: first proposer)", registers})
    this.validators = new Gauge({
      name: "careledger_validators",
      help: "Validators in force",
      registers,
      collect: () => {
        if (this.view !== null) this.validators.set(this.view.validatorCount())
      },
    })
    this.isValidator = new Gauge({
      name: "careledger_is_validator",
      help: "1 when this node votes in consensus, 0 when it follows (observer or not in the set)",
      registers,
      collect: () => {
        if (this.view !== null) this.isValidator.set(this.view.isValidator() ? 1 : 0)
      },
    })
    this.peersByHospital = new Gauge({
      name: "careledger_peers_by_hospital",
      help: "Connected peers by hospital id",
      labelNames: ["hospital"],
      registers,
      collect: () => {
        if (this.view === null) return
        this.peersByHospital.reset()
        for (const [hospital, count] of this.view.peersByHospital()) this.peersByHospital.set({hospital}, count)
      },
    })
    // prom-client's default names already start with process_ or nodejs_.
    this.lastFinalizedAge = new Gauge({
      name: "careledger_last_finalized_block_age_seconds",
      help: "Seconds since the timestamp of the latest finalized block this node holds (grows while the chain stalls or the node lags)",
      registers,
      collect: () => {
        if (this.lastFinalizedTimestamp !== null) this.lastFinalizedAge.set(this.lastFinalizedBlockAgeSeconds())
      },
    })
    if (options.defaultMetrics ?? true) collectDefaultMetrics({register: this.registry, prefix: "careledger_"})
  }

  /** The hooks the network layer reports through (it stays free of prom-client). */
  networkHooks(): NetworkMetrics {
    return {
      peerCount: (count) => this.peers.set(count),
      gossipIn: (topic, result) => this.gossipIn.inc({topic, result}),
      gossipOut: (topic, messages) => this.gossipOut.inc({topic}, messages),
      gossipDropped: (topic) => this.gossipDropped.inc({topic}),
      reqRespIn: (protocol, outcome) => this.reqResp.inc({protocol: protocolLabel(protocol), direction: "in", outcome}),
      reqRespOut: (protocol, outcome) => this.reqResp.inc({protocol: protocolLabel(protocol), direction: "out", outcome}),
      syncBlocks: (count) => this.syncedBlocks.inc(count),
      peerPenalised: (reason) => this.peerPenalties.inc({reason}),
    }
  }

  /** Connects the scrape-time gauges (validator set, peers by hospital) to the running node. */
  observe(view: NodeView): void {
    this.view = view
  }

  request(method: string, outcome: "ok" | "error", seconds?: number): void {
    this.rpcRequests.inc({method, outcome})
    if (seconds !== undefined) this.rpcDuration.observe({method}, seconds)
  }

  /** Records a finalized block for heights and tx/s. */
  blockFinalized(height: number, txs: number, now = Date.now()): void {
    this.height.set(height)
    this.finalizedHeight.set(height)
    this.txsFinalized.inc(txs)
    this.finalized = {height, blocks: this.finalized.blocks + 1, txs: this.finalized.txs + txs}
    this.recent.push({at: now, txs})
    this.prune(now)
  }

  /** The block timestamp (Unix ms) of the latest finalized block, for its age. */
  finalizedBlockTime(timestampMs: number): void {
    this.lastFinalizedTimestamp = timestampMs
  }

  /** Seconds since the latest finalized block's timestamp (0 before any). */
  lastFinalizedBlockAgeSeconds(now = Date.now()): number {
    return this.lastFinalizedTimestamp === null ? 0 : Math.max(0, (now - this.lastFinalizedTimestamp) / 1000)
  }

  /** Latest finalized height, and blocks and txs finalized since this node started. */
  finalizedTotals(): {height: number; blocks: number; txs: number} {
    return {...this.finalized}
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
