#!/usr/bin/env node
// End-to-end benchmark of a real consortium on loopback (part of `npm run bench`, or alone with
// `node scripts/bench-e2e.mjs`). Starts N validator processes, enrols providers and a patient, then
// drives `record.anchor` transactions (a 32-byte content hash each) through the public JSON-RPC:
//   - closed loop: 1 and 4 senders, a fixed number of requests in flight in total;
//   - open loop: a fixed offered rate (tx/s) spread over 4 senders;
//   - batches: 4 senders each sending `tx_sendBatch` requests of --batch txs, one request in flight
//     per sender (needs a node with tx_sendBatch).
// For each it reports submitted and finalized tx/s, p50/p99 submit-to-final, resends, and the CPU
// and RSS of every node process, plus this machine's ed25519 verify rate and the ceiling it implies
// (each validator verifies each transaction once). Writes JSON under bench/results/. Figures
// depend on the machine and its load and are never asserted.
//
// Before any load it reports each node process's start-up (seconds to RPC, CPU spent) and an idle
// window (--idle seconds): blocks per minute and CPU per block per node without transactions. The
// soak (--soak seconds) samples every node's RSS, heap in use and pool size every 10 s and reports
// each node's memory slope after a warm-up.
//
// Flags: --validators N (4)  --txs N (2000)  --inflight N (32)  --senders 1,4  --rate N (1000)
//        --rate-txs N (3000)  --batch N (64)  --runs N (3)  --soak SECONDS (0: none)  --soak-rate N (500)
//        --idle SECONDS (30; 0: none)  --scenarios closed,rate,batch  --label TEXT  --out FILE
//        --cpu-prof DIR (each node writes a V8 CPU profile there when it stops)
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from "node:fs"
import {availableParallelism, tmpdir} from "node:os"
import {join, resolve} from "node:path"
import {performance} from "node:perf_hooks"
import {parseArgs} from "node:util"
import {PrivateKey, Role, Transaction, TxType, sha256, utf8, verifySignature} from "@careledger/core"
import {CareLedgerClient} from "@careledger/client"
import {prepareDevnet, readKeyFile, spawnNode, stopNode, waitForRpc} from "@careledger/node"
import {median, quantile, slope} from "./bench-stats.mjs"

const {values: flags} = parseArgs({
  options: {
    validators: {type: "string", default: "4"},
    txs: {type: "string", default: "2000"},
    inflight: {type: "string", default: "32"},
    senders: {type: "string", default: "1,4"},
    rate: {type: "string", default: "1000"},
    "rate-txs": {type: "string", default: "3000"},
    batch: {type: "string", default: "64"},
    runs: {type: "string", default: "3"},
    soak: {type: "string", default: "0"},
    idle: {type: "string", default: "30"},
    "soak-rate": {type: "string", default: "500"},
    scenarios: {type: "string", default: "closed,rate,batch"},
    label: {type: "string", default: ""},
    out: {type: "string"},
    "cpu-prof": {type: "string"},
  },
})
const VALIDATORS = Number(flags.validators)
const TXS = Number(flags.txs)
const IN_FLIGHT = Number(flags.inflight)
const SENDER_COUNTS = flags.senders.split(",").map(Number)
const RATE = Number(flags.rate)
const RATE_TXS = Number(flags["rate-txs"])
const BATCH = Number(flags.batch)
const RUNS = Number(flags.runs)
const SOAK_SECONDS = Number(flags.soak)
const SOAK_RATE = Number(flags["soak-rate"])
const IDLE_SECONDS = Number(flags.idle)
const SCENARIOS = new Set(flags.scenarios.split(","))
/**
 * How long the benchmark waits for every node's RPC to answer: each node process spends about 1.5 s
 * of CPU starting (loading modules, opening its store, starting libp2p), so N processes on a few
 * shared cores need about N x 1.5 s / cores, far more on a loaded machine.
 */
