/** Over 400 lines as one file because the chain store is the one writer of the chain's LevelDB: one commit batch spans blocks, state, indexes and consensus records. */
import {silentLogger, type Logger} from "../logger.js"
import {decode, encode, type Encodable} from "../encoding/index.js"
import {bytesEqual, toHex} from "../encoding/bytes.js"
import {sha256} from "../crypto/hash.js"
import {Block, validatorsHashOf, type BlockHeader} from "../block/block.js"
import {decodeCommit, encodeCommit, verifyCommit, type CommitCertificate} from "../block/commit.js"
import {BlockError} from "../block/errors.js"
import type {Transaction} from "../tx/transaction.js"
import type {BlockExecution, Genesis, StateReader} from "../state/types.js"
import {Bucket, Database, type DbOperation} from "./db.js"
import {StoreError, StoreErrorCode} from "./errors.js"
import {
  bytesCodec,
  heightCodec,
  Repository,
  stringCodec,
  txLocationCodec,
  validatorListCodec,
  type Codec,
  type TxLocation,
} from "./repositories.js"

export interface ChainStoreOptions {
  /** Directory of the LevelDB database (created when missing). */
  dir: string
  /** The store's own logger (the node passes its `store` child). */
  logger?: Logger
  /** Committed state entries kept in memory for reads (default 50,000). */
  stateCacheEntries?: number
}

export const DEFAULT_STATE_CACHE_ENTRIES = 50_000

export interface ChainHead {
  height: number
  hash: Uint8Array
  header: Readonly<BlockHeader>
}

/** Names of the singleton entries in the meta bucket. */
enum MetaKey {
  head = "head",
  genesisHash = "genesisHash",
  chainId = "chainId",
  stateRoot = "stateRoot",
  genesis = "genesis",
}

/** Longest consensus record key accepted (keys are short structured names like "vote/12/3/pre"). */
export const MAX_CONSENSUS_KEY_LENGTH = 256

const blockCodec: Codec<Block> = {encode: (block) => block.serialize(), decode: (bytes) => Block.decode(bytes)}
const commitCodec: Codec<CommitCertificate> = {encode: encodeCommit, decode: decodeCommit}

/** In memory: the validator sets by the height each took effect, ascending. Small and read on every vote. */
interface ValidatorEpoch {
  from: number
  validators: Uint8Array[]
}

/**
 * The finalized chain and its state in one LevelDB. Only finalized blocks are stored, so the chain
 * is a single line: every block and all it changes are written in one synced atomic batch, and a
 * process killed at any instant reopens with a head and a state that agree.
 */
export class ChainStore {
  private readonly db: Database
  private readonly logger: Logger
  private readonly blocks: Repository<number, Block>
  private readonly heightByHash: Repository<Uint8Array, number>
  private readonly commits: Repository<number, CommitCertificate>
  private readonly txIndex: Repository<Uint8Array, TxLocation>
  private readonly stateRepo: Repository<string, Uint8Array>
  private readonly meta: Repository<MetaKey, Uint8Array>
  private readonly validatorHistory: Repository<number, Uint8Array[]>
  private readonly consensus: Repository<string, Uint8Array>
  private readonly stateReader: CommittedState

  private headCache: ChainHead | undefined
  /**
   * The latest committed blocks, decoded: readers of new blocks (explorers, `chain_getTx` of a tx
   * just finalized, peers syncing the tip) would otherwise decode the same block again and again.
   */
  private readonly recentBlocks = new Map<number, Block>()
  private genesisCache: Genesis | undefined
  private epochs: ValidatorEpoch[] = []
  /** Serializes writers so "is this head+1?" and the write that follows cannot interleave. */
  private writeQueue: Promise<unknown> = Promise.resolve()

  private constructor(db: Database, logger: Logger, stateCacheEntries: number) {
    this.db = db
    this.logger = logger
    const metaKeyCodec = stringCodec as unknown as Codec<MetaKey>
    this.blocks = new Repository(db, Bucket.blocks, heightCodec, blockCodec)
    this.heightByHash = new Repository(db, Bucket.heightByHash, bytesCodec, heightCodec)
    this.commits = new Repository(db, Bucket.commits, heightCodec, commitCodec)
    this.txIndex = new Repository(db, Bucket.txIndex, bytesCodec, txLocationCodec)
    this.stateRepo = new Repository(db, Bucket.state, stringCodec, bytesCodec)
    this.meta = new Repository(db, Bucket.meta, metaKeyCodec, bytesCodec)
    this.validatorHistory = new Repository(db, Bucket.validatorHistory, heightCodec, validatorListCodec)
    this.consensus = new Repository(db, Bucket.consensus, stringCodec, bytesCodec)
    this.stateReader = new CommittedState(this.stateRepo, stateCacheEntries)
  }

