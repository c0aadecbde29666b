/**
 * The encrypted off-chain record vault of one hospital node.
 *
 * Every record has its own random AES-256 data key; each version is sealed with it (AES-256-GCM,
 * the record id, version and kind bound in as associated data so blobs cannot be swapped). Data keys
 * are wrapped (AES-256-GCM) with the node's vault key, which lives only in `<datadir>/vault.key`
 * (mode 0600). Wrapped keys sit in the vault's own LevelDB (`<datadir>/vault/index`), ciphertext in
 * one file per version (`<datadir>/vault/blobs`). Only records this hospital is custodian of are
 * kept: a record fetched from another hospital is handed to the reader and never stored. The same
 * LevelDB holds the journal of access-log entries not yet final (see journal.ts) and the journal of
 * FHIR interactions the access log cannot carry (interactions.ts). Erasure is
 * crypto-shredding: the wrapped key is deleted and compacted out of LevelDB, the ciphertext files
 * are overwritten and unlinked.
 */
import {createCipheriv, createDecipheriv, randomBytes} from "node:crypto"
import {constants as fsConstants} from "node:fs"
import {mkdir, open, readFile, readdir, rename, rm, stat, writeFile} from "node:fs/promises"
import {join} from "node:path"
import {ClassicLevel} from "classic-level"
import {decode, encode, fromHex, isRecordId, toHex, utf8, type Logger} from "@careledger/core"
import {VaultError, VaultErrorCode} from "./errors.js"

const KEY_LENGTH = 32
const IV_LENGTH = 12
const TAG_LENGTH = 16
const PENDING_PREFIX = "pending:"
/** interaction:<seq, 16 digits> holds an entry; interaction-p:<patient>:<seq> indexes it by patient. */
const INTERACTION_PREFIX = "interaction:"
const INTERACTION_BY_PATIENT = "interaction-p:"
const interactionSeq = (seq: number): string => String(seq).padStart(16, "0")

/** What the vault keeps for one record version: the salt and the canonical resource bytes. */
export interface VaultEntry {
  salt: Uint8Array
  resource: Uint8Array
}

/** The custodial area; the name stays in keys and associated data so existing vaults still open. */
type VaultArea = "custody"

export interface VaultOptions {
  /** The node's data directory; the vault uses `vault.key` and `vault/` inside it. */
  datadir: string
}

function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const iv = randomBytes(IV_LENGTH)
  const cipher = createCipheriv("aes-256-gcm", key, iv)
  cipher.setAAD(aad)
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return new Uint8Array(Buffer.concat([iv, cipher.getAuthTag(), body]))
}

function open_(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array, what: string): Uint8Array {
  if (sealed.length < IV_LENGTH + TAG_LENGTH) {
    throw new VaultError(VaultErrorCode.TAMPERED, `${what} is truncated`)
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, IV_LENGTH))
    decipher.setAAD(aad)
    decipher.setAuthTag(sealed.subarray(IV_LENGTH, IV_LENGTH + TAG_LENGTH))
    return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(IV_LENGTH + TAG_LENGTH)), decipher.final()]))
  } catch {
    throw new VaultError(VaultErrorCode.TAMPERED, `${what} failed authentication: it was altered on disk`)
  }
}

function keyAad(area: VaultArea, recordId: string): Uint8Array {
  return utf8(`careledger/vault-key/v1|${area}|${recordId}`)
}

function blobAad(area: VaultArea, recordId: string, version: number): Uint8Array {
  return utf8(`careledger/vault-blob/v1|${area}|${recordId}|${version}`)
}

function checkIds(recordId: string, version?: number): void {
  if (!isRecordId(recordId)) throw new VaultError(VaultErrorCode.BAD_ID, `bad record id ${JSON.stringify(recordId)}`)
  if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
    throw new VaultError(VaultErrorCode.BAD_ID, `bad version ${version}`)
  }
}

