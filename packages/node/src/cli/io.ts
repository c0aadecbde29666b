import {CareLedgerError} from "@careledger/core"
import {RpcError} from "@careledger/client"

/** The terminal, as commands see it; only the CLI touches process streams. */
export interface CliIo {
  out(line: string): void
  err(line: string): void
  env: Readonly<Record<string, string | undefined>>
  isTty: boolean
}

export type Command = (args: string[], io: CliIo) => Promise<number>

/** Thrown for bad command-line usage; the CLI prints it with the command's usage line. */
export class UsageError extends Error {}

/** One line an operator can act on, for any error a command lets escape. */
export function describeError(err: unknown): string {
  if (err instanceof RpcError) return `RPC error ${err.code}: ${err.message}${err.domainCode === undefined ? "" : ` (${err.domainCode})`}`
  if (err instanceof CareLedgerError) return `${err.message} (${err.code})`
  return (err as Error).message ?? String(err)
}