  /**
   * Opens (or creates) the store at `dir`. An initialized store is checked on the way in: its head
   * block must exist and agree with the persisted state root, else StoreError(INCONSISTENT).
   */
  static async open(options: ChainStoreOptions): Promise<ChainStore> {
    const logger = options.logger ?? silentLogger
    const db = await Database.open(options.dir)
    const store = new ChainStore(db, logger, options.stateCacheEntries ?? DEFAULT_STATE_CACHE_ENTRIES)
    try {
      await store.load()
    } catch (err) {
      await db.close()
      throw err
    }
    return store
  }

  get isInitialized(): boolean {
    return this.headCache !== undefined
  }

  /**
   * Writes genesis (height 0, its state and validator set). Calling it again with the same genesis
   * is a no-op; with another genesis it throws StoreError(GENESIS_MISMATCH) and writes nothing.
   */
  async initialize(genesis: Genesis, genesisBlock: Block, execution: BlockExecution): Promise<void> {
    return this.exclusive(async () => {
      const documentBytes = encodeGenesis(genesis)
      if (this.headCache !== undefined) {
        const storedHash = await this.meta.get(MetaKey.genesisHash)
        const storedDoc = await this.meta.get(MetaKey.genesis)
        if (storedHash === undefined || !bytesEqual(storedHash, genesisBlock.hash()) || storedDoc === undefined || !bytesEqual(storedDoc, documentBytes)) {
          throw new StoreError(StoreErrorCode.GENESIS_MISMATCH, `this store holds chain ${this.genesisCache?.chainId} with another genesis`, {
            storedGenesisHash: storedHash === undefined ? null : toHex(storedHash),
            givenGenesisHash: genesisBlock.hashHex(),
          })
        }
        return
      }
      const header = genesisBlock.header
      if (header.height !== 0) throw new StoreError(StoreErrorCode.BAD_GENESIS, `the genesis block has height ${header.height}, not 0`)
      if (header.chainId !== genesis.chainId) {
        throw new StoreError(StoreErrorCode.BAD_GENESIS, `the genesis block is for chain ${header.chainId}, the document for ${genesis.chainId}`)
      }
      if (!bytesEqual(header.stateRoot, execution.stateRoot)) {
        throw new StoreError(StoreErrorCode.BAD_GENESIS, "the genesis block's state root differs from the genesis execution's")
      }
      if (execution.validators.length === 0) throw new StoreError(StoreErrorCode.BAD_GENESIS, "genesis has no validators")
      const hash = genesisBlock.hash()
      const ops: DbOperation[] = [
        this.blocks.putOp(0, genesisBlock),
        this.heightByHash.putOp(hash, 0),
        ...this.txOps(genesisBlock),
        ...this.stateOps(execution),
        this.validatorHistory.putOp(0, execution.validators),
        this.meta.putOp(MetaKey.genesis, documentBytes),
        this.meta.putOp(MetaKey.genesisHash, hash),
        this.meta.putOp(MetaKey.chainId, encode(genesis.chainId)),
        this.meta.putOp(MetaKey.stateRoot, execution.stateRoot),
        this.meta.putOp(MetaKey.head, encodeHead(0, hash)),
      ]
      await this.db.batch(ops, {sync: true})
      this.stateReader.committed(execution.writes)
      this.genesisCache = decodeGenesis(documentBytes)
      this.epochs = [{from: 0, validators: [...execution.validators]}]
      this.headCache = {height: 0, hash, header}
      this.logger.info({chainId: genesis.chainId, genesisHash: toHex(hash)}, "initialized chain store")
    })
  }

  /** The latest finalized block. */
  head(): ChainHead {
    this.assertReady()
    return this.headCache!
  }

  genesis(): Genesis {
    this.assertReady()
    return this.genesisCache!
  }

