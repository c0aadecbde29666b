/**
 * The multi-host fault suite (`npm run test:faults`, see docs/faults.md). Runs as root inside
 * `unshare --net --mount --pid --fork --kill-child` (test/faults/run.sh): every scenario builds its
 * own hosts as network namespaces on a bridge, starts a consortium with the operator's CLI, puts a
 * steady transaction load on it, breaks the network, heals it and checks that
 *   - every node holds the same hash at every height,
 *   - no node ever showed a finalized block that later changed (heads sampled twice a second),
 *   - every transaction whose finality a client saw is in the chain,
 *   - after a heal a new block is finalized within 30 s and every node has it within 60 s.
 * Prints a table, writes FAULTS_OUT/faults.json (default faults-results/), keeps the node logs of
 * failed scenarios there, and exits 1 if any scenario failed.
 *
 * env: FAULTS_SEED (reproduce a run), FAULTS_ONLY=name,name (a subset), FAULTS_OUT (results dir),
 *      FAULTS_KEEP_LOGS=1 (keep the node logs of passing scenarios too)
 */
import {cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from "node:fs"
import {tmpdir} from "node:os"
import {join, resolve} from "node:path"
import {createHash, randomBytes} from "node:crypto"
import {Consortium} from "./consortium.js"
import {HostNetwork} from "./netns.js"
import {eventually, sleep} from "../helpers/cluster.js"
import {checkChains, HeadSampler, HospitalLoad} from "./observe.js"

/** The bound: progress must resume this soon after a heal. */
const FIRST_BLOCK_BOUND_MS = 30_000
/** Every node (the one that was cut off included) must hold a post-heal block this soon. */
const CAUGHT_UP_BOUND_MS = 60_000
/** No scenario may run longer than this (a hang fails the scenario instead of the whole suite). */
const SCENARIO_CAP_MS = 6 * 60_000
const BASELINE_MS = 8_000
/** How long a fault lasts in the scenarios that hold one. */
const FAULT_MS = 20_000

/** Seeded choices: the k-th draw is sha256("seed:k"), so a printed seed replays the same choices. */
function seededRandom(seed: number): () => number {
  let k = 0
  return () => createHash("sha256").update(`${seed}:${k++}`).digest().readUInt32BE(0) / 2 ** 32
}

interface ScenarioResult {
  name: string
  hosts: number
  seed: number
  passed: boolean
  failures: string[]
  blocksPerMinuteFault: number | null
  blocksPerMinute: number | null
  healToFirstBlockS: number | null
  healToCaughtUpS: number | null
  finalHeight: number | null
  txsSent: number
  txsFinal: number
  txSendErrors: number
  durationS: number
}

class Run {
  readonly net: HostNetwork
  readonly consortium: Consortium
  readonly sampler: HeadSampler
  readonly loads: HospitalLoad[] = []
  readonly failures: string[] = []
  readonly rng: () => number
  private startedAt = 0
  private faultAt: number | undefined
  private healAt: number | undefined
  private firstBlockAt: number | undefined
  private caughtUpAt: number | undefined
  finalHeight: number | null = null

  constructor(
    readonly scenario: Scenario,
    readonly seed: number,
    readonly dir: string,
    runId: string,
  ) {
    this.rng = seededRandom(seed)
    this.net = new HostNetwork(runId, scenario.hosts)
    this.consortium = new Consortium(this.net, dir, {validators: scenario.validators ?? scenario.hosts, chainId: `faults-${scenario.name}`, proxied: scenario.proxied ?? false})
    this.sampler = new HeadSampler(this.consortium)
  }

  get size(): number {
    return this.scenario.hosts
  }

  /** A random pick of `count` distinct hosts out of `from` (seeded). */
  pick(from: number[], count: number): number[] {
    const pool = [...from]
    const out: number[] = []
    while (out.length < count) out.push(pool.splice(Math.floor(this.rng() * pool.length), 1)[0]!)
    return out
  }

  range(n = this.size): number[] {
    return Array.from({length: n}, (_, i) => i)
  }

  log(message: string): void {
    process.stdout.write(`  [${this.scenario.name} +${((Date.now() - this.startedAt) / 1000).toFixed(1)}s] ${message}\n`)
  }

  async setup(): Promise<void> {
    this.startedAt = Date.now()
    await this.net.create()
    await this.consortium.prepare()
    for (const i of this.range()) this.consortium.start(i, {clockOffset: this.scenario.clockOffsets?.[i]})
    const validators = this.range(this.scenario.validators ?? this.size)
    await eventually(async () => (await Promise.all(this.range().map((i) => this.consortium.client(i, 2000).nodeInfo()))).length, "every node's RPC to answer", 120_000)
    await eventually(
      async () => (await Promise.all(validators.map(async (i) => (await this.consortium.client(i, 2000).head()).finalizedHeight >= 2))).every(Boolean) || undefined,
      "every validator to finalize height 2",
      120_000,
    )
    this.sampler.start()
    for (const i of validators) {
      const load = new HospitalLoad(this.consortium, i)
      load.start()
      this.loads.push(load)
    }
    this.log(`${this.size} hosts up, load running`)
  }

  /** The common shape: load without faults, then the fault for `holdMs`, then the heal. */
  async breakAndHeal(description: string, apply: () => Promise<void>, holdMs = FAULT_MS): Promise<void> {
    await sleep(BASELINE_MS)
    this.fault(description)
    await apply()
    await sleep(holdMs)
    await this.heal()
  }

  fault(description: string): void {
    this.faultAt = Date.now()
    this.log(`fault: ${description}`)
  }

  /** Lifts every fault (plus `extra`, e.g. a restart), then waits for a new block and for every node to hold it. */
  async heal(extra?: () => Promise<void>): Promise<void> {
    await this.net.heal()
    if (this.scenario.proxied) this.consortium.setDelay(0)
    this.healAt = Date.now()
    if (extra !== undefined) await extra()
    const atHeal = Math.max(0, ...this.sampler.latest.map((h) => h ?? 0))
    this.log(`healed at height ${atHeal}`)
    const deadline = this.healAt + CAUGHT_UP_BOUND_MS + 5_000
    while (Date.now() < deadline) {
      const heights = this.sampler.latest.map((h) => h ?? 0)
      if (this.firstBlockAt === undefined && Math.max(...heights) > atHeal) this.firstBlockAt = Date.now()
      if (Math.min(...heights) > atHeal) {
        this.caughtUpAt = Date.now()
        break
      }
      await sleep(250)
    }
    const first = this.firstBlockAt === undefined ? undefined : this.firstBlockAt - this.healAt
    const caught = this.caughtUpAt === undefined ? undefined : this.caughtUpAt - this.healAt
    if (first === undefined || first > FIRST_BLOCK_BOUND_MS) this.failures.push(`no new finalized block within ${FIRST_BLOCK_BOUND_MS / 1000} s of the heal (heights ${this.sampler.latest.join(", ")}, at heal ${atHeal})`)
    if (caught === undefined || caught > CAUGHT_UP_BOUND_MS) this.failures.push(`not every node past height ${atHeal} within ${CAUGHT_UP_BOUND_MS / 1000} s of the heal (heights ${this.sampler.latest.join(", ")})`)
    this.log(`first new block after ${first === undefined ? "-" : (first / 1000).toFixed(1)} s, all caught up after ${caught === undefined ? "-" : (caught / 1000).toFixed(1)} s`)
  }

  /** Stops the load, lets pending txs finish, and runs the end checks. */
  async finish(): Promise<ScenarioResult> {
    await Promise.all(this.loads.map((l) => l.stop(20_000)))
    const nodes = this.range()
    // Give every node the chance to reach one common height before comparing.
    const target = Math.max(0, ...this.sampler.latest.map((h) => h ?? 0))
    await eventually(async () => (this.sampler.latest.every((h) => (h ?? 0) >= target) ? true : undefined), `every node at height ${target}`, 30_000).catch((err: Error) => this.failures.push(err.message))
    await this.sampler.stop()
    const finals = this.loads.flatMap((l) => l.final)
    try {
      const {failures, height} = await checkChains(this.consortium, nodes, this.sampler, finals)
      this.failures.push(...failures)
      this.finalHeight = height
    } catch (err) {
      this.failures.push(`end checks could not run: ${(err as Error).message}`)
    }
    const end = Date.now()
    const rate = (from: number, to: number): number | null =>
      to > from ? Math.round(((this.sampler.maxHeightAt(to) - this.sampler.maxHeightAt(from)) * 60_000) / (to - from) * 10) / 10 : null
    const firstSample = this.sampler.samples[0]?.t ?? end
    return {
      name: this.scenario.name,
      hosts: this.size,
      seed: this.seed,
      passed: this.failures.length === 0,
      failures: this.failures,
      blocksPerMinuteFault: this.faultAt === undefined ? null : rate(this.faultAt, this.healAt ?? end),
      blocksPerMinute: rate(firstSample, end),
      healToFirstBlockS: this.healAt === undefined || this.firstBlockAt === undefined ? null : Math.round((this.firstBlockAt - this.healAt) / 100) / 10,
      healToCaughtUpS: this.healAt === undefined || this.caughtUpAt === undefined ? null : Math.round((this.caughtUpAt - this.healAt) / 100) / 10,
      finalHeight: this.finalHeight,
      txsSent: this.loads.reduce((n, l) => n + l.sent, 0),
      txsFinal: finals.length,
      txSendErrors: this.loads.reduce((n, l) => n + l.sendErrors, 0),
      durationS: Math.round((end - this.startedAt) / 1000),
    }
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.loads.map((l) => l.stop(0)))
    await this.sampler.stop()
    await this.consortium.stopAll()
    await this.net.destroy()
  }
}