const START_DEADLINE_MS = 60_000 + 10_000 * VALIDATORS
/** Soak samples taken before this many seconds are left out of the memory slope (start-up and warm-up). */
const SOAK_WARMUP_S = 120
/** Upper bound of one run, so a stalled network ends the benchmark instead of hanging it. */
const RUN_DEADLINE_MS = 180_000
/** Open-loop runs never hold more requests than this in flight (a slow node shows as a lower submitted rate). */
const MAX_OPEN_IN_FLIGHT = 256
const NONCE_GAP = -32006
/** The node is catching up with its peers (or not started): try again shortly. */
const UNAVAILABLE = -32016
const DUPLICATE_TX = -32008
const NONCE_REPLAYED = -32003
const CHAIN_ID = "careledger-bench-e2e"

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** ed25519 verifications per second on one core of this machine, measured now. */
function verifyRate() {
  const key = PrivateKey.generate()
  const messages = Array.from({length: 256}, (_, i) => sha256(utf8(`verify/${i}`)))
  const signatures = messages.map((m) => key.sign(m))
  let count = 0
  const started = performance.now()
  while (performance.now() - started < 1000) {
    for (let i = 0; i < messages.length; i++) if (!verifySignature(key.publicKey, messages[i], signatures[i])) throw new Error("bad signature")
    count += messages.length
  }
  return count / ((performance.now() - started) / 1000)
}

/** CPU seconds (user + system) and RSS bytes of a process, from /proc. */
function procSample(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const cpu = (Number(fields[11]) + Number(fields[12])) / 100
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024
    return {cpu, rss}
  } catch {
    return {cpu: NaN, rss: NaN}
  }
}

/** Heap in use (MiB) and mempool size of a node, from its Prometheus endpoint (NaN if it does not answer). */
async function nodeMetrics(spec) {
  try {
    const response = await fetch(`${spec.metricsUrl}/metrics`, {signal: AbortSignal.timeout(5000)})
    const text = await response.text()
    const value = (name) => Number(new RegExp(`^${name} ([0-9.e+]+)$`, "m").exec(text)?.[1] ?? NaN)
    return {heapMiB: value("careledger_nodejs_heap_size_used_bytes") / 2 ** 20, pool: value("careledger_mempool_txs")}
  } catch {
    return {heapMiB: NaN, pool: NaN}
  }
}

/** Per node: least-squares slope (MiB per minute) of `key` over the samples from `fromS` seconds on, and first/last/max of those. */
function memoryTrend(samples, key, fromS) {
  const kept = samples.filter((s) => s.t >= fromS)
  if (kept.length < 2) return []
  return kept[0][key].map((_, node) => {
    const ys = kept.map((s) => s[key][node])
    return {slopeMiBPerMin: slope(kept.map((s) => s.t / 60), ys), first: ys[0], last: ys[ys.length - 1], max: Math.max(...ys)}
  })
}

/**
 * Follows finalized blocks on one node and notes when each transaction hash was first seen final.
 * Polls chain_head (every 20 ms) so it measures the same way against any build.
 */
class FinalityWatcher {
  constructor(client) {
    this.client = client
    this.finalAt = new Map()
    this.blocks = []
    this.next = 0
    this.stopped = false
  }
  async start() {
    this.next = (await this.client.head()).finalizedHeight + 1
    this.loop = this.run()
  }
  async run() {
    while (!this.stopped) {
      let head
      try {
        head = (await this.client.head()).finalizedHeight
      } catch {
        await sleep(50)
        continue
      }
      for (; this.next <= head && !this.stopped; this.next++) {
        let block
        try {
          block = await this.client.getBlock(this.next)
        } catch {
          break
        }
        const now = performance.now()
        this.blocks.push({height: this.next, txs: block.txs.length, round: block.header.round, at: now})
        for (const tx of block.txs) if (!this.finalAt.has(tx.hash)) this.finalAt.set(tx.hash, now)
      }
      await sleep(20)
    }
  }
  async stop() {
    this.stopped = true
    await this.loop
  }
}

async function sendWithRetry(client, tx, stats) {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      await client.sendTx(tx)
      return
    } catch (err) {
      if (err?.code === NONCE_GAP || err?.code === UNAVAILABLE || err?.code === "CLIENT_ERROR_TRANSPORT") {
        stats.resends++
        await sleep(20)
        continue
      }
      // A resend after a lost answer finds the tx already pending or already final.
      if (attempt > 0 && (err?.code === DUPLICATE_TX || err?.code === NONCE_REPLAYED)) return
      stats.failures++
      if (stats.failures <= 3) console.error(`  send failed: ${err?.message ?? err}`)
      return
    }
  }
  stats.failures++
}

