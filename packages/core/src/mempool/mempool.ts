/** Over 400 lines as one file because admission, ordering, the gap buffer and eviction all keep the same per-sender indexes consistent. */
import {silentLogger, type Logger} from "../logger.js"
import {isCareLedgerError} from "../errors.js"
import type {Block} from "../block/block.js"
import type {StateReader} from "../state/types.js"
import type {Transaction} from "../tx/transaction.js"
import {TxError} from "../tx/errors.js"
import {validateTx} from "../tx/validation.js"
import {MempoolError, MempoolErrorCode} from "./errors.js"
import {resolveMempoolOptions, type MempoolOptions} from "./options.js"
import {YIELD_EVERY, yieldToEventLoop} from "../eventLoop.js"

export interface MempoolDependencies {
  /** The chain the pool serves; a tx for another chain is INVALID_TX. */
  chainId: string
  /** Committed state at start-up; each onBlockCommitted hands the pool the new one. */
  reader: StateReader
  /** The sender's next nonce in `reader` (0 for an account that never sent); the state machine's nonce lookup. */
  nonceOf(reader: StateReader, sender: Uint8Array): Promise<number>
  /**
   * Stateful admission check against committed state (authorisation, referenced records, ...).
   * `pendingNonce` is the sender's next nonce counting its txs already pending ahead of this one;
   * it equals `tx.nonce` for a tx that is next in line. Throws a typed CareLedgerError to refuse.
   */
  checkTx(tx: Transaction, pendingNonce: number, reader: StateReader): Promise<void>
  /** The mempool's own logger (the node passes its `mempool` child). */
  logger?: Logger
}

export interface AddResult {
  hash: string
  /** True when the tx is next in its sender's line (reap can include it); false when held behind a nonce gap. */
  executable: boolean
  /** Hashes of txs evicted to make room. */
  evicted: string[]
}

export interface CommitResult {
  /** Pending txs that the block included. */
  included: number
  /** Txs dropped because the new state made them invalid, with the reason code. */
  dropped: Array<{hash: string; reason: string}>
}

export interface MempoolMetrics {
  txs: number
  bytes: number
  /** Bytes held behind nonce gaps (all senders' gap buffers). */
  gappedBytes: number
  senders: number
  /** Pending txs that are next in line for their sender (reapable now). */
  executable: number
  added: number
  evicted: number
  included: number
  droppedAfterBlock: number
  rejected: Partial<Record<MempoolErrorCode, number>>
}

interface Entry {
  tx: Transaction
  hash: string
  size: number
  /** Arrival order across the whole pool. */
  seq: number
}

interface SenderQueue {
  id: string
  sender: Uint8Array
  /** Next nonce in committed state, refreshed on each block. */
  stateNonce: number
  /** First nonce from `stateNonce` on that is not pending: the end of the executable run. */
  next: number
  /** Bytes of this sender's txs beyond the executable run (held behind a gap). */
  gappedBytes: number
  txs: Map<number, Entry>
}

/**
 * Pending transactions waiting for a block.
 *
 * - Bounded by `maxTxs` and `maxBytes`.
 * - A sender's txs are kept by nonce. The run of consecutive nonces starting at the sender's state
 *   nonce is executable; a tx beyond a gap is held in the sender's gap buffer only while its nonce
 *   is at most `maxFutureNonces` past the sender's next pending nonce and the gap buffers stay
 *   within `maxGappedBytesPerSender` and `maxGappedBytes` (NONCE_TOO_HIGH otherwise), and is never
 *   reaped until the gap fills. Gossip and concurrent RPC calls deliver one sender's txs in any
 *   order, so every node's pool ends up with the same in-flight run whatever order it saw.
 * - Same hash: DUPLICATE. Nonce below state: NONCE_TOO_LOW. Same sender and nonce as a pending tx:
 *   NONCE_TAKEN (no replacement, as there are no fees to outbid).
 * - When full, an executable tx may evict: the sender with the most pending txs loses its newest
 *   (highest-nonce) tx, repeatedly, as long as that sender still holds more txs than the
 *   newcomer's sender would; otherwise FULL. A gapped tx never evicts anything. Evicting from the
 *   tail never opens a gap in the victim's line, and one flooding sender cannot starve others.
 * - After each block, included txs leave, and every remaining tx is re-checked against the new state.
 *
 * Calls to add() and onBlockCommitted() run one at a time, so a check and the insertion it allows
 * cannot interleave with a block's removals.
 */
