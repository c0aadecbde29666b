/**
 * The logger every package logs through: the subset of pino's logger they use, so the node's pino
 * logger satisfies it while core and network do not depend on pino. The node makes one child per
 * subsystem (`logger.child({module})`) and hands it to the part; a part logs to what it is given.
 */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  child(bindings: Record<string, unknown>): Logger
}

/** Drops everything: the default of library parts used without a logger. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
}
