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

/** The node's root logger; subsystems take `logger.child({module})` via `moduleLogger`. */
export function createLogger(options: LoggerOptions): Logger {
  // Level names ("info"), not pino's numbers (30), so a log search or shipper needs no mapping table.
  const base = {level: options.level, base: {pid: process.pid}, formatters: {level: (label: string) => ({level: label})}}
  if (options.pretty) {
    return pino(base, pretty({colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname", destination: options.destination ?? 1, sync: true}))
  }
  return options.destination === undefined ? pino(base) : pino(base, options.destination)
}

export function moduleLogger(parent: Logger, module: string): Logger {
  return parent.child({module})
}

/** A logger that drops everything, for library use and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({level: "silent"})
}