export class Mempool {
  private readonly options: MempoolOptions
  private readonly deps: MempoolDependencies
  private readonly logger: Logger
  private reader: StateReader
  private readonly byHash = new Map<string, Entry>()
  private readonly senders = new Map<string, SenderQueue>()
  private totalBytes = 0
  private gappedBytes = 0
  private seq = 0
  private queue: Promise<unknown> = Promise.resolve()
  private readonly counters = {added: 0, evicted: 0, included: 0, droppedAfterBlock: 0}
  private readonly rejected: Partial<Record<MempoolErrorCode, number>> = {}

  constructor(options: Partial<MempoolOptions>, deps: MempoolDependencies) {
    this.options = resolveMempoolOptions(options)
    this.deps = deps
    this.reader = deps.reader
    this.logger = deps.logger ?? silentLogger
  }

  get size(): number {
    return this.byHash.size
  }

  get bytes(): number {
    return this.totalBytes
  }

  get senderCount(): number {
    return this.senders.size
  }

  /** True when some sender's next tx is pending: a proposer has something to put in a block. */
  get hasExecutable(): boolean {
    for (const queue of this.senders.values()) if (queue.next > queue.stateNonce) return true
    return false
  }

  has(hash: string): boolean {
    return this.byHash.has(hash)
  }

  get(hash: string): Transaction | undefined {
    return this.byHash.get(hash)?.tx
  }

  /**
   * The nonce a sender's next tx should carry, counting its executable pending txs; undefined when
   * the pool holds nothing from the sender (then it is the state's nonce).
   */
  pendingNonce(senderId: string): number | undefined {
    return this.senders.get(senderId)?.next
  }

  metrics(): MempoolMetrics {
    let executable = 0
    for (const queue of this.senders.values()) executable += queue.next - queue.stateNonce
    return {
      txs: this.size,
      bytes: this.totalBytes,
      gappedBytes: this.gappedBytes,
      senders: this.senders.size,
      executable,
      ...this.counters,
      rejected: {...this.rejected},
    }
  }

  /** Validates and admits a tx, or throws a MempoolError saying why not (and changes nothing). */
  add(tx: Transaction): Promise<AddResult> {
    return this.exclusive(async () => {
      try {
        return await this.admit(tx)
      } catch (err) {
        if (err instanceof MempoolError) this.rejected[err.code] = (this.rejected[err.code] ?? 0) + 1
        throw err
      }
    })
  }

  /**
   * The txs a proposer should put in the next block: for each sender a run of consecutive nonces
   * from its state nonce, interleaved round-robin across senders (each round in order of arrival of
   * the senders' next tx), within `maxTxs` and `maxBytes`. Nothing is removed.
   */
  reap(maxTxs: number, maxBytes: number): Transaction[] {
    interface Cursor {
      queue: SenderQueue
      nonce: number
    }
    const out: Transaction[] = []
    let bytes = 0
    let active: Cursor[] = []
    for (const queue of this.senders.values()) {
      if (queue.txs.has(queue.stateNonce)) active.push({queue, nonce: queue.stateNonce})
    }
    const headSeq = (cursor: Cursor): number => cursor.queue.txs.get(cursor.nonce)!.seq
    while (active.length > 0 && out.length < maxTxs) {
      active.sort((a, b) => headSeq(a) - headSeq(b))
      const next: Cursor[] = []
      for (const cursor of active) {
        if (out.length >= maxTxs) break
        const entry = cursor.queue.txs.get(cursor.nonce)!
        // A sender whose next tx does not fit is done: its later nonces cannot run without it.
        if (bytes + entry.size > maxBytes) continue
        out.push(entry.tx)
        bytes += entry.size
        cursor.nonce++
        if (cursor.queue.txs.has(cursor.nonce)) next.push(cursor)
      }
      active = next
    }
    return out
  }