/** Reads the vault key, creating it (0600) on first start; refuses a key others can read. */
export async function loadVaultKey(path: string): Promise<Uint8Array> {
  try {
    const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600)
    try {
      await handle.writeFile(`${toHex(new Uint8Array(randomBytes(KEY_LENGTH)))}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new VaultError(VaultErrorCode.BAD_KEY, `cannot create the vault key at ${path}: ${(err as Error).message}`)
    }
  }
  const info = await stat(path)
  if ((info.mode & 0o077) !== 0) {
    throw new VaultError(VaultErrorCode.BAD_KEY, `the vault key ${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`)
  }
  const key = fromHex((await readFile(path, "utf8")).trim())
  if (key === undefined || key.length !== KEY_LENGTH) {
    throw new VaultError(VaultErrorCode.BAD_KEY, `the vault key ${path} is not ${KEY_LENGTH} bytes of hex`)
  }
  return key
}

export class Vault {
  private readonly root: string
  private readonly keyPath: string
  private db: ClassicLevel<string, Uint8Array> | undefined
  private vaultKey: Uint8Array | undefined
  /** Writes and shreds of one record run one at a time, so two first writes cannot each create a data key. */
  private readonly locks = new Map<string, Promise<unknown>>()

  constructor(
    options: VaultOptions,
    private readonly deps: {logger?: Logger} = {},
  ) {
    this.root = join(options.datadir, "vault")
    this.keyPath = join(options.datadir, "vault.key")
  }

  async start(): Promise<void> {
    if (this.db !== undefined) return
    await mkdir(this.root, {recursive: true, mode: 0o700})
    this.vaultKey = await loadVaultKey(this.keyPath)
    const db = new ClassicLevel<string, Uint8Array>(join(this.root, "index"), {valueEncoding: "view"})
    await db.open()
    this.db = db
    // Earlier versions kept copies fetched from other hospitals here; nothing reads them, so they go.
    await rm(join(this.root, "cache"), {recursive: true, force: true})
  }

  async stop(): Promise<void> {
    const db = this.db
    this.db = undefined
    this.vaultKey = undefined
    if (db !== undefined) await db.close()
  }

  private open(): {db: ClassicLevel<string, Uint8Array>; vaultKey: Uint8Array} {
    if (this.db === undefined || this.vaultKey === undefined) throw new VaultError(VaultErrorCode.CLOSED, "the vault is not started")
    return {db: this.db, vaultKey: this.vaultKey}
  }

  private async locked<T>(recordId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(recordId) ?? Promise.resolve()
    const run = previous.then(fn, fn)
    const tail = run.catch(() => undefined)
    this.locks.set(recordId, tail)
    try {
      return await run
    } finally {
      if (this.locks.get(recordId) === tail) this.locks.delete(recordId)
    }
  }

  private dirOf(area: VaultArea, recordId: string): string {
    // Hex keeps any record id a single safe path component ("." and ".." included).
    return join(this.root, "blobs", toHex(utf8(recordId)))
  }

  /** Path of the sealed file of one version (tests and operators inspect it; it is only ciphertext). */
  blobPath(area: VaultArea, recordId: string, version: number): string {
    return join(this.dirOf(area, recordId), `${version}.bin`)
  }

  private async dataKey(area: VaultArea, recordId: string, create: boolean): Promise<Uint8Array | undefined> {
    const {db, vaultKey} = this.open()
    const dbKey = `${area}:${recordId}`
    const wrapped = await db.get(dbKey)
    if (wrapped !== undefined) return open_(vaultKey, wrapped, keyAad(area, recordId), `the data key of ${recordId}`)
    if (!create) return undefined
    const key = new Uint8Array(randomBytes(KEY_LENGTH))
    await db.put(dbKey, seal(vaultKey, key, keyAad(area, recordId)), {sync: true})
    return key
  }

  private async write(area: VaultArea, recordId: string, version: number, entry: VaultEntry): Promise<void> {
    checkIds(recordId, version)
    await this.locked(recordId, () => this.writeUnlocked(area, recordId, version, entry))
  }

  private async writeUnlocked(area: VaultArea, recordId: string, version: number, entry: VaultEntry): Promise<void> {
    const key = (await this.dataKey(area, recordId, true)) as Uint8Array
    const sealed = seal(key, encode({salt: entry.salt, resource: entry.resource}), blobAad(area, recordId, version))
    const dir = this.dirOf(area, recordId)
    await mkdir(dir, {recursive: true, mode: 0o700})
    const path = this.blobPath(area, recordId, version)
    const tmp = `${path}.tmp`
    const handle = await open(tmp, "w", 0o600)
    try {
      await handle.writeFile(sealed)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, path)
  }

  private async read(area: VaultArea, recordId: string, version: number): Promise<VaultEntry | undefined> {
    checkIds(recordId, version)
    const key = await this.dataKey(area, recordId, false)
    if (key === undefined) return undefined
    let sealed: Uint8Array
    try {
      sealed = new Uint8Array(await readFile(this.blobPath(area, recordId, version)))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined
      throw err
    }
    const plain = open_(key, sealed, blobAad(area, recordId, version), `${recordId} version ${version}`)
    const value = decode(plain) as {salt?: unknown; resource?: unknown}
    if (!(value.salt instanceof Uint8Array) || !(value.resource instanceof Uint8Array)) {
      throw new VaultError(VaultErrorCode.TAMPERED, `${recordId} version ${version} has an unexpected layout`)
    }
    return {salt: value.salt, resource: value.resource}
  }

  private async versionsIn(area: VaultArea, recordId: string): Promise<number[]> {
    checkIds(recordId)
    let names: string[]
    try {
      names = await readdir(this.dirOf(area, recordId))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return []
      throw err
    }
    return names
      .map((name) => /^(\d+)\.bin$/.exec(name)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
  }

  /** Destroys the area's key and ciphertext of a record; returns whether anything was there. */
  private async shred(area: VaultArea, recordId: string): Promise<boolean> {
    checkIds(recordId)
    return this.locked(recordId, () => this.shredUnlocked(area, recordId))
  }

  private async shredUnlocked(area: VaultArea, recordId: string): Promise<boolean> {
    const {db} = this.open()
    const dbKey = `${area}:${recordId}`
    const had = (await db.get(dbKey)) !== undefined
    const versions = await this.versionsIn(area, recordId)
    await db.del(dbKey, {sync: true})
    // Compaction rewrites the tables (and flushes the write-ahead log), so the wrapped key's bytes leave the disk.
    await db.compactRange(dbKey, `${dbKey}\xff`)
    for (const version of versions) {
      const path = this.blobPath(area, recordId, version)
      try {
        const size = (await stat(path)).size
        await writeFile(path, new Uint8Array(size))
      } catch {
        // Already gone: nothing to overwrite.
      }
    }
    await rm(this.dirOf(area, recordId), {recursive: true, force: true})
    if (had || versions.length > 0) this.deps.logger?.info({recordId, area, versions: versions.length}, "record shredded from the vault")
    return had || versions.length > 0
  }

  /**
   * Stores a version this hospital is custodian of, unless that version is already stored: the
   * check and the write run under the record's lock, so of two concurrent puts exactly one writes.
   * Returns whether this call wrote it.
   */
  async putNew(recordId: string, version: number, entry: VaultEntry): Promise<boolean> {
    checkIds(recordId, version)
    return this.locked(recordId, async () => {
      if ((await this.versionsIn("custody", recordId)).includes(version)) return false
      await this.writeUnlocked("custody", recordId, version, entry)
      return true
    })
  }

  /** A custodial version, or undefined when never stored or erased; throws VAULT_ERROR_TAMPERED on altered bytes. */
  async get(recordId: string, version: number): Promise<VaultEntry | undefined> {
    return this.read("custody", recordId, version)
  }

  async versions(recordId: string): Promise<number[]> {
    return this.versionsIn("custody", recordId)
  }

  /** When a stored version was written (unix ms), or undefined when it is not stored. */
  async writtenAt(recordId: string, version: number): Promise<number | undefined> {
    checkIds(recordId, version)
    try {
      return (await stat(this.blobPath("custody", recordId, version))).mtimeMs
    } catch {
      return undefined
    }
  }

  async has(recordId: string): Promise<boolean> {
    checkIds(recordId)
    return (await this.open().db.get(`custody:${recordId}`)) !== undefined
  }

  /**
   * Removes one custodial version (a put whose anchor the chain refused or never finalized). When it
   * was the only one, the record's key goes too.
   */
  async removeVersion(recordId: string, version: number): Promise<void> {
    checkIds(recordId, version)
    await this.locked(recordId, async () => {
      const rest = (await this.versionsIn("custody", recordId)).filter((v) => v !== version)
      if (rest.length === 0) {
        await this.shredUnlocked("custody", recordId)
        return
      }
      await rm(this.blobPath("custody", recordId, version), {force: true})
    })
  }

  /** Ids of every record with data here (to reconcile with erasures and anchors on start). */
  async recordIds(): Promise<string[]> {
    let names: string[] = []
    try {
      names = await readdir(join(this.root, "blobs"))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err
    }
    const ids = new Set<string>()
    for (const name of names) {
      const bytes = fromHex(name)
      if (bytes !== undefined) ids.add(new TextDecoder().decode(bytes))
    }
    return [...ids].sort()
  }

  /** Crypto-shreds a record: its data key and every version. */
  async erase(recordId: string): Promise<boolean> {
    return this.shred("custody", recordId)
  }

  // ---- journal of node transactions not yet final (durable before the data leaves) ----------

  /** Persists (synced) a signed transaction under its hash before it is submitted. */
  async putPending(hash: string, tx: Uint8Array): Promise<void> {
    await this.open().db.put(`${PENDING_PREFIX}${hash}`, tx, {sync: true})
  }

  async deletePending(hash: string): Promise<void> {
    await this.open().db.del(`${PENDING_PREFIX}${hash}`, {sync: true})
  }

  /** Every journalled transaction (at most `limit`). */
  async pending(limit: number): Promise<Array<{hash: string; tx: Uint8Array}>> {
    const out: Array<{hash: string; tx: Uint8Array}> = []
    for await (const [key, value] of this.open().db.iterator({gte: PENDING_PREFIX, lt: `${PENDING_PREFIX}\xff`, limit})) {
      out.push({hash: key.slice(PENDING_PREFIX.length), tx: value})
    }
    return out
  }

  // ---- journal of FHIR interactions (searches, exports, scope refusals; see interactions.ts) ---

  /** Persists (synced) one interaction entry and its patient index before the answer leaves. */
  async putInteraction(seq: number, patient: string | null, entry: Uint8Array): Promise<void> {
    const key = interactionSeq(seq)
    const batch = this.open().db.batch().put(`${INTERACTION_PREFIX}${key}`, entry)
    if (patient !== null) batch.put(`${INTERACTION_BY_PATIENT}${patient}:${key}`, new Uint8Array())
    await batch.write({sync: true})
  }

  /** The newest interaction entry, if any (the journal continues its sequence and hash chain from it). */
  async lastInteraction(): Promise<Uint8Array | undefined> {
    for await (const value of this.open().db.values({gte: INTERACTION_PREFIX, lt: `${INTERACTION_PREFIX}\xff`, reverse: true, limit: 1})) return value
    return undefined
  }

  /** The interaction entry numbered `seq`, if there is one. */
  async interaction(seq: number): Promise<Uint8Array | undefined> {
    return this.open().db.get(`${INTERACTION_PREFIX}${interactionSeq(seq)}`)
  }

  /** Every interaction entry, oldest first, streamed. */
  async *allInteractions(): AsyncGenerator<Uint8Array> {
    yield* this.open().db.values({gte: INTERACTION_PREFIX, lt: `${INTERACTION_PREFIX}\xff`})
  }

  /** A patient's interaction entries, newest first, at most `limit`. */
  async interactionsOf(patient: string, limit: number): Promise<Uint8Array[]> {
    const db = this.open().db
    const prefix = `${INTERACTION_BY_PATIENT}${patient}:`
    const keys: string[] = []
    for await (const key of db.keys({gte: prefix, lt: `${prefix}\xff`, reverse: true, limit})) keys.push(`${INTERACTION_PREFIX}${key.slice(prefix.length)}`)
    const values = await db.getMany(keys)
    return values.filter((v): v is Uint8Array => v !== undefined)
  }
}
