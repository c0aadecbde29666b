import {ConsensusError, ConsensusErrorCode} from "./errors.js"

/** Timing of the consensus machine. Every timeout is bounded: a round never waits longer than `maxRoundTimeoutMs`. */
export interface ConsensusOptions {
  /** Time the proposer waits after the previous commit before proposing (default 1000, at least 200). */
  blockIntervalMs: number
  /** How long round 0 waits for a proposal before moving on (default 1000). */
  roundTimeoutMs: number
  /** Added per round so a slow network eventually fits in a round (default roundTimeoutMs / 2). */
  roundTimeoutStepMs: number
  /** Cap of the per-round timeout: linear growth up to here, never unbounded doubling (default 4 x roundTimeoutMs). */
  maxRoundTimeoutMs: number
  /** Propose empty blocks when idle; when false a height waits quietly until there are transactions. */
  emptyBlocks: boolean
}

const MIN_BLOCK_INTERVAL_MS = 200
const MIN_ROUND_TIMEOUT_MS = 50

export const defaultConsensusOptions: Readonly<ConsensusOptions> = Object.freeze({
  blockIntervalMs: 1000,
  roundTimeoutMs: 1000,
  roundTimeoutStepMs: 500,
  maxRoundTimeoutMs: 4000,
  emptyBlocks: true,
})

/** Fills defaults and checks ranges; throws ConsensusError(BAD_OPTIONS) naming the bad field. */
export function resolveConsensusOptions(partial: Partial<ConsensusOptions> = {}): ConsensusOptions {
  const roundTimeoutMs = partial.roundTimeoutMs ?? defaultConsensusOptions.roundTimeoutMs
  const options: ConsensusOptions = {
    blockIntervalMs: partial.blockIntervalMs ?? defaultConsensusOptions.blockIntervalMs,
    roundTimeoutMs,
    roundTimeoutStepMs: partial.roundTimeoutStepMs ?? Math.ceil(roundTimeoutMs / 2),
    maxRoundTimeoutMs: partial.maxRoundTimeoutMs ?? roundTimeoutMs * 4,
    emptyBlocks: partial.emptyBlocks ?? defaultConsensusOptions.emptyBlocks,
  }
  const bad = (field: string, why: string): never => {
    throw new ConsensusError(ConsensusErrorCode.BAD_OPTIONS, `consensus option ${field} ${why}`, {field})
  }
  const isInt = (v: number): boolean => Number.isSafeInteger(v)
  if (!isInt(options.blockIntervalMs) || options.blockIntervalMs < MIN_BLOCK_INTERVAL_MS) bad("blockIntervalMs", `must be an integer >= ${MIN_BLOCK_INTERVAL_MS}`)
  if (!isInt(options.roundTimeoutMs) || options.roundTimeoutMs < MIN_ROUND_TIMEOUT_MS) bad("roundTimeoutMs", `must be an integer >= ${MIN_ROUND_TIMEOUT_MS}`)
  if (!isInt(options.roundTimeoutStepMs) || options.roundTimeoutStepMs < 0) bad("roundTimeoutStepMs", "must be a non-negative integer")
  if (!isInt(options.maxRoundTimeoutMs) || options.maxRoundTimeoutMs < options.roundTimeoutMs) bad("maxRoundTimeoutMs", "must be an integer >= roundTimeoutMs")
  if (typeof options.emptyBlocks !== "boolean") bad("emptyBlocks", "must be a boolean")
  return options
}

/** Round r waits base + step * r, capped: linear and bounded so a dead proposer costs a known slot. */
export function roundTimeout(options: ConsensusOptions, round: number): number {
  return Math.min(options.roundTimeoutMs + options.roundTimeoutStepMs * round, options.maxRoundTimeoutMs)
}
