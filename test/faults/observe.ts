/**
 * What the fault suite watches while it breaks things: a head sampler (every node's finalized head
 * twice a second, so a finalized block that later changes is caught), a steady transaction load
 * through each hospital's RPC whose finality the client observes, and the end-of-scenario checks.
 */
import {PrivateKey, Role, TxType} from "@careledger/core"
import {TxSender, type CareLedgerClient} from "@careledger/client"
import {readKeyFile} from "@careledger/node"
import {eventually, sleep} from "../helpers/cluster.js"
import type {Consortium} from "./consortium.js"

export interface HeadSample {
  t: number
  node: number
  height: number
  hash: string
  /** The block's own timestamp (the proposer's clock). */
  timestamp: number
}

/** The nodes refuse a proposal stamped further ahead of their clock than this (MAX_CLOCK_DRIFT_MS). */
const MAX_FUTURE_STAMP_MS = 15_000

/** Most samples kept per scenario (a scenario runs a few minutes at 2 samples/s per node). */
const MAX_SAMPLES = 50_000

export class HeadSampler {
  readonly samples: HeadSample[] = []
  /** Latest finalized height seen per node (undefined until it answers). */
  readonly latest: (number | undefined)[]
  /** The first hash any node showed as finalized at each height, and who showed it. */
  private readonly seen = new Map<number, {hash: string; node: number}>()
  readonly violations: string[] = []
  private running = false
  private loop: Promise<void> | undefined

  constructor(
    private readonly consortium: Consortium,
    private readonly intervalMs = 500,
  ) {
    this.latest = consortium.hosts.map(() => undefined)
  }

  start(): void {
    this.running = true
    this.loop = (async () => {
      while (this.running) {
        await Promise.all(this.consortium.hosts.map((h) => this.sampleOne(h.index)))
        await sleep(this.intervalMs)
      }
    })()
  }

  async stop(): Promise<void> {
    this.running = false
    await this.loop
  }

  private async sampleOne(node: number): Promise<void> {
    let head
    try {
      head = await this.consortium.client(node, 2000).head()
    } catch {
      return
    }
    this.record({t: Date.now(), node, height: head.finalizedHeight, hash: head.finalizedHash, timestamp: head.timestamp})
  }

  record(sample: HeadSample): void {
    this.latest[sample.node] = sample.height
    if (this.samples.length < MAX_SAMPLES) this.samples.push(sample)
    // A block finalized with a stamp far ahead of real time means a fast clock got its way.
    if (sample.height > 0 && sample.timestamp > sample.t + MAX_FUTURE_STAMP_MS && this.violations.length < 20) {
      this.violations.push(`height ${sample.height} finalized with a timestamp ${Math.round((sample.timestamp - sample.t) / 1000)} s in the future (node ${sample.node})`)
    }
    const first = this.seen.get(sample.height)
    if (first === undefined) this.seen.set(sample.height, {hash: sample.hash, node: sample.node})
    else if (first.hash !== sample.hash && this.violations.length < 20) {
      this.violations.push(`fork: height ${sample.height} finalized as ${first.hash.slice(0, 16)} on node ${first.node} and as ${sample.hash.slice(0, 16)} on node ${sample.node}`)
    }
  }

  /** Highest finalized height any node showed at or before `t`. */
  maxHeightAt(t: number): number {
    let max = 0
    for (const s of this.samples) if (s.t <= t && s.height > max) max = s.height
    return max
  }
}

export interface FinalTx {
  hash: string
  node: number
  blockHeight: number
  blockHash: string
}

/** Transactions a client sent and still waits on; older ones are no longer followed (not counted as lost: the client never saw them final). */
const MAX_PENDING_PER_NODE = 200

/** One hospital's EHR gateway: enrols a new patient key every `intervalMs` through its own node, and polls for finality. */
export class HospitalLoad {
  readonly final: FinalTx[] = []
  sent = 0
  sendErrors = 0
  paused = false
  private sending = false
  private pending: string[] = []
  private sender: TxSender
  private running = false
  private loops: Promise<void>[] = []

  constructor(
    private readonly consortium: Consortium,
    readonly node: number,
    private readonly intervalMs = 500,
  ) {
    this.sender = this.newSender()
  }

  private client(): CareLedgerClient {
    return this.consortium.client(this.node, 5000)
  }

  private newSender(): TxSender {
    return new TxSender(this.client(), readKeyFile(this.consortium.hosts[this.node]!.keyFile))
  }

  /** After the node lost its mempool (restart with an empty data dir) the client starts over from the chain's nonce. */
  restartSender(): void {
    this.pending = []
    this.sender = this.newSender()
  }

  get pendingCount(): number {
    return this.pending.length
  }

  /**
   * Pauses sending and waits until nothing this client sent is pending, so the node may sign with
   * the same key (validator_propose) without two transactions claiming one nonce. Resume with
   * `resume()`, which re-reads the nonce the node used.
   */
  async quiesce(timeoutMs: number): Promise<void> {
    this.paused = true
    await eventually(async () => (!this.sending && this.pending.length === 0 ? true : undefined), `hospital ${this.node}'s pending txs to be final`, timeoutMs)
  }

  resume(): void {
    this.sender.resync()
    this.paused = false
  }

  start(): void {
    this.running = true
    this.loops = [this.sendLoop(), this.pollLoop()]
  }