  get chainId(): string {
    return this.genesis().chainId
  }

  async getBlock(height: number): Promise<Block | undefined> {
    if (!Number.isSafeInteger(height) || height < 0) return undefined
    return this.recentBlocks.get(height) ?? this.blocks.get(height)
  }

  /** Up to `limit` consecutive blocks from height `from` (block sync serves ranges from this). */
  async getBlocks(from: number, limit: number): Promise<Block[]> {
    if (!Number.isSafeInteger(from) || from < 0 || limit <= 0) return []
    const entries = await this.blocks.entries({gte: from, limit})
    return entries.map((entry) => entry.value)
  }

  async getBlockByHash(hash: Uint8Array): Promise<Block | undefined> {
    const height = await this.heightByHash.get(hash)
    return height === undefined ? undefined : this.getBlock(height)
  }

  async getHeightByHash(hash: Uint8Array): Promise<number | undefined> {
    return this.heightByHash.get(hash)
  }

  /** The certificate that finalized the block at `height` (none for genesis). */
  async getCommit(height: number): Promise<CommitCertificate | undefined> {
    if (!Number.isSafeInteger(height) || height < 0) return undefined
    return this.commits.get(height)
  }

  async getTxLocation(hash: Uint8Array): Promise<TxLocation | undefined> {
    return this.txIndex.get(hash)
  }

  /** A final tx with where it is and the hash of its block (one block read). */
  async getTx(hash: Uint8Array): Promise<(TxLocation & {tx: Transaction; blockHash: Uint8Array}) | undefined> {
    const location = await this.txIndex.get(hash)
    if (location === undefined) return undefined
    const block = await this.getBlock(location.height)
    const tx = block?.txs[location.index]
    if (tx === undefined) {
      throw new StoreError(StoreErrorCode.INCONSISTENT, `tx index points at missing tx ${location.height}/${location.index}`)
    }
    return {...location, tx, blockHash: block!.hash()}
  }

  /** The validator set that must finalize the next block (head + 1). */
  validators(): Uint8Array[] {
    return this.validatorsAt(this.head().height + 1)
  }

  /**
   * The validator set that had to sign the block at `height` (a change made by block h applies
   * from h + 1). Heights above head + 1 are not known yet and give the set for head + 1.
   */
  validatorsAt(height: number): Uint8Array[] {
    this.assertReady()
    let found = this.epochs[0]!
    for (const epoch of this.epochs) {
      if (epoch.from > height) break
      found = epoch
    }
    return [...found.validators]
  }

  /** Reads the committed state (as of the current head). */
  state(): StateReader {
    return this.stateReader
  }

