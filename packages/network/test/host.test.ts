import {expect} from "chai"
import {PrivateKey, encode, utf8, toHex} from "@careledger/core"
import {NetworkError, NetworkErrorCode} from "../src/index.js"
import {buildChain, CountingMetrics, createNode, makeTx, signedConsensusMessage, sleep, stopAll, waitFor, type TestNode} from "./helpers.js"

const validators = [0, 1, 2, 3].map(() => PrivateKey.generate())
const chain = buildChain(validators, 3)

describe("NetworkHost", function () {
  this.timeout(60_000)
  let nodes: TestNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  /** Starts nodes in a line a - b - c - d: each bootstraps only to the previous one. */
  async function line(count: number, metrics: CountingMetrics[] = []): Promise<TestNode[]> {
    const keys = Array.from({length: count}, () => PrivateKey.generate())
    const out: TestNode[] = []
    for (let i = 0; i < count; i++) {
      const options = {bootstrap: i === 0 ? [] : [out[i - 1]!.address()]}
      const node = createNode({key: keys[i]!, members: keys, chain, options, metrics: metrics[i]})
      nodes.push(node)
      await node.host.start()
      out.push(node)
    }
    for (let i = 0; i < count; i++) {
      const neighbours = (i > 0 ? 1 : 0) + (i < count - 1 ? 1 : 0)
      for (const topic of ["tx", "consensus"] as const) {
        await waitFor(() => out[i]!.host.meshPeers(topic).length === neighbours, `node ${i} ${topic} mesh`)
      }
    }
    return out
  }

  it("relays transactions, proposals and votes published by one node to all four over three hops", async () => {
    const [a, , , d] = await line(4)
    const txs = Array.from({length: 100}, (_, i) => makeTx(validators[0]!, i))
    a!.host.publishTxs(txs)
    const proposal = signedConsensusMessage(a!.key, encode(["proposal", chain.blocks[1]!.serialize()]))
    const vote = signedConsensusMessage(a!.key, encode(["vote", 1, chain.blocks[1]!.hash()]))
    await a!.host.publishConsensus(proposal)
    await a!.host.publishConsensus(vote)

    for (const node of nodes.slice(1)) {
      await waitFor(() => node.txs.length === 100 && node.consensus.length === 2, "all messages at every node")
    }
    expect(new Set(d!.txs)).to.deep.equal(new Set(txs.map((tx) => tx.hashHex())))
    expect(d!.consensus.map(toHex)).to.have.members([
      toHex(encode(["proposal", chain.blocks[1]!.serialize()])),
      toHex(encode(["vote", 1, chain.blocks[1]!.hash()])),
    ])
    // The publisher does not deliver its own messages to itself.
    expect(a!.txs).to.have.length(0)

    // Message ids are content hashes: the same vote published again by another member is a duplicate.
    const marker = signedConsensusMessage(d!.key, utf8("marker"))
    await d!.host.publishConsensus(vote)
    await d!.host.publishConsensus(marker)
    await waitFor(() => a!.consensus.length === 1, "the marker at the first node")
    expect(nodes[1]!.consensus).to.have.length(3)
    expect(new TextDecoder().decode(a!.consensus[0]!)).to.equal("marker")
  })

  it("does not relay malformed or forged messages and lowers the sender's score", async () => {
    const metrics = [new CountingMetrics(), new CountingMetrics()]
    const [a, b, c, d] = await line(4, metrics)
    const stranger = PrivateKey.generate()
    const good = signedConsensusMessage(a!.key, utf8("good"))
    await a!.host.publishConsensus(good)
    await waitFor(() => d!.consensus.length === 1, "the valid message at the fourth node")

    const forgedTx = makeTx(validators[1]!, 7).serialize().slice()
    forgedTx[forgedTx.length - 1]! ^= 0xff
    await a!.host.publish("consensus", utf8("not cbor at all"))
    await a!.host.publish("consensus", signedConsensusMessage(stranger, utf8("forged")))
    await a!.host.publish("tx", encode([forgedTx]))

    // Three rejections: two on the consensus topic (2^2 x -100) and one on the tx topic (-100).
    await waitFor(() => b!.host.getScore(a!.host.peerId) <= -490, "b to reject all three messages from a")
    await sleep(300)
    expect(c!.consensus.map((p) => new TextDecoder().decode(p))).to.deep.equal(["good"])
    expect(c!.txs).to.have.length(0)
    expect(d!.consensus).to.have.length(1)
    expect(b!.consensus).to.have.length(1)
    expect(c!.host.getScore(b!.host.peerId)).to.be.at.least(0)
    expect(metrics[1]!.gossip.get("consensus:reject")).to.equal(2)
    expect(metrics[1]!.gossip.get("tx:reject")).to.equal(1)
    expect(metrics[1]!.gossip.get("consensus:accept")).to.equal(1)
    expect(metrics[0]!.out.get("consensus")).to.equal(3)
    expect(metrics[1]!.peers).to.equal(2)
  })

  it("refuses a stranger in both directions before any protocol runs", async () => {
    const [a, b] = [PrivateKey.generate(), PrivateKey.generate()]
    const strangerKey = PrivateKey.generate()
    // The stranger would accept us; our side must refuse it.
    const stranger = createNode({key: strangerKey, members: [a, b, strangerKey], chain})
    nodes.push(stranger)
    await stranger.host.start()
    const nodeA = createNode({key: a, members: [a, b], chain, options: {bootstrap: [stranger.address()]}})
    nodes.push(nodeA)
    const statusesFrom: string[] = []
    nodeA.host.on("peer:status", ({peerId}) => statusesFrom.push(peerId))
    await nodeA.host.start()

    const connectedAtA: string[] = []
    nodeA.host.on("peer:connected", ({peerId}) => connectedAtA.push(peerId))
    const statusesAtStranger: string[] = []
    stranger.host.on("peer:status", ({peerId}) => statusesAtStranger.push(peerId))
    // Noise lets the dialer finish its handshake before the listener has checked the dialer's key,
    // so the stranger's dial may briefly look successful; the listener then drops it unupgraded.
    await stranger.host.addPeer(nodeA.address()).catch((err: unknown) => {
      expect(err).to.be.instanceOf(NetworkError)
    })
    await waitFor(() => !stranger.host.connectedPeers().includes(a.peerId), "the stranger's connection to be dropped")

    let outbound: unknown
    try {
      await nodeA.host.addPeer(stranger.address())
    } catch (err) {
      outbound = err
    }
    expect((outbound as NetworkError).code).to.equal(NetworkErrorCode.NOT_A_MEMBER)

    // A misconfigured bootstrap entry pointing at the stranger is redialled but never admitted.
    await sleep(500)
    expect(nodeA.host.connectedPeers(), "at A").to.not.include(strangerKey.peerId)
    // The stranger keeps knocking (A is in its redial list) and may hold a half-open dial for an
    // instant, but it never got far enough to run a protocol with A.
    expect(statusesFrom).to.have.length(0)
    expect(connectedAtA).to.have.length(0)
    expect(statusesAtStranger).to.have.length(0)
  })

  it("disconnects a node removed from the member set and readmits it when it is added back", async () => {
    const keys = [0, 1, 2].map(() => PrivateKey.generate())
    const a = createNode({key: keys[0]!, members: keys, chain})
    nodes.push(a)
    await a.host.start()
    const b = createNode({key: keys[1]!, members: keys, chain, options: {bootstrap: [a.address()]}})
    const c = createNode({key: keys[2]!, members: keys, chain, options: {bootstrap: [a.address()]}})
    nodes.push(b, c)
    await Promise.all([b.host.start(), c.host.start()])
    await waitFor(() => a.host.connectedPeers().length === 2, "a connected to b and c")

    await a.host.setMembers([keys[0]!.id, keys[1]!.id])
    await waitFor(() => !c.host.connectedPeers().includes(a.host.peerId), "c cut from a")
    // c keeps redialling a (it is c's bootstrap), and a keeps refusing it.
    await sleep(500)
    expect(a.host.connectedPeers()).to.deep.equal([b.host.peerId])
    expect(c.host.connectedPeers()).to.not.include(a.host.peerId)

    await a.host.setMembers(keys.map((k) => k.id))
    await waitFor(() => a.host.connectedPeers().includes(c.host.peerId), "c back after readmission")
  })

  it("reconnects to a peer restarted on the same key without manual action", async () => {
    const keys = [0, 1].map(() => PrivateKey.generate())
    const a = createNode({key: keys[0]!, members: keys, chain})
    nodes.push(a)
    await a.host.start()
    const address = a.address()
    const port = address.split("/")[4]!
    const b = createNode({key: keys[1]!, members: keys, chain, options: {bootstrap: [address]}})
    nodes.push(b)
    await b.host.start()
    await waitFor(() => b.host.connectedPeers().includes(a.host.peerId), "first connection")

    await a.host.stop()
    await waitFor(() => !b.host.connectedPeers().includes(a.host.peerId), "b to notice a is gone")
    await sleep(300)

    const restarted = createNode({key: keys[0]!, members: keys, chain, options: {listen: [`/ip4/127.0.0.1/tcp/${port}`]}})
    nodes.push(restarted)
    const statuses: string[] = []
    b.host.on("peer:status", ({peerId}) => statuses.push(peerId))
    await restarted.host.start()
    await waitFor(() => b.host.connectedPeers().includes(a.host.peerId), "b to redial the restarted a")
    await waitFor(() => statuses.includes(a.host.peerId), "statuses exchanged again")
    await waitFor(() => b.host.peers().find((p) => p.peerId === a.host.peerId)?.latencyMs !== undefined, "a ping round trip")
    const info = b.host.peers().find((p) => p.peerId === a.host.peerId)
    expect(info?.status).to.equal("connected")
    expect(info?.addresses[0]).to.contain(`/tcp/${port}`)
    expect(info?.chain?.finalizedHeight).to.equal(3)
  })

  it("exchanges records with request/response and reports remote errors", async () => {
    const keys = [0, 1].map(() => PrivateKey.generate())
    const custodian = createNode({
      key: keys[0]!,
      members: keys,
      chain,
      recordHandler: async (request, from) => {
        const text = new TextDecoder().decode(request)
        if (text === "missing") throw new Error("record not found")
        return utf8(`${text} for ${from}`)
      },
    })
    nodes.push(custodian)
    await custodian.host.start()
    const reader = createNode({key: keys[1]!, members: keys, chain, options: {bootstrap: [custodian.address()]}})
    nodes.push(reader)
    await reader.host.start()
    await waitFor(() => reader.host.connectedPeers().length === 1, "connected")

    const answer = await reader.host.requestRecord(custodian.host.peerId, utf8("record-1"))
    expect(new TextDecoder().decode(answer)).to.equal(`record-1 for ${reader.host.peerId}`)

    let remote: unknown
    try {
      await reader.host.requestRecord(custodian.host.peerId, utf8("missing"))
    } catch (err) {
      remote = err
    }
    expect((remote as NetworkError).code).to.equal(NetworkErrorCode.REMOTE_ERROR)
    expect((remote as NetworkError).message).to.contain("record not found")

    let tooLarge: unknown
    try {
      await reader.host.requestRecord(custodian.host.peerId, new Uint8Array(70 * 1024))
    } catch (err) {
      tooLarge = err
    }
    expect((tooLarge as NetworkError).code).to.equal(NetworkErrorCode.TOO_LARGE)
  })

  it("caps concurrent inbound requests and times out requests that get no answer", async () => {
    const keys = [0, 1, 2].map(() => PrivateKey.generate())
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let handling = 0
    const custodian = createNode({
      key: keys[0]!,
      members: keys,
      chain,
      options: {maxInboundStreamsPerProtocol: 2},
      recordHandler: async (request) => {
        handling++
        await gate
        return request
      },
    })
    nodes.push(custodian)
    await custodian.host.start()
    const reader = createNode({key: keys[1]!, members: keys, chain, options: {bootstrap: [custodian.address()], requestTimeoutMs: 1500}})
    nodes.push(reader)
    await reader.host.start()
    await waitFor(() => reader.host.connectedPeers().length === 1, "connected")

    let settled = 0
    const requests = [1, 2, 3].map((i) =>
      reader.host.requestRecord(custodian.host.peerId, utf8(`r${i}`)).finally(() => {
        settled++
      }),
    )
    const all = Promise.allSettled(requests)
    await waitFor(() => handling === 2 && settled === 1, "two requests in the handler and one refused")
    release()
    const results = await all
    expect(results.filter((r) => r.status === "fulfilled")).to.have.length(2)
    const refused = results.filter((r) => r.status === "rejected")
    expect(refused).to.have.length(1)
    expect((refused[0] as PromiseRejectedResult).reason).to.be.instanceOf(NetworkError)

    // A handler that never answers: the client gives up at its timeout.
    const never = createNode({key: keys[2]!, members: keys, chain, recordHandler: () => new Promise<Uint8Array>(() => undefined)})
    nodes.push(never)
    await never.host.start()
    await reader.host.addPeer(never.address())
    let timeout: unknown
    try {
      await reader.host.requestRecord(never.host.peerId, utf8("r4"))
    } catch (err) {
      timeout = err
    }
    expect((timeout as NetworkError).code, String(timeout)).to.equal(NetworkErrorCode.TIMEOUT)
  })

  it("keeps request/response open to every member while one peer holds as many streams as it can", async () => {
    const keys = [0, 1, 2].map(() => PrivateKey.generate())
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const greedyId = keys[1]!.peerId
    let held = 0
    const custodian = createNode({
      key: keys[0]!,
      members: keys,
      chain,
      recordHandler: async (request, from) => {
        // The greedy member's requests never finish until the end of the test.
        if (from === greedyId) {
          held++
          await gate
        }
        return request
      },
    })
    nodes.push(custodian)
    await custodian.host.start()
    const greedy = createNode({key: keys[1]!, members: keys, chain, options: {bootstrap: [custodian.address()]}})
    const other = createNode({key: keys[2]!, members: keys, chain, options: {bootstrap: [custodian.address()]}})
    nodes.push(greedy, other)
    await greedy.host.start()
    await other.host.start()
    await waitFor(() => greedy.host.connectedPeers().length === 1 && other.host.connectedPeers().length === 1, "both connected")

    const limit = custodian.host.options.maxInboundStreamsPerProtocol
    let refused = 0
    const greedyRequests = Array.from({length: limit + 4}, (_, i) =>
      greedy.host.requestRecord(custodian.host.peerId, utf8(`hold-${i}`)).catch(() => {
        refused++
      }),
    )
    await waitFor(() => held + refused === limit + 4, "every greedy request held or refused")

    // Another member still gets its record and its status answered.
    const answer = await other.host.requestRecord(custodian.host.peerId, utf8("mine"))
    expect(new TextDecoder().decode(answer)).to.equal("mine")
    const status = await other.host.requestStatus(custodian.host.peerId)
    expect(status.finalizedHeight).to.equal(chain.height)
    expect(held).to.be.lessThan(limit)
    release()
    await Promise.all(greedyRequests)
  })

  it("never publishes on the consensus topic as an observer", async () => {
    const keys = [0, 1].map(() => PrivateKey.generate())
    const observer = createNode({key: keys[0]!, members: [keys[1]!], chain, options: {observer: true}})
    nodes.push(observer)
    await observer.host.start()
    let refused: unknown
    try {
      await observer.host.publishConsensus(signedConsensusMessage(keys[0]!, utf8("vote")))
    } catch (err) {
      refused = err
    }
    expect((refused as NetworkError).code).to.equal(NetworkErrorCode.NOT_A_MEMBER)
    // Transactions it still gossips.
    observer.host.publishTxs([makeTx(keys[0]!, 0)])
  })

  it("refuses bad input with typed errors", async () => {
    const key = PrivateKey.generate()
    const node = createNode({key, members: [key], chain})
    nodes.push(node)
    expect(() => node.host.publishTxs([])).to.throw(NetworkError).with.property("code", NetworkErrorCode.NOT_STARTED)
    await node.host.start()
    await node.host.start()
    for (const bad of ["not a multiaddr", "/ip4/127.0.0.1/tcp/1"]) {
      let err: unknown
      try {
        await node.host.addPeer(bad)
      } catch (e) {
        err = e
      }
      expect((err as NetworkError).code).to.equal(NetworkErrorCode.BAD_MULTIADDR)
    }
    let big: unknown
    try {
      await node.host.publishConsensus(new Uint8Array(node.host.options.maxConsensusMessageBytes + 1))
    } catch (e) {
      big = e
    }
    expect((big as NetworkError).code).to.equal(NetworkErrorCode.TOO_LARGE)
    await node.host.stop()
    await node.host.stop()
  })
})