  /** Stops sending; keeps polling until every pending tx is final or `drainMs` passes. */
  async stop(drainMs: number): Promise<void> {
    this.paused = true
    const deadline = Date.now() + drainMs
    while (this.pending.length > 0 && Date.now() < deadline) await sleep(500)
    this.running = false
    await Promise.all(this.loops)
  }

  private async sendLoop(): Promise<void> {
    while (this.running) {
      if (!this.paused && this.pending.length < MAX_PENDING_PER_NODE) {
        this.sending = true
        try {
          const {hash} = await this.sender.send(TxType.IdentityRegister, {key: PrivateKey.generate().publicKey, role: Role.Patient})
          this.sent++
          this.pending.push(hash)
        } catch {
          this.sendErrors++
        } finally {
          this.sending = false
        }
      }
      await sleep(this.intervalMs)
    }
  }

  private async pollLoop(): Promise<void> {
    while (this.running) {
      await sleep(1000)
      if (this.pending.length === 0) continue
      const batch = this.pending.slice(0, 50)
      let answers
      try {
        answers = await this.client().batch(batch.map((hash) => ({method: "chain_getTx", params: {hash}})))
      } catch {
        continue
      }
      const done = new Set<string>()
      answers.forEach((answer, k) => {
        if (!answer.ok) return
        const lookup = answer.result as {status: string; blockHeight: number | null; blockHash: string | null} | null
        if (lookup?.status === "final" && lookup.blockHeight !== null && lookup.blockHash !== null) {
          this.final.push({hash: batch[k]!, node: this.node, blockHeight: lookup.blockHeight, blockHash: lookup.blockHash})
          done.add(batch[k]!)
        }
      })
      this.pending = this.pending.filter((h) => !done.has(h))
    }
  }
}

/** Block hashes at heights from..to on one node, in batches (null where the node has no block). */
export async function blockHashes(client: CareLedgerClient, from: number, to: number): Promise<(string | null)[]> {
  const out: (string | null)[] = []
  for (let start = from; start <= to; start += 50) {
    const heights = Array.from({length: Math.min(50, to - start + 1)}, (_, k) => start + k)
    const answers = await client.batch(heights.map((height) => ({method: "chain_getBlock", params: {height}})))
    for (const answer of answers) {
      if (!answer.ok) throw answer.error
      out.push((answer.result as {hash: string} | null)?.hash ?? null)
    }
  }
  return out
}

/**
 * The three checks every scenario ends with: all nodes hold the same hash at every height up to
 * the lowest head; no sampled finalized head differs from the chain as it ended; every tx a client
 * saw final is final on every node in the block the client saw. Returns the failures.
 */
export async function checkChains(consortium: Consortium, nodes: number[], sampler: HeadSampler, finals: FinalTx[]): Promise<{failures: string[]; height: number}> {
  const failures: string[] = []
  const heads = await Promise.all(nodes.map((i) => consortium.client(i, 10_000).head()))
  const low = Math.min(...heads.map((h) => h.finalizedHeight))
  const highIndex = heads.reduce((best, h, k) => (h.finalizedHeight > heads[best]!.finalizedHeight ? k : best), 0)
  const sampledTop = Math.max(0, ...sampler.samples.map((s) => s.height))
  const top = Math.min(heads[highIndex]!.finalizedHeight, Math.max(low, sampledTop))
  const chains = await Promise.all(nodes.map((i, k) => blockHashes(consortium.client(i, 20_000), 1, k === highIndex ? top : low)))
  const reference = chains[highIndex]!
  for (let height = 1; height <= low; height++) {
    const hashes = chains.map((c) => c[height - 1])
    if (hashes.some((h) => h === null || h !== hashes[0])) {
      failures.push(`fork or hole at height ${height}: ${hashes.map((h, k) => `node ${nodes[k]} ${h?.slice(0, 16) ?? "none"}`).join(", ")}`)
      break
    }
  }
  let changed = 0
  for (const s of sampler.samples) {
    if (s.height < 1 || s.height > top) continue
    if (reference[s.height - 1] !== s.hash) {
      if (changed++ < 5) failures.push(`node ${s.node} showed ${s.hash.slice(0, 16)} finalized at height ${s.height}, the chain holds ${reference[s.height - 1]?.slice(0, 16)}`)
    }
  }
  failures.push(...sampler.violations)
  let lost = 0
  for (const i of nodes) {
    const client = consortium.client(i, 20_000)
    for (let start = 0; start < finals.length; start += 100) {
      const batch = finals.slice(start, start + 100)
      const answers = await client.batch(batch.map((f) => ({method: "chain_getTx", params: {hash: f.hash}})))
      answers.forEach((answer, k) => {
        const f = batch[k]!
        const lookup = answer.ok ? (answer.result as {status: string; blockHash: string | null} | null) : null
        const ok = lookup?.status === "final" && lookup.blockHash === f.blockHash
        // A node below the tx's height has not received that block yet; the chain comparison covers it.
        if (!ok && f.blockHeight <= heads[nodes.indexOf(i)]!.finalizedHeight && lost++ < 5) {
          failures.push(`lost transaction ${f.hash.slice(0, 16)}: final at height ${f.blockHeight} (seen through node ${f.node}) but node ${i} answers ${JSON.stringify(lookup?.status ?? (answer.ok ? null : answer.error.message))}`)
        }
      })
    }
  }
  return {failures, height: low}
}