  /**
   * Commits a finalized block with its certificate and execution in one synced atomic batch: the
   * block, its hash index, the certificate, the tx index, the state writes, a validator-set change
   * and the new head. Any check failing throws a typed StoreError and writes nothing.
   */
  async commitBlock(block: Block, commit: CommitCertificate, execution: BlockExecution): Promise<ChainHead> {
    return this.exclusive(async () => {
      const head = this.head()
      const header = block.header
      const hash = block.hash()
      const chainId = this.genesisCache!.chainId
      if (header.chainId !== chainId) {
        throw new StoreError(StoreErrorCode.WRONG_CHAIN, `block is for chain ${header.chainId}, this store holds ${chainId}`)
      }
      if (header.height !== head.height + 1) {
        throw new StoreError(StoreErrorCode.BAD_HEIGHT, `block height ${header.height} is not head + 1 (${head.height + 1})`, {
          height: header.height,
          head: head.height,
        })
      }
      if (!bytesEqual(header.parentHash, head.hash)) {
        throw new StoreError(StoreErrorCode.BAD_PARENT, `block ${header.height} does not extend the head ${toHex(head.hash)}`, {
          parentHash: toHex(header.parentHash),
          headHash: toHex(head.hash),
        })
      }
      if (!bytesEqual(header.stateRoot, execution.stateRoot)) {
        throw new StoreError(StoreErrorCode.BAD_STATE_ROOT, `block ${header.height} state root differs from its execution's`)
      }
      const signers = this.validatorsAt(header.height)
      if (!bytesEqual(header.validatorsHash, validatorsHashOf(signers))) {
        throw new StoreError(StoreErrorCode.BAD_VALIDATORS, `block ${header.height} names another validator set than the one in force`)
      }
      try {
        verifyCommit(chainId, commit, {height: header.height, blockHash: hash}, signers)
      } catch (err) {
        if (!(err instanceof BlockError)) throw err
        throw new StoreError(StoreErrorCode.BAD_COMMIT, `commit certificate rejected: ${err.message}`, {cause: err.code})
      }
      if (execution.validators.length === 0) {
        throw new StoreError(StoreErrorCode.BAD_VALIDATORS, `block ${header.height} would leave an empty validator set`)
      }
      const ops: DbOperation[] = [
        this.blocks.putOp(header.height, block),
        this.heightByHash.putOp(hash, header.height),
        this.commits.putOp(header.height, commit),
        ...this.txOps(block),
        ...this.stateOps(execution),
      ]
      const current = this.validatorsAt(header.height + 1)
      const changed = !sameValidators(current, execution.validators)
      if (changed) ops.push(this.validatorHistory.putOp(header.height + 1, execution.validators))
      ops.push(this.meta.putOp(MetaKey.stateRoot, execution.stateRoot), this.meta.putOp(MetaKey.head, encodeHead(header.height, hash)))
      await this.db.batch(ops, {sync: true})
      this.stateReader.committed(execution.writes)
      this.recentBlocks.set(header.height, block)
      if (this.recentBlocks.size > RECENT_BLOCKS) this.recentBlocks.delete(this.recentBlocks.keys().next().value as number)
      if (changed) this.epochs.push({from: header.height + 1, validators: [...execution.validators]})
      this.headCache = {height: header.height, hash, header}
      this.logger.debug({height: header.height, txs: block.txs.length, validatorsChanged: changed}, "committed block")
      return this.headCache
    })
  }

  /** Stores a consensus record durably (synced) before returning: a vote is persisted before it is sent. */
  async putConsensusRecord(key: string, value: Uint8Array): Promise<void> {
    checkRecordKey(key)
    await this.db.batch([this.consensus.putOp(key, value)], {sync: true})
  }

  /** Writes several records in one synced batch (all or none). */
  async putConsensusRecords(entries: ReadonlyArray<{key: string; value: Uint8Array}>): Promise<void> {
    for (const {key} of entries) checkRecordKey(key)
    await this.db.batch(
      entries.map(({key, value}) => this.consensus.putOp(key, value)),
      {sync: true},
    )
  }

  async getConsensusRecord(key: string): Promise<Uint8Array | undefined> {
    checkRecordKey(key)
    return this.consensus.get(key)
  }

  /** Records whose keys start with `prefix`, in key order (evidence, votes of a height, ...). */
  async listConsensusRecords(prefix: string, limit: number): Promise<Array<{key: string; value: Uint8Array}>> {
    return this.consensus.entries({prefix: stringCodec.encode(prefix), limit})
  }

  /** Every record whose key starts with `prefix`, in key order, read in bounded pages (no cap on the count). */
  async readConsensusRecords(prefix: string): Promise<Array<{key: string; value: Uint8Array}>> {
    const out: Array<{key: string; value: Uint8Array}> = []
    for (;;) {
      const after = out.at(-1)?.key
      const page = await this.consensus.entries({prefix: stringCodec.encode(prefix), limit: 1000, ...(after === undefined ? {} : {gte: `${after}\u0000`})})
      out.push(...page)
      if (page.length < 1000) return out
    }
  }

  /** Deletes every record whose key starts with `prefix` (synced); returns how many were deleted. */
  async deleteConsensusRecords(prefix: string): Promise<number> {
    let deleted = 0
    // Bounded pages keep memory flat when a long-running validator prunes many heights at once.
    for (;;) {
      const page = await this.consensus.entries({prefix: stringCodec.encode(prefix), limit: 1000})
      if (page.length === 0) return deleted
      await this.db.batch(
        page.map(({key}) => this.consensus.delOp(key)),
        {sync: true},
      )
      deleted += page.length
    }
  }

  /** Safe to call twice; waits for a commit in flight. */
  async close(): Promise<void> {
    if (this.db.isClosed) return
    await this.writeQueue.catch(() => undefined)
    await this.db.close()
  }

