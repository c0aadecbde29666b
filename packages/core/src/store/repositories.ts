/**
 * Typed repositories: one per stored type, each bound to its bucket and codecs. They read directly
 * and hand out batch operations, so the chain store can write several types in one atomic batch.
 */
import {decode, encode, type Encodable} from "../encoding/index.js"
import {utf8} from "../encoding/bytes.js"
import {Bucket, type Database, type DbOperation} from "./db.js"
import {StoreError, StoreErrorCode} from "./errors.js"

export interface Codec<T> {
  encode(value: T): Uint8Array
  decode(bytes: Uint8Array): T
}

export class Repository<K, V> {
  constructor(
    protected readonly db: Database,
    readonly bucket: Bucket,
    protected readonly keyCodec: Codec<K>,
    protected readonly valueCodec: Codec<V>,
  ) {}

  async get(key: K): Promise<V | undefined> {
    const bytes = await this.db.get(this.bucket, this.keyCodec.encode(key))
    return bytes === undefined ? undefined : this.decodeValue(bytes, key)
  }

  putOp(key: K, value: V): DbOperation {
    return {type: "put", bucket: this.bucket, key: this.keyCodec.encode(key), value: this.valueCodec.encode(value)}
  }

  delOp(key: K): DbOperation {
    return {type: "del", bucket: this.bucket, key: this.keyCodec.encode(key)}
  }

  /** Entries in key order; `prefix` is raw key bytes, bounds are typed keys. */
  async entries(range: {prefix?: Uint8Array; gte?: K; lte?: K; reverse?: boolean; limit: number}): Promise<Array<{key: K; value: V}>> {
    const raw = await this.db.entries(this.bucket, {
      ...(range.prefix === undefined ? {} : {prefix: range.prefix}),
      ...(range.gte === undefined ? {} : {gte: this.keyCodec.encode(range.gte)}),
      ...(range.lte === undefined ? {} : {lte: this.keyCodec.encode(range.lte)}),
      reverse: range.reverse ?? false,
      limit: range.limit,
    })
    return raw.map(({key, value}) => {
      const typedKey = this.keyCodec.decode(key)
      return {key: typedKey, value: this.decodeValue(value, typedKey)}
    })
  }

  private decodeValue(bytes: Uint8Array, key: K): V {
    try {
      return this.valueCodec.decode(bytes)
    } catch (err) {
      throw new StoreError(StoreErrorCode.INCONSISTENT, `undecodable ${Bucket[this.bucket]} entry ${String(key)}: ${(err as Error).message}`)
    }
  }
}

/** Heights as 8-byte big-endian so LevelDB's byte order is numeric order. */
export const heightCodec: Codec<number> = {
  encode(height) {
    const out = new Uint8Array(8)
    const view = new DataView(out.buffer)
    view.setUint32(0, Math.floor(height / 2 ** 32))
    view.setUint32(4, height >>> 0)
    return out
  },
  decode(bytes) {
    if (bytes.length !== 8) throw new Error("a height key is 8 bytes")
    const view = new DataView(bytes.buffer, bytes.byteOffset, 8)
    return view.getUint32(0) * 2 ** 32 + view.getUint32(4)
  },
}

export const bytesCodec: Codec<Uint8Array> = {
  encode: (value) => value,
  decode: (bytes) => bytes,
}

export const stringCodec: Codec<string> = {
  encode: (value) => utf8(value),
  decode: (bytes) => new TextDecoder("utf-8", {fatal: true}).decode(bytes),
}

/** Values that are themselves canonical CBOR, checked on read. */
export function cborCodec<T>(to: (value: T) => Encodable, from: (raw: unknown) => T): Codec<T> {
  return {
    encode: (value) => encode(to(value)),
    decode: (bytes) => from(decode(bytes)),
  }
}

export interface TxLocation {
  height: number
  /** Position of the tx in its block. */
  index: number
}

export const txLocationCodec: Codec<TxLocation> = cborCodec<TxLocation>(
  (loc) => [loc.height, loc.index],
  (raw) => {
    if (!Array.isArray(raw) || raw.length !== 2 || !raw.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
      throw new Error("a tx location is [height, index]")
    }
    return {height: raw[0] as number, index: raw[1] as number}
  },
)

export const validatorListCodec: Codec<Uint8Array[]> = cborCodec<Uint8Array[]>(
  (list) => list,
  (raw) => {
    if (!Array.isArray(raw) || !raw.every((key) => key instanceof Uint8Array)) throw new Error("a validator set is a list of keys")
    return raw as Uint8Array[]
  },
)
