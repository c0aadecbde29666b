/**
 * Base class of every domain error in CareLedger. Each area defines its own subclass with a code
 * enum, so callers (RPC, gossip validation) can map failures without parsing messages.
 */
export class CareLedgerError<Code extends string = string> extends Error {
  readonly code: Code
  readonly details: Record<string, unknown>

  constructor(code: Code, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.name = new.target.name
    this.code = code
    this.details = details
  }
}

export function isCareLedgerError(err: unknown): err is CareLedgerError {
  return err instanceof CareLedgerError
}