  private async load(): Promise<void> {
    const headBytes = await this.meta.get(MetaKey.head)
    if (headBytes === undefined) return
    const {height, hash} = decodeHead(headBytes)
    const block = await this.blocks.get(height)
    if (block === undefined) throw new StoreError(StoreErrorCode.INCONSISTENT, `head block ${height} is missing`, {height})
    if (!bytesEqual(block.hash(), hash)) throw new StoreError(StoreErrorCode.INCONSISTENT, `stored block ${height} is not the recorded head`, {height})
    const stateRoot = await this.meta.get(MetaKey.stateRoot)
    if (stateRoot === undefined || !bytesEqual(stateRoot, block.header.stateRoot)) {
      throw new StoreError(StoreErrorCode.INCONSISTENT, `state root on disk does not match head block ${height}`, {
        height,
        headStateRoot: toHex(block.header.stateRoot),
        persistedStateRoot: stateRoot === undefined ? null : toHex(stateRoot),
      })
    }
    const genesisBytes = await this.meta.get(MetaKey.genesis)
    if (genesisBytes === undefined) throw new StoreError(StoreErrorCode.INCONSISTENT, "the genesis document is missing")
    this.genesisCache = decodeGenesis(genesisBytes)
    const history = await this.validatorHistory.entries({limit: Number.MAX_SAFE_INTEGER})
    if (history.length === 0 || history[0]!.key !== 0) throw new StoreError(StoreErrorCode.INCONSISTENT, "the genesis validator set is missing")
    this.epochs = history.map(({key, value}) => ({from: key, validators: value}))
    this.headCache = {height, hash, header: block.header}
    this.logger.info({height, hash: toHex(hash), chainId: this.genesisCache.chainId}, "opened chain store")
  }

  private txOps(block: Block): DbOperation[] {
    return block.txs.map((tx, index) => this.txIndex.putOp(tx.hash(), {height: block.header.height, index}))
  }

  private stateOps(execution: BlockExecution): DbOperation[] {
    const ops: DbOperation[] = []
    for (const [key, value] of execution.writes) {
      ops.push(value === null ? this.stateRepo.delOp(key) : this.stateRepo.putOp(key, value))
    }
    return ops
  }

  private assertReady(): void {
    if (this.db.isClosed) throw new StoreError(StoreErrorCode.CLOSED, "the chain store is closed")
    if (this.headCache === undefined) throw new StoreError(StoreErrorCode.NOT_INITIALIZED, "the chain store has no genesis yet")
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.writeQueue.then(task, task)
    this.writeQueue = run.catch(() => undefined)
    return run
  }
}

/** How many of the latest blocks the store keeps decoded (each at most a block's byte bound). */
const RECENT_BLOCKS = 8
/** How many commits' written keys the state cache remembers, to keep reads that were in flight across them. */
const RECENT_WRITE_SETS = 8

/** Where committed state lives (the store's state repository). */
export type StateSource = Pick<Repository<string, Uint8Array>, "get" | "entries">

/**
 * Committed state from LevelDB, with a bounded cache in front. The store is the only writer of
 * state, so each commit updates the cache with the block's writes right after its batch lands; a
 * read that was in flight across a commit that wrote its key is not cached (it may hold the old
 * value). Key order is UTF-8 byte order (= code point order).
 *
 * The cache keeps two generations of at most half the entries each, instead of moving every hit to
 * the end of one map: a hit in the young generation costs one lookup (state is read several times
 * per transaction), a hit in the old one moves the entry to the young one, and when the young one
 * is full it becomes the old one and the old one is dropped.
 */
export class CommittedState implements StateReader {
  /** `null` remembers that a key is absent. The young generation shadows the old one. */
  private young = new Map<string, Uint8Array | null>()
  private old = new Map<string, Uint8Array | null>()
  private readonly generationEntries: number
  private generation = 0
  /** The keys written by the latest commits, newest last (at most RECENT_WRITE_SETS). */
  private readonly recentWrites: Array<ReadonlyMap<string, unknown>> = []

  constructor(
    private readonly repo: StateSource,
    private readonly maxEntries: number,
  ) {
    this.generationEntries = Math.max(1, Math.floor(maxEntries / 2))
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const young = this.young.get(key)
    if (young !== undefined) return young ?? undefined
    const old = this.old.get(key)
    if (old !== undefined) {
      this.remember(key, old)
      return old ?? undefined
    }
    const generation = this.generation
    const value = await this.repo.get(key)
    if (this.unwrittenSince(key, generation)) this.remember(key, value ?? null)
    return value
  }

