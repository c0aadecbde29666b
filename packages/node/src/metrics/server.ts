import {createServer, type Server} from "node:http"
import type {AddressInfo} from "node:net"
import type {Logger} from "@careledger/core"
import type {NodeMetrics} from "./metrics.js"

import type {MetricsServerOptions} from "./options.js"
import {closeHttpServer, listenHttpServer} from "../rpc/http.js"

/** What /health and /ready look at. */
export interface HealthProbe {
  storeOpen(): boolean
  synced(): boolean
  peerCount(): number
  /** How far the highest finalized height a peer announced is above ours (0 when none is). */
  blocksBehind(): number
}

/** Most peers or blocks a readiness query may name; beyond it the query is refused. */
const MAX_READY_THRESHOLD = 1_000_000

/**
 * Readiness thresholds from `/ready?minPeers=N&maxBlocksBehind=M` (Besu's `/readiness`). Without
 * `maxBlocksBehind` the node must be synced (no range sync running, no peer more than one block
 * ahead); `minPeers` defaults to 1. Returns an error message for a bad query.
 */
export function readinessQuery(search: URLSearchParams): {minPeers: number; maxBlocksBehind: number | null} | string {
  const read = (name: string): number | null | string => {
    const raw = search.get(name)
    if (raw === null) return null
    if (!/^\d{1,7}$/.test(raw) || Number(raw) > MAX_READY_THRESHOLD) return `${name} must be an integer in 0..${MAX_READY_THRESHOLD}`
    return Number(raw)
  }
  const minPeers = read("minPeers")
  const maxBlocksBehind = read("maxBlocksBehind")
  if (typeof minPeers === "string") return minPeers
  if (typeof maxBlocksBehind === "string") return maxBlocksBehind
  return {minPeers: minPeers ?? 1, maxBlocksBehind}
}

/** Prometheus `/metrics`, liveness `/health` and readiness `/ready`, on a port apart from RPC. */
export class MetricsServer {
  private server: Server | null = null

  constructor(
    private readonly options: MetricsServerOptions,
    private readonly deps: {metrics: NodeMetrics; probe: HealthProbe; logger: Logger},
  ) {}

  async start(): Promise<void> {
    if (this.server !== null) return
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      const path = url.pathname
      const json = (status: number, body: unknown): void => {
        res.writeHead(status, {"content-type": "application/json"}).end(JSON.stringify(body))
      }
      if (req.method !== "GET" && req.method !== "HEAD") return json(405, {error: "GET only"})
      if (path === "/metrics") {
        void this.deps.metrics.registry.metrics().then(
          (text) => res.writeHead(200, {"content-type": this.deps.metrics.registry.contentType}).end(text),
          () => json(500, {error: "metrics collection failed"}),
        )
        return
      }
      if (path === "/health") {
        const storeOpen = this.deps.probe.storeOpen()
        return json(storeOpen ? 200 : 503, {alive: true, storeOpen})
      }
      if (path === "/ready") {
        const query = readinessQuery(url.searchParams)
        if (typeof query === "string") return json(400, {error: query})
        const {probe} = this.deps
        const synced = probe.synced()
        const peers = probe.peerCount()
        const blocksBehind = probe.blocksBehind()
        const caughtUp = query.maxBlocksBehind === null ? synced : blocksBehind <= query.maxBlocksBehind
        const ready = probe.storeOpen() && caughtUp && peers >= query.minPeers
        return json(ready ? 200 : 503, {ready, synced, peers, blocksBehind, minPeers: query.minPeers, maxBlocksBehind: query.maxBlocksBehind})
      }
      json(404, {error: "try /metrics, /health or /ready"})
    })
    await listenHttpServer(server, this.options.port, this.options.host)
    this.server = server
    this.deps.logger.info({url: this.url}, "metrics listening")
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === null) return
    this.server = null
    await closeHttpServer(server)
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null | undefined)?.port ?? this.options.port
  }

  get url(): string {
    return `http://${this.options.host}:${this.port}`
  }
}
