import {createServer, type Server} from "node:http"
import type {AddressInfo} from "node:net"
import type {Logger} from "pino"
import type {NodeMetrics} from "./metrics.js"

import type {MetricsServerOptions} from "./options.js"

/** What /health and /ready look at. */
export interface HealthProbe {
  storeOpen(): boolean
  synced(): boolean
  peerCount(): number
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
      const path = (req.url ?? "/").split("?")[0]
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
        const synced = this.deps.probe.synced()
        const peers = this.deps.probe.peerCount()
        const ready = synced && peers > 0
        return json(ready ? 200 : 503, {ready, synced, peers})
      }
      json(404, {error: "try /metrics, /health or /ready"})
    })
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(this.options.port, this.options.host, () => {
        server.off("error", reject)
        resolve()
      })
    })
    this.server = server
    this.deps.logger.info({url: this.url}, "metrics listening")
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === null) return
    this.server = null
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null | undefined)?.port ?? this.options.port
  }

  get url(): string {
    return `http://${this.options.host}:${this.port}`
  }
}
