import {Block, CareLedgerError, decodeCommit, type CommitCertificate} from "@careledger/core"
import {NetworkError, NetworkErrorCode} from "./errors.js"
import {silentLogger, type Logger, type NetworkMetrics} from "./metrics.js"
import type {NetworkHost} from "./host.js"

export interface RangeSyncOptions {
  /** Blocks asked for per request (bounded by the host's `maxBlocksPerRequest`). */
  batchSize: number
}

export interface RangeSyncDependencies {
  host: NetworkHost
  /** Height of the node's last finalized block. */
  localHeight(): number
  /**
   * Verifies a block against the validator set in force at its height and commits it. A
   * `CareLedgerError` means the block or certificate is invalid: the serving peer is penalised.
   */
  importBlock(block: Block, commit: CommitCertificate): Promise<void>
  metrics?: NetworkMetrics
  logger?: Logger
}

export interface SyncResult {
  imported: number
  height: number
}

/**
 * Catches up finalized blocks from peers that report a higher finalized height. It asks the best
 * peer for one batch at a time (so at most one batch is in flight), imports blocks as they arrive,
 * moves to another peer when one drops mid-transfer, and bans a peer that serves a forged block.
 */
export class RangeSync {
  private readonly options: RangeSyncOptions
  private readonly deps: RangeSyncDependencies
  private readonly log: Logger
  private running: Promise<SyncResult> | undefined
  private again = false
  private started = false
  private unsubscribe: (() => void) | undefined
  private abort = new AbortController()
  private serving: string | undefined

  constructor(options: Partial<RangeSyncOptions>, dependencies: RangeSyncDependencies) {
    this.deps = dependencies
    this.log = dependencies.logger ?? silentLogger
    this.options = {batchSize: Math.min(options.batchSize ?? 64, dependencies.host.options.maxBlocksPerRequest)}
    if (this.options.batchSize < 1) throw new NetworkError(NetworkErrorCode.BAD_OPTIONS, "batchSize must be at least 1")
  }

  /** Syncs whenever a peer reports a finalized height above ours. */
  start(): void {
    if (this.started) return
    this.started = true
    this.abort = new AbortController()
    this.unsubscribe = this.deps.host.on("peer:status", ({status}) => {
      if (status.finalizedHeight > this.deps.localHeight()) void this.sync().catch((err: Error) => this.log.warn({err: err.message}, "sync failed"))
    })
    void this.sync().catch((err: Error) => this.log.warn({err: err.message}, "sync failed"))
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.abort.abort()
    await this.running?.catch(() => undefined)
  }

  /** The peer currently serving blocks, if a transfer is running. */
  get servingPeer(): string | undefined {
    return this.serving
  }

  get syncing(): boolean {
    return this.running !== undefined
  }

  /** Runs until no connected peer reports a higher finalized height; concurrent calls share a run. */
  sync(): Promise<SyncResult> {
    if (this.running !== undefined) {
      this.again = true
      return this.running
    }
    this.running = this.loop().finally(() => {
      this.running = undefined
      this.serving = undefined
    })
    return this.running
  }

  private async loop(): Promise<SyncResult> {
    let imported = 0
    // Peers that failed during this run are skipped until a new status arrives.
    const failed = new Set<string>()
    const unsubscribe = this.deps.host.on("peer:status", ({peerId}) => failed.delete(peerId))
    try {
      for (;;) {
        this.again = false
        const local = this.deps.localHeight()
        const peer = this.bestPeer(local, failed)
        if (peer === undefined || !this.deps.host.started || this.abort.signal.aborted) {
          if (this.again) continue
          return {imported, height: local}
        }
        const count = Math.min(this.options.batchSize, peer.finalizedHeight - local)
        const got = await this.fetchBatch(peer.peerId, local + 1, count)
        imported += got.imported
        if (got.failed) failed.add(peer.peerId)
      }
    } finally {
      unsubscribe()
    }
  }

  private bestPeer(local: number, failed: Set<string>): {peerId: string; finalizedHeight: number} | undefined {
    let best: {peerId: string; finalizedHeight: number} | undefined
    for (const [peerId, status] of this.deps.host.peerStatuses()) {
      if (failed.has(peerId) || this.deps.host.isBanned(peerId) || status.finalizedHeight <= local) continue
      if (best === undefined || status.finalizedHeight > best.finalizedHeight) best = {peerId, finalizedHeight: status.finalizedHeight}
    }
    return best
  }

  private async fetchBatch(peerId: string, from: number, count: number): Promise<{imported: number; failed: boolean}> {
    let expected = from
    let imported = 0
    this.serving = peerId
    try {
      for await (const chunk of this.deps.host.requestBlocks(peerId, from, count, this.abort.signal)) {
        let block: Block
        let commit: CommitCertificate
        try {
          block = Block.decode(chunk.block)
          commit = decodeCommit(chunk.commit)
        } catch (err) {
          await this.deps.host.penalise(peerId, `undecodable block ${expected}: ${(err as Error).message}`)
          return {imported, failed: true}
        }
        if (block.height !== expected) {
          await this.deps.host.penalise(peerId, `served height ${block.height} instead of ${expected}`)
          return {imported, failed: true}
        }
        // Consensus may have committed this height meanwhile: nothing to import, nobody to blame.
        if (block.height <= this.deps.localHeight()) {
          expected++
          continue
        }
        try {
          await this.deps.importBlock(block, commit)
        } catch (err) {
          if (block.height <= this.deps.localHeight()) {
            expected++
            continue
          }
          if (err instanceof CareLedgerError) {
            await this.deps.host.penalise(peerId, `forged block ${expected}: ${err.message}`)
            return {imported, failed: true}
          }
          // A local failure (disk, bug) is not the peer's fault: stop and let the node decide.
          throw err
        }
        this.deps.metrics?.syncBlocks?.(1)
        imported++
        expected++
      }
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err
      this.log.info({peerId, from, at: expected, err: err.message}, "block transfer interrupted, trying another peer")
      return {imported, failed: true}
    } finally {
      this.serving = undefined
    }
    // A peer that claimed the blocks but served none of them would otherwise be asked forever.
    return {imported, failed: expected === from}
  }
}