interface Scenario {
  name: string
  hosts: number
  /** Genesis validators (default: every host). */
  validators?: number
  proxied?: boolean
  clockOffsets?: Record<number, string>
  run(run: Run): Promise<void>
}

const hold = sleep

const SCENARIOS: Scenario[] = [
  {
    name: "isolate-one",
    hosts: 4,
    async run(r) {
      const [victim] = r.pick(r.range(), 1)
      await r.breakAndHeal(`host ${victim} cut off from the other three`, () => r.net.partition([victim!], r.range().filter((i) => i !== victim)))
    },
  },
  {
    name: "split-2-2",
    hosts: 4,
    async run(r) {
      await hold(BASELINE_MS)
      const a = r.pick(r.range(), 2)
      const b = r.range().filter((i) => !a.includes(i))
      r.fault(`hosts ${a.join(",")} | ${b.join(",")}`)
      const faultAt = Date.now()
      await r.net.partition(a, b)
      await hold(FAULT_MS)
      // A block whose votes were already out may still land just after the cut; after that, nothing.
      const settled = r.sampler.maxHeightAt(faultAt + 3_000)
      const before = r.sampler.maxHeightAt(Date.now())
      if (before > settled) r.failures.push(`height went from ${settled} to ${before} while split 2-2 (a side without 2/3 finalized)`)
      await r.heal()
    },
  },
  {
    name: "flapping-link",
    hosts: 4,
    async run(r) {
      await hold(BASELINE_MS)
      const [victim] = r.pick(r.range(), 1)
      r.fault(`host ${victim}'s link goes down and up 6 times`)
      for (let k = 0; k < 6; k++) {
        await r.net.link(victim!, false)
        await hold(1000 + Math.floor(r.rng() * 2000))
        await r.net.link(victim!, true)
        await hold(1000 + Math.floor(r.rng() * 2000))
      }
      await r.heal()
    },
  },
  {
    name: "packet-loss-10pct",
    hosts: 4,
    run: (r) => r.breakAndHeal("every host drops 10% of packets from the others (iptables statistic)", () => r.net.randomLoss(0.1)),
  },
  {
    name: "delay-150ms",
    hosts: 4,
    proxied: true,
    run: (r) => r.breakAndHeal("150 ms each way on every connection (in-order TCP proxy)", async () => r.consortium.setDelay(150)),
  },
  {
    name: "asymmetric",
    hosts: 4,
    async run(r) {
      const [a, b] = r.pick(r.range(), 2)
      await r.breakAndHeal(`packets of host ${a} no longer reach host ${b} (${a} still hears ${b})`, () => r.net.dropFrom(a!, b!))
    },
  },
  {
    name: "sigkill-empty-resync",
    hosts: 4,
    async run(r) {
      await hold(BASELINE_MS)
      const [victim] = r.pick(r.range(), 1)
      r.fault(`SIGKILL host ${victim}, its data dir wiped`)
      r.loads[victim!]!.paused = true
      await r.consortium.kill(victim!)
      await r.consortium.wipe(victim!)
      await hold(15_000)
      await r.heal(async () => {
        r.consortium.start(victim!)
        r.loads[victim!]!.restartSender()
        r.loads[victim!]!.paused = false
      })
    },
  },
  {
    name: "clock-skew-30s",
    hosts: 4,
    clockOffsets: {1: "+30s", 2: "-30s"},
    async run(r) {
      r.fault("host 1's clock 30 s ahead, host 2's 30 s behind (libfaketime) from the start")
      await hold(30_000)
      await r.heal(async () => {
        for (const i of [1, 2]) {
          await r.consortium.stop(i)
          r.consortium.start(i)
        }
      })
    },
  },
  {
    name: "validator-add-remove",
    hosts: 5,
    validators: 4,
    async run(r) {
      await hold(BASELINE_MS)
      const [cut, removed] = r.pick(r.range(4), 2)
      const voters = r.range(4).filter((i) => i !== cut)
      const added = r.consortium.hosts[4]!
      const gone = r.consortium.hosts[removed!]!
      r.fault(`host ${cut} cut off; ${voters.join(",")} vote ${added.hospital} in and then ${gone.hospital} out`)
      await r.net.partition([cut!], r.range().filter((i) => i !== cut))
      const setOf = async (i: number) => (await r.consortium.client(i).validators()).map((v) => v.hospital).sort().join(",")
      // The node signs its vote with the hospital key the load also uses: the load pauses meanwhile.
      const vote = async (i: number, proposal: {action: "add" | "remove"; hospital: string; key: string; name: string}) => {
        await r.loads[i]!.quiesce(60_000)
        await r.consortium.client(i).proposeValidator(proposal)
        r.loads[i]!.resume()
      }
      for (const i of voters) await vote(i, {action: "add", hospital: added.hospital, key: added.publicKey, name: added.name})
      await eventually(async () => ((await setOf(voters[0]!)).split(",").length === 5 ? true : undefined), `${added.hospital} to be a validator`, 60_000)
      r.log(`${added.hospital} voted in`)
      for (const i of voters) await vote(i, {action: "remove", hospital: gone.hospital, key: gone.publicKey, name: gone.name})
      await eventually(async () => (!(await setOf(voters[0]!)).includes(gone.hospital) ? true : undefined), `${gone.hospital} to be removed`, 60_000)
      r.log(`${gone.hospital} voted out`)
      await hold(10_000)
      await r.heal()
      const expected = await setOf(voters[0]!)
      await eventually(async () => ((await Promise.all(r.range().map(setOf))).every((s) => s === expected) ? true : undefined), "every node to show the same validator set", 30_000).catch((err: Error) =>
        r.failures.push(err.message),
      )
    },
  },
  {
    name: "seven-isolate-two",
    hosts: 7,
    async run(r) {
      const cut = r.pick(r.range(), 2)
      await r.breakAndHeal(`hosts ${cut.join(",")} cut off from the other five (and from each other)`, async () => {
        await r.net.partition(cut, r.range().filter((i) => !cut.includes(i)))
        await r.net.partition([cut[0]!], [cut[1]!])
      })
    },
  },
]