  /**
   * Takes a committed block and the state after it: drops the block's txs and any tx whose nonce
   * the state has passed, then re-checks every remaining tx against the new state and drops the
   * ones it now refuses (and gapped txs that fell out of the future window).
   */
  onBlockCommitted(block: Block, reader: StateReader): Promise<CommitResult> {
    return this.exclusive(async () => {
      this.reader = reader
      let included = 0
      for (const tx of block.txs) {
        const entry = this.byHash.get(tx.hashHex())
        if (entry === undefined) continue
        this.remove(entry, false)
        included++
      }
      const dropped: CommitResult["dropped"] = []
      let checked = 0
      for (const queue of [...this.senders.values()]) {
        queue.stateNonce = await this.deps.nonceOf(reader, queue.sender)
        this.refresh(queue)
        let expected = queue.stateNonce
        for (const nonce of [...queue.txs.keys()].sort((a, b) => a - b)) {
          const entry = queue.txs.get(nonce)!
          if (++checked % YIELD_EVERY === 0) await yieldToEventLoop()
          const reason = await this.recheck(entry, expected, queue.stateNonce)
          if (reason !== undefined) {
            this.remove(entry)
            dropped.push({hash: entry.hash, reason})
          } else if (nonce === expected) {
            expected++
          }
        }
        this.refresh(queue)
      }
      this.counters.included += included
      this.counters.droppedAfterBlock += dropped.length
      if (dropped.length > 0 || included > 0) {
        this.logger.debug({height: block.height, included, dropped: dropped.length, pending: this.size}, "mempool updated after block")
      }
      return {included, dropped}
    })
  }

  private async admit(tx: Transaction): Promise<AddResult> {
    const hash = tx.hashHex()
    if (this.byHash.has(hash)) throw new MempoolError(MempoolErrorCode.DUPLICATE, `transaction ${hash} is already pending`, {hash})
    const size = tx.serialize().length
    if (size > this.options.maxBytes) {
      throw new MempoolError(MempoolErrorCode.TOO_LARGE, `transaction of ${size} bytes exceeds the pool's ${this.options.maxBytes}`, {hash, size})
    }
    try {
      validateTx(tx, this.deps.chainId)
    } catch (err) {
      if (!(err instanceof TxError)) throw err
      throw new MempoolError(MempoolErrorCode.INVALID_TX, err.message, {hash, reason: err.code})
    }
    const senderId = tx.senderId
    const existing = this.senders.get(senderId)
    const stateNonce = existing?.stateNonce ?? (await this.deps.nonceOf(this.reader, tx.sender))
    if (tx.nonce < stateNonce) {
      throw new MempoolError(MempoolErrorCode.NONCE_TOO_LOW, `nonce ${tx.nonce} was already used; the sender's next nonce is ${stateNonce}`, {
        hash,
        nonce: tx.nonce,
        expected: stateNonce,
      })
    }
    if (existing?.txs.has(tx.nonce)) {
      throw new MempoolError(MempoolErrorCode.NONCE_TAKEN, `another transaction with nonce ${tx.nonce} from this sender is pending`, {
        hash,
        nonce: tx.nonce,
        pending: existing.txs.get(tx.nonce)!.hash,
      })
    }
    const pending = existing === undefined ? stateNonce : existing.next
    if (tx.nonce - pending > this.options.maxFutureNonces) {
      throw new MempoolError(
        MempoolErrorCode.NONCE_TOO_HIGH,
        `nonce ${tx.nonce} is more than ${this.options.maxFutureNonces} ahead of the sender's next nonce ${pending}`,
        {hash, nonce: tx.nonce, expected: pending},
      )
    }
    if (tx.nonce !== pending) {
      const senderGapped = (existing?.gappedBytes ?? 0) + size
      if (senderGapped > this.options.maxGappedBytesPerSender || this.gappedBytes + size > this.options.maxGappedBytes) {
        const whose = senderGapped > this.options.maxGappedBytesPerSender ? "this sender's" : "the pool's"
        throw new MempoolError(MempoolErrorCode.NONCE_TOO_HIGH, `nonce ${tx.nonce} waits behind a gap at ${pending} and ${whose} gap buffer is full`, {
          hash,
          nonce: tx.nonce,
          expected: pending,
        })
      }
    }
    try {
      await this.deps.checkTx(tx, pending, this.reader)
    } catch (err) {
      if (!isCareLedgerError(err)) throw err
      throw new MempoolError(MempoolErrorCode.REJECTED, err.message, {hash, reason: err.code, ...err.details})
    }
    const executable = tx.nonce === pending
    const victims = this.planEviction(senderId, size, executable)
    for (const victim of victims) this.remove(victim)
    this.counters.evicted += victims.length

    const entry: Entry = {tx, hash, size, seq: this.seq++}
    const queue = existing ?? {id: senderId, sender: tx.sender, stateNonce, next: stateNonce, gappedBytes: 0, txs: new Map<number, Entry>()}
    queue.txs.set(tx.nonce, entry)
    this.senders.set(senderId, queue)
    this.byHash.set(hash, entry)
    this.totalBytes += size
    if (tx.nonce === queue.next) {
      // The tx closes a gap: the txs held behind it join the executable run, in nonce order.
      let released = 0
      for (queue.next++; queue.txs.has(queue.next); queue.next++) released += queue.txs.get(queue.next)!.size
      queue.gappedBytes -= released
      this.gappedBytes -= released
    } else {
      queue.gappedBytes += size
      this.gappedBytes += size
    }
    this.counters.added++
    if (victims.length > 0) this.logger.debug({hash, evicted: victims.length}, "evicted to admit a transaction")
    return {hash, executable, evicted: victims.map((v) => v.hash)}
  }

