import {expect} from "chai"
import {MetricsServer, NodeMetrics} from "../../src/metrics/index.js"
import {silentLogger} from "../../src/logger/index.js"

describe("metrics/server", () => {
  let server: MetricsServer
  const probe = {store: true, synced: false, peers: 0}

  before(async () => {
    const metrics = new NodeMetrics({defaultMetrics: false})
    metrics.blockFinalized(12, 30, Date.now())
    metrics.request("chain_head", "ok")
    server = new MetricsServer(
      {host: "127.0.0.1", port: 0},
      {metrics, logger: silentLogger(), probe: {storeOpen: () => probe.store, synced: () => probe.synced, peerCount: () => probe.peers}},
    )
    await server.start()
  })
  after(() => server.stop())

  it("serves Prometheus metrics: heights, tx/s, rpc requests", async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    expect(text).to.match(/^careledger_height 12$/m)
    expect(text).to.match(/^careledger_finalized_height 12$/m)
    expect(text).to.match(/^careledger_tx_per_second 3$/m)
    expect(text).to.contain('careledger_rpc_requests_total{method="chain_head",outcome="ok"} 1')
  })

  it("is healthy while the store is open and ready only when synced with peers", async () => {
    expect((await fetch(`${server.url}/health`)).status).to.equal(200)
    expect((await fetch(`${server.url}/ready`)).status).to.equal(503)
    probe.synced = true
    expect((await fetch(`${server.url}/ready`)).status).to.equal(503)
    probe.peers = 2
    const ready = await fetch(`${server.url}/ready`)
    expect(ready.status).to.equal(200)
    expect(await ready.json()).to.deep.equal({ready: true, synced: true, peers: 2})
    probe.store = false
    expect((await fetch(`${server.url}/health`)).status).to.equal(503)
  })
})
