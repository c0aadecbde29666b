import type {StateReader, StateWrites} from "./types.js"

/** Where state changes go: an overlay during execution, a plain map for genesis. */
export interface StateWriter {
  set(key: string, value: Uint8Array): void
  delete(key: string): void
}

/**
 * Pending writes on top of a reader: reads see the writes made so far, and `writes()` yields the
 * block's change set. Base reads are cached because state does not change underneath a block.
 */
export class StateOverlay implements StateReader, StateWriter {
  private readonly base: StateReader
  private readonly pending = new Map<string, Uint8Array | null>()
  private readonly cache = new Map<string, Uint8Array | undefined>()

  constructor(base: StateReader) {
    this.base = base
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const written = this.pending.get(key)
    if (written !== undefined) return written ?? undefined
    if (this.cache.has(key)) return this.cache.get(key)
    const value = await this.base.get(key)
    this.cache.set(key, value)
    return value
  }

  async keys(prefix: string, limit: number, after?: string): Promise<string[]> {
    let deleted = 0
    const added: string[] = []
    for (const [key, value] of this.pending) {
      if (!key.startsWith(prefix) || (after !== undefined && key <= after)) continue
      if (value === null) deleted++
      else added.push(key)
    }
    // Ask the base for enough keys that dropping the deleted ones still leaves `limit`.
    const base = await this.base.keys(prefix, limit + deleted, after)
    const merged = new Set<string>()
    for (const key of base) if (this.pending.get(key) !== null) merged.add(key)
    for (const key of added) merged.add(key)
    return [...merged].sort(compareKeys).slice(0, limit)
  }

  set(key: string, value: Uint8Array): void {
    this.pending.set(key, value)
  }

  delete(key: string): void {
    this.pending.set(key, null)
  }

  /** A copy of the pending writes. */
  writes(): StateWrites {
    return new Map(this.pending)
  }
}

/** An in-memory state: genesis tooling, simulations and tests apply executions to it. */
export class MemoryState implements StateReader {
  private readonly entries = new Map<string, Uint8Array>()

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key)
  }

  async keys(prefix: string, limit: number, after?: string): Promise<string[]> {
    const keys: string[] = []
    for (const key of this.entries.keys()) if (key.startsWith(prefix) && (after === undefined || key > after)) keys.push(key)
    return keys.sort(compareKeys).slice(0, limit)
  }

  apply(writes: StateWrites): void {
    for (const [key, value] of writes) {
      if (value === null) this.entries.delete(key)
      else this.entries.set(key, value)
    }
  }

  get size(): number {
    return this.entries.size
  }
}

/** State keys are ASCII, so code-unit order is the store's byte order. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** A writer into a plain map (genesis has no reader underneath). */
export class MapWriter implements StateWriter {
  readonly writes: StateWrites = new Map()

  set(key: string, value: Uint8Array): void {
    this.writes.set(key, value)
  }

  delete(key: string): void {
    this.writes.set(key, null)
  }
}
