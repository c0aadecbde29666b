import {expect} from "chai"
import {PrivateKey, toHex} from "@careledger/core"
import {RangeSync} from "../src/index.js"
import {buildChain, createNode, stopAll, waitFor, type MemoryChain, type TestNode} from "./helpers.js"

const HEIGHT = 1000
const validators = [0, 1, 2, 3].map(() => PrivateKey.generate())
const outsiders = [0, 1, 2, 3].map(() => PrivateKey.generate())

describe("RangeSync", function () {
  this.timeout(120_000)
  let honest: MemoryChain
  let forged: MemoryChain
  let nodes: TestNode[] = []
  let syncs: RangeSync[] = []
  const keys = [0, 1, 2, 3].map(() => PrivateKey.generate())

  before(() => {
    honest = buildChain(validators, HEIGHT)
    // Block 500 is the honest block, but its certificate is signed by keys outside the validator set.
    forged = buildChain(validators, HEIGHT, {height: 500, signers: outsiders})
  })

  afterEach(async () => {
    await Promise.all(syncs.map((s) => s.stop()))
    await stopAll(nodes)
    nodes = []
    syncs = []
  })

  /** Wraps a chain so the test can count how many blocks each server streamed. */
  function serving(chain: MemoryChain, counter: {served: number}): MemoryChain {
    const read = chain.read.bind(chain)
    return Object.assign(Object.create(chain) as MemoryChain, {
      read: async function* (from: number, count: number) {
        for await (const item of read(from, count)) {
          counter.served++
          yield item
        }
      },
    })
  }

  async function server(index: number, chain: MemoryChain): Promise<TestNode> {
    const node = createNode({key: keys[index]!, members: keys, chain})
    nodes.push(node)
    await node.host.start()
    return node
  }

  function joiner(bootstrap: string[], onImport?: (height: number) => void): {node: TestNode; sync: RangeSync} {
    const chain = honest.emptyCopy()
    const node = createNode({key: keys[3]!, members: keys, chain, options: {bootstrap}})
    nodes.push(node)
    const sync = new RangeSync(
      {batchSize: 64},
      {
        host: node.host,
        localHeight: () => chain.height,
        importBlock: async (block, commit) => {
          await chain.importBlock(block, commit)
          onImport?.(chain.height)
        },
      },
    )
    syncs.push(sync)
    return {node, sync}
  }

  it(`catches up a node that joins late on a chain of ${HEIGHT} certified blocks`, async () => {
    const a = await server(0, honest)
    const {node, sync} = joiner([a.address()])
    await node.host.start()
    sync.start()
    await waitFor(() => node.chain.height === HEIGHT, "the joiner to reach the head", 90_000)
    expect(toHex(node.chain.blocks[HEIGHT]!.hash())).to.equal(toHex(honest.blocks[HEIGHT]!.hash()))
    expect(node.host.isBanned(a.host.peerId)).to.equal(false)
  })

  it("resumes from another peer when the serving peer stops midway", async () => {
    const counts = [{served: 0}, {served: 0}]
    const a = await server(0, serving(honest, counts[0]!))
    const b = await server(1, serving(honest, counts[1]!))
    const servers = [a, b]
    let stopped: TestNode | undefined
    const {node, sync} = joiner([a.address(), b.address()], (height) => {
      if (height === 300 && stopped === undefined) {
        stopped = servers.find((s) => s.host.peerId === sync.servingPeer)
        void stopped?.host.stop()
      }
    })
    await node.host.start()
    sync.start()
    await waitFor(() => node.chain.height === HEIGHT, "the joiner to reach the head", 90_000)
    expect(stopped).to.not.equal(undefined)
    const other = servers.find((s) => s !== stopped)!
    const stoppedCount = counts[servers.indexOf(stopped!)]!.served
    const otherCount = counts[servers.indexOf(other)]!.served
    expect(stoppedCount).to.be.at.least(300).and.below(HEIGHT)
    expect(otherCount).to.be.at.least(HEIGHT - stoppedCount)
    expect(toHex(node.chain.blocks[HEIGHT]!.hash())).to.equal(toHex(honest.blocks[HEIGHT]!.hash()))
  })

  it("notices a connected peer moved ahead (periodic status) and catches up without reconnecting", async () => {
    const prefix = (height: number): MemoryChain => {
      const chain = honest.emptyCopy()
      for (let h = 1; h <= height; h++) {
        chain.blocks.push(honest.blocks[h]!)
        chain.commits.push(honest.commits[h]!)
      }
      return chain
    }
    const aheadChain = prefix(100)
    const a = createNode({key: keys[0]!, members: keys, chain: aheadChain, options: {pingIntervalMs: 200}})
    nodes.push(a)
    await a.host.start()
    const behind = prefix(100)
    const b = createNode({key: keys[1]!, members: keys, chain: behind, options: {pingIntervalMs: 200, bootstrap: [a.address()]}})
    nodes.push(b)
    const sync = new RangeSync({}, {host: b.host, localHeight: () => behind.height, importBlock: (block, commit) => behind.importBlock(block, commit)})
    syncs.push(sync)
    await b.host.start()
    sync.start()
    await waitFor(() => b.host.peerStatuses().get(a.host.peerId)?.finalizedHeight === 100, "statuses exchanged")
    // a commits 200 more blocks that b missed (as if b lost those consensus messages).
    for (let h = 101; h <= 300; h++) {
      aheadChain.blocks.push(honest.blocks[h]!)
      aheadChain.commits.push(honest.commits[h]!)
    }
    await waitFor(() => behind.height === 300, "b to catch up")
    expect(b.host.connectedPeers()).to.deep.equal([a.host.peerId])
  })

  it("refuses a forged block, bans the peer that served it, and finishes from an honest peer", async () => {
    const forger = await server(0, forged)
    const {node, sync} = joiner([forger.address()])
    const penalised: string[] = []
    node.host.on("peer:penalised", ({peerId}) => penalised.push(peerId))
    await node.host.start()
    sync.start()
    await waitFor(() => penalised.length > 0, "the forger to be penalised", 90_000)
    await waitFor(() => !sync.syncing, "the sync run to end")
    expect(penalised).to.deep.equal([forger.host.peerId])
    expect(node.chain.height).to.equal(499)
    expect(node.host.isBanned(forger.host.peerId)).to.equal(true)
    await waitFor(() => !node.host.connectedPeers().includes(forger.host.peerId), "the forger to be cut off")

    const honestPeer = await server(1, honest)
    await node.host.addPeer(honestPeer.address())
    await waitFor(() => node.chain.height === HEIGHT, "the joiner to finish from the honest peer", 90_000)
    expect(toHex(node.chain.blocks[500]!.hash())).to.equal(toHex(honest.blocks[500]!.hash()))
    expect(node.host.connectedPeers()).to.not.include(forger.host.peerId)
  })
})
