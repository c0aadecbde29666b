import {expect} from "chai"
import {createLibp2p, type Libp2p} from "libp2p"
import {tcp} from "@libp2p/tcp"
import {noise} from "@libp2p/noise"
import {yamux} from "@libp2p/yamux"
import {identify} from "@libp2p/identify"
import {privateKeyFromProtobuf} from "@libp2p/crypto/keys"
import {byteStream} from "@libp2p/utils"
import {PrivateKey} from "@careledger/core"
import type {NetworkOptions} from "../src/index.js"
import {buildChain, createNode, sleep, stopAll, waitFor, type TestNode} from "./helpers.js"

const PING_PROTOCOL = "/ipfs/ping/1.0.0"
const PING_BYTES = 32

/**
 * A member peer that answers pings only after `delayMs` (a loaded machine), or never (a peer whose
 * host is gone while the TCP connection still looks open). It runs no CareLedger protocols.
 */
async function slowPingPeer(key: PrivateKey, delayMs: number | "never"): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: privateKeyFromProtobuf(key.toLibp2pProtobuf()),
    addresses: {listen: ["/ip4/127.0.0.1/tcp/0"]},
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: {enabled: false},
    services: {identify: identify()},
  })
  await node.handle(
    PING_PROTOCOL,
    async (stream) => {
      const bytes = byteStream(stream)
      try {
        for (;;) {
          const data = await bytes.read({bytes: PING_BYTES})
          if (delayMs === "never") continue
          await sleep(delayMs)
          await bytes.write(data)
        }
      } catch {
        // The pinger closed or reset the stream.
      }
    },
    {maxInboundStreams: 16},
  )
  return node
}

describe("PeerDialer: connection upkeep", function () {
  this.timeout(90_000)
  const chain = buildChain([PrivateKey.generate()], 1)
  let nodes: TestNode[] = []
  let raw: Libp2p[] = []

  afterEach(async () => {
    await stopAll(nodes)
    await Promise.all(raw.map((n) => n.stop()))
    nodes = []
    raw = []
  })

  /** Our host with one member, a raw peer answering pings after `delayMs` (or never); its connection events in order. */
  async function facing(delayMs: number | "never", options: Partial<NetworkOptions>): Promise<{a: TestNode; peerKey: PrivateKey; events: string[]}> {
    const [ourKey, peerKey] = [PrivateKey.generate(), PrivateKey.generate()]
    const peer = await slowPingPeer(peerKey, delayMs)
    raw.push(peer)
    const a = createNode({key: ourKey, members: [ourKey, peerKey], chain, options: {...options, bootstrap: [peer.getMultiaddrs()[0]!.toString()]}})
    nodes.push(a)
    const events: string[] = []
    a.host.on("peer:connected", () => events.push("connected"))
    a.host.on("peer:disconnected", () => events.push("disconnected"))
    await a.host.start()
    return {a, peerKey, events}
  }

  it("keeps a member that answers pings slowly connected, and reports its round trip", async () => {
    // Pings every 300 ms, each answered after 2.5 s: a ping is nearly always in flight.
    const {a, peerKey, events} = await facing(2500, {pingIntervalMs: 300, requestTimeoutMs: 5000})
    await waitFor(() => a.host.connectedPeers().includes(peerKey.peerId), "the connection to the slow peer")
    // Long enough for several of our pings and for two rounds of any periodic check libp2p runs (10 s apart).
    await sleep(21_000)
    expect(events, "connection events").to.deep.equal(["connected"])
    expect(a.host.connectedPeers()).to.include(peerKey.peerId)
    expect(a.host.peers().find((p) => p.peerId === peerKey.peerId)?.latencyMs).to.be.at.least(2500)
  })

  it("closes a connection whose peer stops answering pings, and dials it again", async () => {
    const {events} = await facing("never", {pingIntervalMs: 500, requestTimeoutMs: 2000})
    await waitFor(() => events.includes("disconnected"), "the unanswered peer to be disconnected", 40_000)
    await waitFor(() => events.lastIndexOf("connected") > events.indexOf("disconnected"), "a redial of the member", 40_000)
  })

  it("accepts every member that dials it in the same second from one host", async () => {
    // Nine members on 127.0.0.1 dial one node at the same moment (a devnet start, or hospitals
    // behind one NAT address).
    const keys = Array.from({length: 10}, () => PrivateKey.generate())
    // A refused dial is not retried within this test, so only the first attempts count.
    const options = {redialBaseMs: 120_000, redialMaxMs: 120_000, requestTimeoutMs: 30_000}
    nodes = keys.map((key) => createNode({key, members: keys, chain, options}))
    await Promise.all(nodes.map((n) => n.host.start()))
    const [target, ...dialers] = nodes
    const refused: string[] = []
    await Promise.all(
      dialers.map(async (n) => {
        // A refused connection is reset at once; a handshake that a starved machine does not finish
        // in libp2p's dial timeout is dialled again (not what this test is about).
        for (let attempt = 0; attempt < 5; attempt++) {
          try {
            return await n.host.addPeer(target!.address())
          } catch (err) {
            if (/ECONNRESET|reset/i.test((err as Error).message)) return refused.push((err as Error).message)
          }
        }
      }),
    )
    expect(refused, "dials refused").to.deep.equal([])
    await waitFor(() => target!.host.connectedPeers().length === dialers.length, "every dialer connected").catch(() => undefined)
    expect(target!.host.connectedPeers()).to.have.members(dialers.map((n) => n.key.peerId))
  })
})
