import {expect} from "chai"
import {MetricsServer, NodeMetrics} from "../../src/metrics/index.js"
import {silentLogger} from "../../src/logger/index.js"

describe("metrics/server", () => {
  let server: MetricsServer
  const probe = {store: true, synced: false, peers: 0, behind: 0}

  before(async () => {
    const metrics = new NodeMetrics({defaultMetrics: false})
    metrics.blockFinalized(12, 30, Date.now())
    metrics.request("chain_head", "ok")
    server = new MetricsServer(
      {host: "127.0.0.1", port: 0},
      {metrics, logger: silentLogger(), probe: {storeOpen: () => probe.store, synced: () => probe.synced, peerCount: () => probe.peers, blocksBehind: () => probe.behind}},
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

  it("names process metrics once, labels request/response protocols alike both ways, and shows the validator view", async () => {
    const metrics = new NodeMetrics()
    const hooks = metrics.networkHooks()
    hooks.reqRespIn!("/careledger/some-chain/status/1", "ok")
    hooks.reqRespOut!("status", "ok")
    metrics.observe({validatorCount: () => 4, isValidator: () => true, peersByHospital: () => new Map([["hosp-1", 1], ["hosp-2", 1]])})
    metrics.round.set(2)
    const text = await metrics.registry.metrics()
    expect(text).to.not.contain("careledger_process_process_")
    expect(text).to.match(/^careledger_process_cpu_user_seconds_total /m)
    expect(text).to.contain('careledger_reqresp_total{protocol="status",direction="in",outcome="ok"} 1')
    expect(text).to.contain('careledger_reqresp_total{protocol="status",direction="out",outcome="ok"} 1')
    expect(text).to.match(/^careledger_validators 4$/m)
    expect(text).to.match(/^careledger_is_validator 1$/m)
    expect(text).to.contain('careledger_peers_by_hospital{hospital="hosp-2"} 1')
    expect(text).to.match(/^careledger_consensus_round 2$/m)
  })

  it("is healthy while the store is open and ready only when synced with peers", async () => {
    expect((await fetch(`${server.url}/health`)).status).to.equal(200)
    expect((await fetch(`${server.url}/ready`)).status).to.equal(503)
    probe.synced = true
    expect((await fetch(`${server.url}/ready`)).status).to.equal(503)
    probe.peers = 2
    const ready = await fetch(`${server.url}/ready`)
    expect(ready.status).to.equal(200)
    expect(await ready.json()).to.deep.equal({ready: true, synced: true, peers: 2, blocksBehind: 0, minPeers: 1, maxBlocksBehind: null})
    // Besu-style thresholds: at least minPeers peers, at most maxBlocksBehind blocks behind the best peer.
    expect((await fetch(`${server.url}/ready?minPeers=3`)).status).to.equal(503)
    expect((await fetch(`${server.url}/ready?minPeers=2`)).status).to.equal(200)
    probe.synced = false
    probe.behind = 5
    expect((await fetch(`${server.url}/ready`)).status).to.equal(503)
    expect((await fetch(`${server.url}/ready?maxBlocksBehind=4`)).status).to.equal(503)
    const lenient = await fetch(`${server.url}/ready?minPeers=0&maxBlocksBehind=5`)
    expect(lenient.status).to.equal(200)
    expect(await lenient.json()).to.include({ready: true, blocksBehind: 5, minPeers: 0, maxBlocksBehind: 5})
    const bad = await fetch(`${server.url}/ready?minPeers=-1`)
    expect(bad.status).to.equal(400)
    expect(((await bad.json()) as {error: string}).error).to.contain("minPeers")
    probe.synced = true
    probe.behind = 0
    probe.store = false
    expect((await fetch(`${server.url}/health`)).status).to.equal(503)
  })
})