  /** Called synchronously after a block's batch is durable. */
  committed(writes: BlockExecution["writes"]): void {
    this.generation++
    this.recentWrites.push(writes)
    if (this.recentWrites.length > RECENT_WRITE_SETS) this.recentWrites.shift()
    for (const [key, value] of writes) this.remember(key, value)
  }

  /**
   * Whether no commit since `generation` wrote `key`: then a read that was in flight across those
   * commits read the current value (blocks commit while admission reads the keys of the next ones).
   */
  private unwrittenSince(key: string, generation: number): boolean {
    const commits = this.generation - generation
    if (commits > this.recentWrites.length) return false
    for (let i = this.recentWrites.length - commits; i < this.recentWrites.length; i++) if (this.recentWrites[i]!.has(key)) return false
    return true
  }

  private remember(key: string, value: Uint8Array | null): void {
    if (this.maxEntries <= 0) return
    if (this.young.size >= this.generationEntries && !this.young.has(key)) {
      // Both generations together stay within maxEntries (a cache of one entry has no old generation).
      this.old = this.young.size < this.maxEntries ? this.young : new Map()
      this.young = new Map()
    }
    this.young.set(key, value)
  }

  async keys(prefix: string, limit: number, after?: string): Promise<string[]> {
    if (limit <= 0) return []
    // "\0" sorts before every other key character, so `after + "\0"` is the first key past `after`.
    const entries = await this.repo.entries({prefix: stringCodec.encode(prefix), limit, ...(after === undefined ? {} : {gte: `${after}\0`})})
    return entries.map((entry) => entry.key)
  }
}

function checkRecordKey(key: string): void {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_CONSENSUS_KEY_LENGTH) {
    throw new StoreError(StoreErrorCode.BAD_KEY, `a consensus record key is 1..${MAX_CONSENSUS_KEY_LENGTH} characters`)
  }
}

function sameValidators(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((key, i) => bytesEqual(key, b[i]!))
}

function encodeHead(height: number, hash: Uint8Array): Uint8Array {
  return encode([height, hash])
}

function decodeHead(bytes: Uint8Array): {height: number; hash: Uint8Array} {
  const raw = decodeOrInconsistent(bytes, "head")
  if (!Array.isArray(raw) || raw.length !== 2 || !Number.isSafeInteger(raw[0]) || !(raw[1] instanceof Uint8Array)) {
    throw new StoreError(StoreErrorCode.INCONSISTENT, "the head record is malformed")
  }
  return {height: raw[0] as number, hash: raw[1]}
}

/** The genesis document as canonical CBOR, so "same genesis" is a byte comparison. */
export function encodeGenesis(genesis: Genesis): Uint8Array {
  const doc: Encodable = {
    chainId: genesis.chainId,
    timestamp: genesis.timestamp,
    hospitals: genesis.hospitals.map((h) => ({id: h.id, name: h.name, key: h.key, validator: h.validator})),
    consensus: {
      blockIntervalMs: genesis.consensus.blockIntervalMs,
      roundTimeoutMs: genesis.consensus.roundTimeoutMs,
      emptyBlocks: genesis.consensus.emptyBlocks,
    },
  }
  return encode(doc)
}

function decodeGenesis(bytes: Uint8Array): Genesis {
  const raw = decodeOrInconsistent(bytes, "genesis") as Genesis
  if (raw === null || typeof raw !== "object" || typeof raw.chainId !== "string" || !Array.isArray(raw.hospitals)) {
    throw new StoreError(StoreErrorCode.INCONSISTENT, "the stored genesis document is malformed")
  }
  return raw
}

function decodeOrInconsistent(bytes: Uint8Array, what: string): unknown {
  try {
    return decode(bytes)
  } catch (err) {
    throw new StoreError(StoreErrorCode.INCONSISTENT, `the ${what} record is undecodable: ${(err as Error).message}`)
  }
}

/** Hash identifying a genesis document (not the genesis block). */
export function genesisDocumentHash(genesis: Genesis): Uint8Array {
  return sha256(encodeGenesis(genesis))
}