function anchors(provider, patient, nonceStart, count, tag) {
  const txs = []
  for (let i = 0; i < count; i++) {
    txs.push(
      Transaction.sign(
        {
          chainId: CHAIN_ID,
          type: TxType.RecordAnchor,
          nonce: nonceStart + i,
          payload: {
            recordId: `${tag}-${i}`,
            patient: patient.publicKey,
            resourceType: "Observation",
            custodian: "hosp-0",
            contentHash: sha256(utf8(`${tag}/${i}`)),
            version: 1,
            previous: null,
          },
        },
        provider.key,
      ),
    )
  }
  provider.nonce += count
  return txs
}

/**
 * Submits every sender's transactions (in nonce order per sender) and waits until all are final.
 * Closed loop: `inFlight` requests outstanding in total. Open loop (rate): transaction i starts at
 * i / rate seconds.
 */
async function sendBatchWithRetry(client, txs, stats) {
  let pending = txs
  for (let attempt = 0; attempt < 200 && pending.length > 0; attempt++) {
    let outcomes
    try {
      outcomes = await client.sendTxs(pending)
    } catch (err) {
      if (err?.code !== "CLIENT_ERROR_TRANSPORT" && err?.code !== UNAVAILABLE) throw err
      stats.resends += pending.length
      await sleep(20)
      continue
    }
    const retry = []
    outcomes.forEach((outcome, i) => {
      if ("hash" in outcome) return
      const code = outcome.error.code
      if (code === NONCE_GAP || code === UNAVAILABLE) retry.push(pending[i])
      else if (!(attempt > 0 && (code === DUPLICATE_TX || code === NONCE_REPLAYED))) stats.failures++
    })
    stats.resends += retry.length
    pending = retry
    if (pending.length > 0) await sleep(20)
  }
  stats.failures += pending.length
}

async function drive({clients, watcher, nodes, queues, inFlight, rate, batch}) {
  const stats = {resends: 0, failures: 0}
  const submittedAt = new Map()
  const total = queues.reduce((n, q) => n + q.txs.length, 0)
  const before = nodes.map((n) => procSample(n.child.pid))
  const started = performance.now()
  let lastSubmit = started
  const submitOne = async (queue, tx) => {
    submittedAt.set(tx.hashHex(), performance.now())
    await sendWithRetry(clients[queue.node], tx, stats)
    lastSubmit = performance.now()
  }
  if (batch !== undefined) {
    await Promise.all(
      queues.map(async (queue) => {
        for (let i = 0; i < queue.txs.length; i += batch) {
          const chunk = queue.txs.slice(i, i + batch)
          const now = performance.now()
          for (const tx of chunk) submittedAt.set(tx.hashHex(), now)
          await sendBatchWithRetry(clients[queue.node], chunk, stats)
          lastSubmit = performance.now()
        }
      }),
    )
  } else if (rate === undefined) {
    const perSender = Math.max(1, Math.floor(inFlight / queues.length))
    await Promise.all(
      queues.flatMap((queue) => {
        let next = 0
        return Array.from({length: perSender}, async () => {
          while (next < queue.txs.length) await submitOne(queue, queue.txs[next++])
        })
      }),
    )
  } else {
    // Round-robin across senders in submission order; each sender's nonces stay in order.
    const order = []
    const cursors = queues.map(() => 0)
    for (let i = 0; i < total; i++) {
      const q = i % queues.length
      if (cursors[q] < queues[q].txs.length) order.push([queues[q], queues[q].txs[cursors[q]++]])
    }
    const pending = new Set()
    for (let i = 0; i < order.length; i++) {
      const due = started + (i * 1000) / rate
      const wait = due - performance.now()
      if (wait > 1) await sleep(wait)
      while (pending.size >= MAX_OPEN_IN_FLIGHT) await Promise.race(pending)
      const p = submitOne(order[i][0], order[i][1]).finally(() => pending.delete(p))
      pending.add(p)
    }
    await Promise.all(pending)
  }
  const submitted = performance.now()
  const hashes = queues.flatMap((q) => q.txs.map((tx) => tx.hashHex()))
  // A long (soak) run gets the same grace after its last submission as a short run has in all.
  const deadline = Math.max(started, submitted - RUN_DEADLINE_MS / 3) + RUN_DEADLINE_MS
  while (hashes.some((h) => !watcher.finalAt.has(h))) {
    if (performance.now() > deadline) break
    await sleep(20)
  }
  const after = nodes.map((n) => procSample(n.child.pid))
  const finalTimes = hashes.map((h) => watcher.finalAt.get(h)).filter((t) => t !== undefined)
  const lastFinal = Math.max(...finalTimes)
  const latencies = hashes
    .filter((h) => watcher.finalAt.has(h))
    .map((h) => watcher.finalAt.get(h) - submittedAt.get(h))
    .sort((a, b) => a - b)
  const seconds = (lastFinal - started) / 1000
  const blocks = watcher.blocks.filter((b) => b.at >= started && b.at <= lastFinal)
  return {
    total,
    finalized: finalTimes.length,
    submittedTps: total / ((Math.max(submitted, lastSubmit) - started) / 1000),
    finalizedTps: finalTimes.length / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    resends: stats.resends,
    failures: stats.failures,
    blocks: blocks.length,
    lateRounds: blocks.filter((b) => b.round > 0).length,
    cpuPerNode: after.map((a, i) => (a.cpu - before[i].cpu) / seconds),
    rssMiB: after.map((a) => a.rss / 2 ** 20),
  }
}