function cell(value: number | null, unit = ""): string {
  return value === null ? "-" : `${value}${unit}`
}

export function table(results: ScenarioResult[]): string {
  const rows = [
    ["scenario", "hosts", "blocks/min (fault)", "blocks/min (run)", "heal → new block", "heal → all caught up", "txs final/sent", "result"],
    ...results.map((r) => [
      r.name,
      String(r.hosts),
      cell(r.blocksPerMinuteFault),
      cell(r.blocksPerMinute),
      cell(r.healToFirstBlockS, " s"),
      cell(r.healToCaughtUpS, " s"),
      `${r.txsFinal}/${r.txsSent}`,
      r.passed ? "pass" : "FAIL",
    ]),
  ]
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
  const line = (row: string[]) => `| ${row.map((v, c) => v.padEnd(widths[c]!)).join(" | ")} |`
  return [line(rows[0]!), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.slice(1).map(line)].join("\n")
}

async function main(): Promise<void> {
  const seed = process.env.FAULTS_SEED !== undefined ? Number(process.env.FAULTS_SEED) : randomBytes(4).readUInt32BE(0)
  const only = process.env.FAULTS_ONLY?.split(",").filter((s) => s !== "")
  const out = resolve(process.env.FAULTS_OUT ?? "faults-results")
  const unknown = only?.filter((name) => !SCENARIOS.some((s) => s.name === name)) ?? []
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; known: ${SCENARIOS.map((s) => s.name).join(", ")}`)
  const selected = SCENARIOS.filter((s) => only === undefined || only.includes(s.name))
  mkdirSync(out, {recursive: true})
  const work = mkdtempSync(join(tmpdir(), "careledger-faults-"))
  const runId = randomBytes(2).toString("hex")
  process.stdout.write(`CareLedger fault suite: ${selected.length} scenarios, seed ${seed} (FAULTS_SEED=${seed} reproduces the choices), results in ${out}\n`)
  const results: ScenarioResult[] = []
  const suiteStart = Date.now()
  try {
    for (const [k, scenario] of selected.entries()) {
      const scenarioSeed = (seed + (SCENARIOS.indexOf(scenario) + 1) * 7919) >>> 0
      const dir = join(work, scenario.name)
      mkdirSync(dir)
      const run = new Run(scenario, scenarioSeed, dir, `${runId}${k}`)
      process.stdout.write(`\n${scenario.name} (${scenario.hosts} hosts, seed ${scenarioSeed})\n`)
      let result: ScenarioResult | undefined
      let timer: NodeJS.Timeout | undefined
      try {
        const capped = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`scenario ran longer than ${SCENARIO_CAP_MS / 60_000} min`)), SCENARIO_CAP_MS)
        })
        result = await Promise.race([
          (async () => {
            await run.setup()
            await scenario.run(run)
            return run.finish()
          })(),
          capped,
        ])
      } catch (err) {
        run.failures.push((err as Error).message)
      } finally {
        clearTimeout(timer)
        await run.cleanup().catch((err: Error) => run.failures.push(`cleanup: ${err.message}`))
      }
      result ??= {
        name: scenario.name,
        hosts: scenario.hosts,
        seed: scenarioSeed,
        passed: false,
        failures: run.failures,
        blocksPerMinuteFault: null,
        blocksPerMinute: null,
        healToFirstBlockS: null,
        healToCaughtUpS: null,
        finalHeight: null,
        txsSent: 0,
        txsFinal: 0,
        txSendErrors: 0,
        durationS: 0,
      }
      results.push(result)
      if (!result.passed || process.env.FAULTS_KEEP_LOGS === "1") {
        for (const host of run.consortium.hosts) cpSync(host.logFile, join(out, scenario.name, `host-${host.index}.log`), {force: true})
      }
      if (!result.passed) {
        for (const f of result.failures) process.stdout.write(`  FAIL: ${f}\n`)
        process.stdout.write(`  node logs kept in ${join(out, scenario.name)}\n`)
      } else {
        process.stdout.write(`  pass: height ${result.finalHeight}, ${result.txsFinal} txs final, ${result.durationS} s\n`)
      }
      rmSync(dir, {recursive: true, force: true})
    }
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
  const totalS = Math.round((Date.now() - suiteStart) / 1000)
  writeFileSync(join(out, "faults.json"), JSON.stringify({seed, node: process.version, totalSeconds: totalS, scenarios: results}, null, 2) + "\n")
  process.stdout.write(`\n${table(results)}\n\n${results.filter((r) => r.passed).length}/${results.length} scenarios passed in ${totalS} s (seed ${seed}); ${join(out, "faults.json")}\n`)
  process.exitCode = results.every((r) => r.passed) ? 0 : 1
}

main().catch((err: unknown) => {
  process.stderr.write(`fault suite error: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
