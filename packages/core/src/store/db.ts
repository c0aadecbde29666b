/**
 * The one file that imports the database library. Everything else sees buckets of byte keys, so
 * swapping LevelDB for another ordered key/value store touches only this controller.
 */
import {ClassicLevel} from "classic-level"
import {StoreError, StoreErrorCode} from "./errors.js"

/**
 * One byte prefix per stored type. Ids are permanent: a retired bucket keeps its number forever
 * and a new bucket takes a fresh one, so old data can never be misread as a new type.
 */
export enum Bucket {
  /** Named singletons: head, genesis hash, chain id, state root, genesis document. */
  meta = 0,
  /** Height (u64 BE) -> serialized block. */
  blocks = 1,
  /** Block hash -> height (u64 BE). */
  heightByHash = 2,
  /** Height (u64 BE) -> encoded commit certificate that finalized that block. */
  commits = 3,
  /** Tx hash -> [height, index]. */
  txIndex = 4,
  /** State key (UTF-8) -> value bytes. */
  state = 5,
  /** Height the set took effect (u64 BE) -> encoded validator list. */
  validatorHistory = 6,
  /** Consensus engine records (votes about to be sent, locks, evidence), by UTF-8 key. */
  consensus = 7,
}

export type DbOperation =
  | {type: "put"; bucket: Bucket; key: Uint8Array; value: Uint8Array}
  | {type: "del"; bucket: Bucket; key: Uint8Array}

export interface RangeOptions {
  /** Only keys starting with these bytes. */
  prefix?: Uint8Array
  /** Inclusive lower / upper bounds within the bucket (combined with prefix when both given). */
  gte?: Uint8Array
  lte?: Uint8Array
  reverse?: boolean
  limit: number
}

export interface DbEntry {
  key: Uint8Array
  value: Uint8Array
}

type Level = ClassicLevel<Uint8Array, Uint8Array>

export class Database {
  private readonly level: Level
  private closed = false

  private constructor(level: Level) {
    this.level = level
  }

  static async open(dir: string): Promise<Database> {
    const level: Level = new ClassicLevel<Uint8Array, Uint8Array>(dir, {keyEncoding: "view", valueEncoding: "view"})
    try {
      await level.open()
    } catch (err) {
      const cause = (err as {cause?: Error}).cause ?? (err as Error)
      throw new StoreError(StoreErrorCode.OPEN_FAILED, `cannot open the chain database at ${dir}: ${cause.message}`, {dir})
    }
    return new Database(level)
  }

  get isClosed(): boolean {
    return this.closed
  }

  async get(bucket: Bucket, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.assertOpen()
    const value = await this.level.get(bucketKey(bucket, key))
    return value === undefined ? undefined : new Uint8Array(value)
  }

  /** Writes all operations atomically; with `sync` it returns only once they are on disk. */
  async batch(operations: readonly DbOperation[], options: {sync: boolean}): Promise<void> {
    this.assertOpen()
    if (operations.length === 0) return
    const batch = this.level.batch()
    for (const op of operations) {
      if (op.type === "put") batch.put(bucketKey(op.bucket, op.key), op.value)
      else batch.del(bucketKey(op.bucket, op.key))
    }
    await batch.write({sync: options.sync})
  }

  /** Entries of one bucket in key order (keys returned without the bucket prefix). */
  async entries(bucket: Bucket, range: RangeOptions): Promise<DbEntry[]> {
    this.assertOpen()
    const prefix = bucketKey(bucket, range.prefix ?? new Uint8Array(0))
    const lower = range.gte === undefined ? prefix : maxBytes(prefix, bucketKey(bucket, range.gte))
    const upperExclusive = prefixEnd(prefix)
    const options: {gte: Uint8Array; lt?: Uint8Array; lte?: Uint8Array; reverse: boolean; limit: number} = {
      gte: lower,
      reverse: range.reverse ?? false,
      limit: range.limit,
    }
    if (range.lte !== undefined) {
      const lte = bucketKey(bucket, range.lte)
      if (upperExclusive === undefined || compare(lte, upperExclusive) < 0) options.lte = lte
      else options.lt = upperExclusive
    } else if (upperExclusive !== undefined) {
      options.lt = upperExclusive
    }
    const out: DbEntry[] = []
    for await (const [key, value] of this.level.iterator(options)) {
      out.push({key: new Uint8Array(key.subarray(1)), value: new Uint8Array(value)})
    }
    return out
  }

  /** Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.level.close()
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError(StoreErrorCode.CLOSED, "the chain store is closed")
  }
}

function bucketKey(bucket: Bucket, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1)
  out[0] = bucket
  out.set(key, 1)
  return out
}

/** The smallest key greater than every key starting with `prefix`, or undefined if none exists. */
function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = Uint8Array.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] !== 0xff) {
      end[i] += 1
      return end.subarray(0, i + 1)
    }
  }
  return undefined
}

function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

function maxBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compare(a, b) >= 0 ? a : b
}
