/** The terminal, as commands see it; only the CLI touches process streams. */
export interface CliIo {
  out(line: string): void
  err(line: string): void
  env: Readonly<Record<string, string | undefined>>
  isTty: boolean
}

export type Command = (args: string[], io: CliIo) => Promise<number>

/** Thrown for bad command-line usage; the CLI prints it with the command's usage line (exit 2). */
export class UsageError extends Error {}

/** Bad usage: ours, or a node:util parseArgs failure (string code; RPC errors carry a numeric one). */
export function isUsageError(err: unknown): boolean {
  if (err instanceof UsageError) return true
  const code = (err as {code?: unknown} | null)?.code
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")
}

/**
 * One line an operator can act on, for any error a command lets escape. Read by shape rather than
 * by class so the CLI's entry does not load the client and core packages before a command needs them.
 */
export function describeError(err: unknown): string {
  const e = err as {name?: unknown; message?: unknown; code?: unknown; domainCode?: unknown} | null
  if (e === null || typeof e !== "object") return String(err)
  const message = typeof e.message === "string" ? e.message : String(err)
  if (typeof e.code === "number") return `RPC error ${e.code}: ${message}${typeof e.domainCode === "string" ? ` (${e.domainCode})` : ""}`
  if (typeof e.code === "string" && /^[A-Z][A-Z0-9_]+$/.test(e.code)) return `${message} (${e.code})`
  return message
}

export function intArg(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a non-negative integer`)
  return Number(value)
}
