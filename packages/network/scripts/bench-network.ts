/**
 * Network benchmark: gossip messages per second among four nodes, blocks per second for range
 * sync, and time from a peer's restart to its reconnection. Prints the median of several runs;
 * figures depend on the machine and its load, so they are reported, never asserted.
 * Run: `npx tsc -b packages/network && node packages/network/dist/scripts/bench-network.js`.
 */
import {performance} from "node:perf_hooks"
import {PrivateKey, sha256, utf8} from "@careledger/core"
import {RangeSync} from "../src/index.js"
import {buildChain, createNode, makeTx, signedConsensusMessage, sleep, stopAll, waitFor, type MemoryChain, type TestNode} from "../test/helpers.js"

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const GOSSIP_MESSAGES = Number(process.env.BENCH_GOSSIP_MESSAGES ?? 2000)
const GOSSIP_TXS = Number(process.env.BENCH_GOSSIP_TXS ?? 5000)
const SYNC_BLOCKS = Number(process.env.BENCH_SYNC_BLOCKS ?? 2000)

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

const validators = [0, 1, 2, 3].map((i) => PrivateKey.fromSeed(sha256(utf8(`bench/validator/${i}`))))

/** Four nodes, fully connected (each bootstraps to all earlier ones), meshes formed. */
async function fourNodes(chain: MemoryChain): Promise<TestNode[]> {
  const keys = [0, 1, 2, 3].map(() => PrivateKey.generate())
  const nodes: TestNode[] = []
  for (const key of keys) {
    const node = createNode({key, members: keys, chain, options: {bootstrap: nodes.map((n) => n.address())}})
    await node.host.start()
    nodes.push(node)
  }
  for (const node of nodes) {
    await waitFor(() => node.host.meshPeers("consensus").length === 3 && node.host.meshPeers("tx").length === 3, "full mesh")
  }
  return nodes
}

async function gossipRun(chain: MemoryChain): Promise<{messagesPerSec: number; txsPerSec: number}> {
  const nodes = await fourNodes(chain)
  try {
    const [origin, ...others] = nodes as [TestNode, ...TestNode[]]
    const payloads = Array.from({length: GOSSIP_MESSAGES}, (_, i) => signedConsensusMessage(origin.key, utf8(`vote ${i} ${Math.random()}`)))
    let start = performance.now()
    // 32 publishers in a loop: the host's bounded publisher refuses bursts beyond its queue.
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < payloads.length) await origin.host.publishConsensus(payloads[next++]!)
    }
    await Promise.all(Array.from({length: 32}, worker))
    await waitFor(() => others.every((n) => n.consensus.length === GOSSIP_MESSAGES), "all consensus messages", 120_000)
    const messagesPerSec = (GOSSIP_MESSAGES * others.length) / ((performance.now() - start) / 1000)

    const txs = Array.from({length: GOSSIP_TXS}, (_, i) => makeTx(validators[i % 4]!, i))
    start = performance.now()
    for (let i = 0; i < txs.length; i += 1000) {
      origin.host.publishTxs(txs.slice(i, i + 1000))
      await origin.host.flushTxs()
    }
    await waitFor(() => others.every((n) => n.txs.length === GOSSIP_TXS), "all txs", 120_000)
    const txsPerSec = (GOSSIP_TXS * others.length) / ((performance.now() - start) / 1000)
    return {messagesPerSec, txsPerSec}
  } finally {
    await stopAll(nodes)
  }
}

async function syncRun(chain: MemoryChain): Promise<number> {
  const keys = [0, 1].map(() => PrivateKey.generate())
  const server = createNode({key: keys[0]!, members: keys, chain})
  await server.host.start()
  const local = chain.emptyCopy()
  const joiner = createNode({key: keys[1]!, members: keys, chain: local})
  const sync = new RangeSync({}, {host: joiner.host, localHeight: () => local.height, importBlock: (b, c) => local.importBlock(b, c)})
  try {
    await joiner.host.start()
    const start = performance.now()
    sync.start()
    await joiner.host.addPeer(server.address())
    await waitFor(() => local.height === chain.height, "sync to the head", 300_000)
    return chain.height / ((performance.now() - start) / 1000)
  } finally {
    await sync.stop()
    await stopAll([server, joiner])
  }
}

/** Production backoff (500 ms doubling, capped at 10 s): the peer is down for `downMs`. */
async function reconnectRun(chain: MemoryChain, downMs: number): Promise<number> {
  const keys = [0, 1].map(() => PrivateKey.generate())
  const prod = {redialBaseMs: 500, redialMaxMs: 10_000}
  const a = createNode({key: keys[0]!, members: keys, chain, options: prod})
  await a.host.start()
  const address = a.address()
  const b = createNode({key: keys[1]!, members: keys, chain, options: {...prod, bootstrap: [address]}})
  let restarted: TestNode | undefined
  try {
    await b.host.start()
    await waitFor(() => b.host.connectedPeers().length === 1, "first connection")
    await a.host.stop()
    await sleep(downMs)
    restarted = createNode({key: keys[0]!, members: keys, chain, options: {...prod, listen: [`/ip4/127.0.0.1/tcp/${address.split("/")[4]}`]}})
    await restarted.host.start()
    const start = performance.now()
    await waitFor(() => b.host.connectedPeers().length === 1, "reconnection", 60_000)
    return performance.now() - start
  } finally {
    await stopAll([a, b, ...(restarted === undefined ? [] : [restarted])])
  }
}

async function main(): Promise<void> {
  const small = buildChain(validators, 3)
  out(`building a ${SYNC_BLOCKS}-block chain with 4-validator commit certificates...`)
  const long = buildChain(validators, SYNC_BLOCKS)
  const gossip: number[] = []
  const txs: number[] = []
  const sync: number[] = []
  const reconnect1s: number[] = []
  const reconnect5s: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const g = await gossipRun(small)
    gossip.push(g.messagesPerSec)
    txs.push(g.txsPerSec)
    sync.push(await syncRun(long))
    reconnect1s.push(await reconnectRun(small, 1000))
    reconnect5s.push(await reconnectRun(small, 5000))
    out(
      `run ${run + 1}: gossip ${g.messagesPerSec.toFixed(0)} msg/s, txs ${g.txsPerSec.toFixed(0)} tx/s, sync ${sync.at(-1)!.toFixed(0)} blocks/s, ` +
        `reconnect ${reconnect1s.at(-1)!.toFixed(0)} ms (1 s down) / ${reconnect5s.at(-1)!.toFixed(0)} ms (5 s down)`,
    )
  }
  out(`median of ${RUNS} runs:`)
  out(`  gossip among 4 nodes (consensus messages delivered per second, 3 receivers): ${median(gossip).toFixed(0)}`)
  out(`  tx gossip among 4 nodes (txs delivered per second, batched <= 64/message): ${median(txs).toFixed(0)}`)
  out(`  range sync (empty blocks + 4-signature certificates verified): ${median(sync).toFixed(0)} blocks/s`)
  out(`  restart to reconnection, peer down 1 s: ${median(reconnect1s).toFixed(0)} ms; down 5 s: ${median(reconnect5s).toFixed(0)} ms`)
}

await main()