  /** Which txs must leave for a tx of `size` from `senderId` to fit; throws FULL if the policy allows none. */
  private planEviction(senderId: string, size: number, executable: boolean): Entry[] {
    let count = this.byHash.size + 1
    let bytes = this.totalBytes + size
    const fits = (): boolean => count <= this.options.maxTxs && bytes <= this.options.maxBytes
    if (fits()) return []
    const full = (why: string): MempoolError =>
      new MempoolError(MempoolErrorCode.FULL, `the mempool is full (${this.byHash.size} txs, ${this.totalBytes} bytes): ${why}`, {
        txs: this.byHash.size,
        bytes: this.totalBytes,
      })
    if (!executable) throw full("a transaction behind a nonce gap does not evict others")
    const remaining = new Map<string, Entry[]>()
    for (const [id, queue] of this.senders) {
      remaining.set(id, [...queue.txs.values()].sort((a, b) => a.tx.nonce - b.tx.nonce))
    }
    const newcomerCount = (remaining.get(senderId)?.length ?? 0) + 1
    const victims: Entry[] = []
    // Bounded: each pass removes one tx from the plan's copy.
    while (!fits()) {
      let victimId: string | undefined
      let victimTxs: Entry[] = []
      for (const [id, txs] of remaining) {
        if (id === senderId || txs.length === 0) continue
        const newest = txs[txs.length - 1]!
        const better =
          txs.length > victimTxs.length || (txs.length === victimTxs.length && newest.seq > victimTxs[victimTxs.length - 1]!.seq)
        if (better) {
          victimId = id
          victimTxs = txs
        }
      }
      if (victimId === undefined || victimTxs.length <= newcomerCount) {
        throw full("no sender holds more pending transactions than this one's")
      }
      const victim = victimTxs.pop()!
      victims.push(victim)
      count--
      bytes -= victim.size
    }
    return victims
  }

  /** Why an entry must go after a block, or undefined if it stays. */
  private async recheck(entry: Entry, expected: number, stateNonce: number): Promise<string | undefined> {
    if (entry.tx.nonce < stateNonce) return MempoolErrorCode.NONCE_TOO_LOW
    if (entry.tx.nonce - expected > this.options.maxFutureNonces) return MempoolErrorCode.NONCE_TOO_HIGH
    try {
      await this.deps.checkTx(entry.tx, expected, this.reader)
      return undefined
    } catch (err) {
      if (!isCareLedgerError(err)) throw err
      return err.code
    }
  }

  /** Removes an entry; `refresh: false` when the caller recomputes the sender's run itself right after. */
  private remove(entry: Entry, refresh = true): void {
    this.byHash.delete(entry.hash)
    this.totalBytes -= entry.size
    const queue = this.senders.get(entry.tx.senderId)
    if (queue === undefined) return
    queue.txs.delete(entry.tx.nonce)
    if (queue.txs.size === 0) {
      this.gappedBytes -= queue.gappedBytes
      this.senders.delete(queue.id)
    } else if (entry.tx.nonce < queue.next) {
      if (refresh) this.refresh(queue)
    } else if (entry.tx.nonce > queue.next) {
      queue.gappedBytes -= entry.size
      this.gappedBytes -= entry.size
    }
  }

  /** Recomputes a sender's executable run and gap-buffer bytes from its txs (after its state nonce moved or its run broke). */
  private refresh(queue: SenderQueue): void {
    let next = queue.stateNonce
    while (queue.txs.has(next)) next++
    let gapped = 0
    for (const [nonce, entry] of queue.txs) if (nonce > next) gapped += entry.size
    this.gappedBytes += gapped - queue.gappedBytes
    queue.next = next
    queue.gappedBytes = gapped
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task)
    this.queue = run.catch(() => undefined)
    return run
  }
}

