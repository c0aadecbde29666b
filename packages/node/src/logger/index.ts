import {pino, type Logger, type LevelWithSilent, type DestinationStream} from "pino"
import pretty from "pino-pretty"

export type {Logger}
export type LogLevel = LevelWithSilent

export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"]

export interface LoggerOptions {
  level: LogLevel
  /** Human-readable lines (for a terminal) instead of JSON (for log shippers). */
  pretty: boolean
  /** Where lines go; stdout when absent. */
  destination?: DestinationStream
}

/** The node's root logger; the node gives each subsystem its child through `moduleLogger`. */
export function createLogger(options: LoggerOptions): Logger {
  // Level names ("info"), not pino's numbers (30), so a log search or shipper needs no mapping table.
  const base = {level: options.level, base: {pid: process.pid}, formatters: {level: (label: string) => ({level: label})}}
  if (options.pretty) {
    return pino(base, pretty({colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname", destination: options.destination ?? 1, sync: true}))
  }
  return options.destination === undefined ? pino(base) : pino(base, options.destination)
}

/** The node's subsystems, each logging under its own `module` field. */
export type Subsystem = "node" | "store" | "mempool" | "consensus" | "network" | "sync" | "health" | "rpc" | "fhir" | "metrics"

/** The one place a subsystem's logger is made: a child of the node's root logger. */
export function moduleLogger(parent: Logger, module: Subsystem): Logger {
  return parent.child({module})
}

/** A logger that drops everything, for library use and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({level: "silent"})
}