async function main() {
  const verifyPerCore = verifyRate()
  const cores = availableParallelism()
  const ceiling = (verifyPerCore * cores) / VALIDATORS
  const dir = mkdtempSync(join(tmpdir(), "careledger-bench-e2e-"))
  const plan = await prepareDevnet(dir, {nodes: VALIDATORS, fresh: true, chainId: CHAIN_ID})
  const nodeArgs = flags["cpu-prof"] === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${resolve(flags["cpu-prof"])}`]
  const spawnedAt = performance.now()
  const nodes = plan.nodes.map((spec) => spawnNode(spec, [], {}, nodeArgs))
  // Node processes must not outlive the benchmark, however it ends.
  process.once("exit", () => {
    nodes.forEach((n) => n.child.kill("SIGKILL"))
    rmSync(dir, {recursive: true, force: true})
  })
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130))
  const results = {
    label: flags.label,
    date: new Date().toISOString(),
    node: process.version,
    cores,
    validators: VALIDATORS,
    verifyPerCore,
    ceilingTps: ceiling,
    scenarios: [],
  }
  const log = (line) => console.log(line)
  const out = flags.out ?? join("bench", "results", `e2e-${VALIDATORS}v-${results.date.replace(/[:.]/g, "-")}.json`)
  mkdirSync(resolve(out, ".."), {recursive: true})
  // Written after every scenario, so a run cut short still leaves what it measured.
  const save = () => writeFileSync(out, JSON.stringify(results, null, 2) + "\n")
  log(`CareLedger end-to-end benchmark: ${VALIDATORS} validator processes on loopback, ${cores} cores, node ${process.version}`)
  log(`ed25519 verify: ${Math.round(verifyPerCore)}/s per core -> ceiling ${Math.round(ceiling)} tx/s (every validator verifies every tx once)`)
  try {
    // Start-up: per process, seconds from spawn to its RPC answering and the CPU it spent by then.
    results.startup = await Promise.all(
      plan.nodes.map(async (spec, i) => {
        await waitForRpc(spec.rpcUrl, START_DEADLINE_MS)
        return {seconds: (performance.now() - spawnedAt) / 1000, cpuSeconds: procSample(nodes[i].child.pid).cpu}
      }),
    )
    const clients = plan.nodes.map((spec) => new CareLedgerClient({url: spec.rpcUrl, timeoutMs: 60_000}))
    // A node starved of CPU may drop a request now and then: keep asking until the deadline.
    const finalizedHeight = () => clients[0].head().then((h) => h.finalizedHeight, () => -1)
    while ((await finalizedHeight()) < 2) {
      const exited = nodes.filter((n) => n.child.exitCode !== null || n.child.signalCode !== null).map((n) => n.spec.index)
      if (exited.length > 0) throw new Error(`node process(es) ${exited.join(", ")} exited during start-up`)
      if (performance.now() - spawnedAt > START_DEADLINE_MS * 2) throw new Error(`no block finalized within ${(START_DEADLINE_MS * 2) / 1000} s of the start`)
      await sleep(200)
    }
    results.firstBlocksSeconds = (performance.now() - spawnedAt) / 1000
    const startSeconds = results.startup.map((s) => s.seconds)
    log(
      `start-up: RPC answering after ${Math.min(...startSeconds).toFixed(1)}-${Math.max(...startSeconds).toFixed(1)} s ` +
        `(CPU ${median(results.startup.map((s) => s.cpuSeconds)).toFixed(2)} s per process, median), height 2 final after ${results.firstBlocksSeconds.toFixed(1)} s`,
    )
    if (IDLE_SECONDS > 0) {
      // An idle chain: what every height costs without transactions (proposal, votes, timers).
      const heightBefore = await finalizedHeight()
      const before = nodes.map((n) => procSample(n.child.pid))
      const idleStarted = performance.now()
      await sleep(IDLE_SECONDS * 1000)
      const heightAfter = await finalizedHeight()
      const seconds = (performance.now() - idleStarted) / 1000
      const cpuSeconds = nodes.reduce((sum, n, i) => sum + procSample(n.child.pid).cpu - before[i].cpu, 0)
      const blocks = heightAfter - heightBefore
      results.idle = {
        seconds,
        blocks,
        blocksPerMin: (blocks / seconds) * 60,
        cores: cpuSeconds / seconds,
        cpuMsPerBlockPerNode: blocks > 0 ? (cpuSeconds * 1000) / blocks / VALIDATORS : NaN,
      }
      log(
        `idle ${seconds.toFixed(0)} s: ${blocks} blocks (${results.idle.blocksPerMin.toFixed(0)}/min), nodes used ${results.idle.cores.toFixed(2)} cores, ` +
          `${results.idle.cpuMsPerBlockPerNode.toFixed(1)} ms CPU per block per node`,
      )
      save()
    }
    const watcher = new FinalityWatcher(clients[0])
    await watcher.start()

    // Enrol one patient and the providers (of hospital 0) who sign the anchors.
    const hospital = readKeyFile(join(plan.nodes[0].dataDir, "node.key"))
    const maxSenders = Math.max(...SENDER_COUNTS, 4)
    const patient = PrivateKey.generate()
    const providers = Array.from({length: maxSenders}, () => ({key: PrivateKey.generate(), nonce: 0}))
    let hospitalNonce = await clients[0].getNonce(hospital.id)
    const enrol = [patient, ...providers.map((p) => p.key)].map((key, i) =>
      Transaction.sign(
        {chainId: CHAIN_ID, type: TxType.IdentityRegister, nonce: hospitalNonce++, payload: {key: key.publicKey, role: i === 0 ? Role.Patient : Role.Provider}},
        hospital,
      ),
    )
    for (const tx of enrol) await clients[0].sendTx(tx)
    while (!enrol.every((tx) => watcher.finalAt.has(tx.hashHex()))) await sleep(50)

    let tagSeq = 0
    const queuesFor = (senders, count) =>
      providers.slice(0, senders).map((provider, s) => ({
        node: s % VALIDATORS,
        txs: anchors(provider, patient, provider.nonce, Math.ceil(count / senders), `b${process.pid}-${tagSeq++}`),
      }))
    const scenario = async (name, make) => {
      const runs = []
      for (let run = 1; run <= RUNS; run++) {
        const result = await make()
        runs.push(result)
        log(
          `  ${name} run ${run}: submitted ${result.submittedTps.toFixed(0)} tx/s, finalized ${result.finalizedTps.toFixed(0)} tx/s ` +
            `(${result.finalized}/${result.total}), p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms, ` +
            `${result.blocks} blocks (${result.lateRounds} late), ${result.resends} resends, ${result.failures} failed, ` +
            `cpu/node ${result.cpuPerNode.map((c) => c.toFixed(2)).join(" ")}, rss MiB ${result.rssMiB.map((r) => r.toFixed(0)).join(" ")}`,
        )
      }
      const summary = {
        name,
        runs,
        median: {
          submittedTps: median(runs.map((r) => r.submittedTps)),
          finalizedTps: median(runs.map((r) => r.finalizedTps)),
          p50Ms: median(runs.map((r) => r.p50Ms)),
          p99Ms: median(runs.map((r) => r.p99Ms)),
          resends: median(runs.map((r) => r.resends)),
          cpuTotal: median(runs.map((r) => r.cpuPerNode.reduce((a, b) => a + b, 0))),
          blocksPerMin: median(runs.map((r) => (r.blocks / ((r.total / r.finalizedTps) || 1)) * 60)),
        },
      }
      summary.median.ceilingRatio = summary.median.finalizedTps / ceiling
      // CPU the nodes spent per finalized tx (all nodes together): on a shared, loaded machine the
      // rates above measure the share of CPU the nodes got; this measures what each tx costs.
      summary.median.cpuMsPerTx = median(runs.map((r) => (r.cpuPerNode.reduce((a, b) => a + b, 0) / r.finalizedTps) * 1000))
      summary.median.impliedTpsOnIdleCores = (cores * 1000) / summary.median.cpuMsPerTx
      results.scenarios.push(summary)
      save()
      const m = summary.median
      log(
        `${name}: median finalized ${m.finalizedTps.toFixed(0)} tx/s (${(m.ceilingRatio * 100).toFixed(1)}% of ceiling), ` +
          `submitted ${m.submittedTps.toFixed(0)} tx/s, p50 ${m.p50Ms.toFixed(0)} ms, p99 ${m.p99Ms.toFixed(0)} ms, cpu ${m.cpuTotal.toFixed(2)} cores, ` +
          `${m.cpuMsPerTx.toFixed(2)} ms cpu/tx (all nodes) -> ${m.impliedTpsOnIdleCores.toFixed(0)} tx/s if the nodes had all ${cores} cores`,
      )
    }
    if (SCENARIOS.has("closed")) {
      for (const senders of SENDER_COUNTS) {
        await scenario(`closed ${senders} sender(s), ${IN_FLIGHT} in flight`, () =>
          drive({clients, watcher, nodes, queues: queuesFor(senders, TXS), inFlight: IN_FLIGHT}),
        )
      }
    }
    if (SCENARIOS.has("rate")) {
      await scenario(`offered ${RATE} tx/s, 4 senders`, () => drive({clients, watcher, nodes, queues: queuesFor(4, RATE_TXS), rate: RATE}))
    }
    if (SCENARIOS.has("batch")) {
      await scenario(`tx_sendBatch of ${BATCH}, 4 senders, 1 request each in flight`, () =>
        drive({clients, watcher, nodes, queues: queuesFor(4, TXS), batch: BATCH}),
      )
    }
    if (SOAK_SECONDS > 0) {
      log(`soak: ${SOAK_RATE} tx/s offered for ${SOAK_SECONDS} s; RSS, heap in use and pool size of every node sampled every 10 s`)
      const samples = []
      const soakStarted = performance.now()
      const sampler = setInterval(async () => {
        const t = Math.round((performance.now() - soakStarted) / 1000)
        const metrics = await Promise.all(plan.nodes.map((spec) => nodeMetrics(spec)))
        const sample = {
          t,
          height: watcher.next - 1,
          finalizedTxs: watcher.finalAt.size,
          rssMiB: nodes.map((n) => procSample(n.child.pid).rss / 2 ** 20),
          heapMiB: metrics.map((m) => m.heapMiB),
          pool: metrics.map((m) => m.pool),
        }
        samples.push(sample)
        log(
          `  t=${t}s height ${sample.height} rss MiB ${sample.rssMiB.map((r) => r.toFixed(0)).join(" ")} ` +
            `heap MiB ${sample.heapMiB.map((r) => r.toFixed(0)).join(" ")} pool ${sample.pool.join(" ")}`,
        )
      }, 10_000)
      const result = await drive({clients, watcher, nodes, queues: queuesFor(4, SOAK_RATE * SOAK_SECONDS), rate: SOAK_RATE})
      clearInterval(sampler)
      // After the warm-up, and over the second half alone (a stall mid-way raises RSS once; a leak keeps raising it).
      const half = SOAK_SECONDS / 2
      const trend = {
        rss: memoryTrend(samples, "rssMiB", SOAK_WARMUP_S),
        heap: memoryTrend(samples, "heapMiB", SOAK_WARMUP_S),
        [`rss from ${half} s`]: memoryTrend(samples, "rssMiB", half),
        [`heap from ${half} s`]: memoryTrend(samples, "heapMiB", half),
      }
      results.soak = {rate: SOAK_RATE, seconds: SOAK_SECONDS, warmupSeconds: SOAK_WARMUP_S, result, trend, samples}
      log(`soak: finalized ${result.finalizedTps.toFixed(0)} tx/s, p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms`)
      for (const [name, nodesTrend] of Object.entries(trend)) {
        log(
          `soak ${name.includes("from") ? name : `${name} from ${SOAK_WARMUP_S} s`}, per node (MiB/min; first -> last MiB): ` +
            nodesTrend.map((n) => `${n.slopeMiBPerMin.toFixed(2)} (${n.first.toFixed(0)} -> ${n.last.toFixed(0)})`).join(", "),
        )
      }
    }
    await watcher.stop()
  } finally {
    await Promise.all(nodes.map((node) => stopNode(node)))
    rmSync(dir, {recursive: true, force: true})
  }
  save()
  log(`results written to ${out}`)
}

await main()
