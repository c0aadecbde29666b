/**
 * Runs the consensus simulator: `npm run sim -- --seeds N --validators K [--seed S] [--from F] [--figures]`.
 * Prints every failing seed (re-run it alone with --seed S) and the figures for docs/consensus.md.
 */
import {configForSeed, runSimulation, type SimResult} from "../test/sim/index.js"

interface Args {
  seeds: number
  from: number
  validators: number | undefined
  seed: number | undefined
  figures: boolean
}

function parseArgs(argv: string[]): Args {
  const args: Args = {seeds: 200, from: 1, validators: undefined, seed: undefined, figures: false}
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = (): number => {
      const raw = argv[++i]
      const n = Number(raw)
      if (raw === undefined || !Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer`)
      return n
    }
    if (flag === "--seeds") args.seeds = value()
    else if (flag === "--from") args.from = value()
    else if (flag === "--validators") args.validators = value()
    else if (flag === "--seed") args.seed = value()
    else if (flag === "--figures") args.figures = true
    else throw new Error(`unknown option ${flag} (use --seeds N --validators K --seed S --from F --figures)`)
  }
  if (args.validators !== undefined && (args.validators < 4 || args.validators > 10)) throw new Error("--validators must be 4..10")
  return args
}

function describe(result: SimResult): string {
  const {config, stats} = result
  const mix = config.mix
  const faults = [
    `drop=${mix.dropRate}`,
    `dup=${mix.duplicateRate}`,
    `delay<=${mix.maxDelayMs}ms`,
    mix.partitions ? "partitions" : "",
    mix.crashes ? "crashes" : "",
    mix.byzantine ? "equivocator" : "",
    mix.validatorChange !== "none" ? `set:${mix.validatorChange}` : "",
    mix.emptyBlocks ? "" : "no-empty-blocks",
  ].filter((s) => s !== "")
  return `seed ${config.seed} n=${config.validators} [${faults.join(" ")}] heights=${stats.heights.join(",")} maxRound=${stats.maxRound} evidence=${stats.evidence} recoverMs=${stats.recoveryMs.join(",")}`
}

function figures(): void {
  const minute = 60_000
  const quiet = {dropRate: 0, duplicateRate: 0, maxDelayMs: 20, partitions: false, crashes: false, byzantine: false, validatorChange: "none" as const, emptyBlocks: true}
  for (const down of [[], [2]]) {
    const result = runSimulation(
      configForSeed(1, {validators: 4, faultMs: 0, stableMs: 5 * minute, blockIntervalMs: 1000, roundTimeoutMs: 1000, mix: quiet, downNodes: down}),
    )
    const perMinute = result.stats.endHeight / 5
    process.stdout.write(`n=4, ${down.length === 0 ? "all validators up" : "one of four down"}: ${perMinute.toFixed(1)} finalized blocks per simulated minute (1 s interval, 1 s round timeout)\n`)
  }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2))
  if (args.figures) {
    figures()
    return
  }
  const seeds = args.seed !== undefined ? [args.seed] : Array.from({length: args.seeds}, (_, i) => args.from + i)
  const failures: SimResult[] = []
  let worstRecovery = 0
  let worstSeed = -1
  let blocks = 0
  const started = performance.now()
  for (const seed of seeds) {
    const overrides = args.validators === undefined ? {} : {validators: args.validators}
    const result = runSimulation(configForSeed(seed, {...overrides, trace: args.seed !== undefined}))
    blocks += result.stats.endHeight
    for (const ms of result.stats.recoveryMs) {
      if (ms > worstRecovery) {
        worstRecovery = ms
        worstSeed = seed
      }
    }
    if (args.seed !== undefined) process.stdout.write(`${describe(result)}\n${(result.stats.finalStates ?? []).join("\n")}\n`)
    if (result.violations.length > 0) {
      failures.push(result)
      process.stdout.write(`FAIL ${describe(result)}\n  ${result.violations.slice(0, 5).join("\n  ")}\n  reproduce: npm run sim -- --seed ${seed}${args.validators === undefined ? "" : ` --validators ${args.validators}`}\n`)
    }
  }
  const seconds = (performance.now() - started) / 1000
  process.stdout.write(
    `${seeds.length} seeds, ${failures.length} failing, ${blocks} blocks finalized, worst recovery after a heal ${worstRecovery} ms (seed ${worstSeed}), ${seconds.toFixed(1)} s wall\n`,
  )
  if (failures.length > 0) process.exitCode = 1
}

// Piping into `head` closes stdout early; that is not a failure of the simulation.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0)
  throw err
})

main()
