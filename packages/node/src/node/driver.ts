/** Over 400 lines as one file because the queue, the actions it carries out and the consensus timers share one order of events; its vocabulary is core's (consensus/types.ts). */
import {
  ConsensusMachine,
  buildNextBlock,
  consensusRecordEntries,
  consensusRecordPrefix,
  encodeConsensusFrame,
  peerIdOf,
  recordHeight,
  restoreConsensusRecords,
  toHex,
  validateNextBlock,
  type Block,
  type BlockExecution,
  type ChainStore,
  type CommitCertificate,
  type ConsensusAction,
  type ConsensusMessage,
  type ConsensusOptions,
  type Evidence,
  type Mempool,
  type PrivateKey,
  type Timeout,
} from "@careledger/core"
import type {Logger} from "../logger/index.js"
import type {NodeMetrics} from "../metrics/index.js"
import {NodeError, NodeErrorCode} from "./errors.js"
import type {Startable} from "./startable.js"

export interface TimeoutRecord {
  height: number
  round: number
  step: string
  at: number
}

export interface ConsensusDriverOptions {
  chainId: string
  consensus: Partial<ConsensusOptions>
  /** Most transactions and bytes a proposer puts in one block. */
  maxBlockTxs: number
  maxBlockBytes: number
  /** How often the driver asks peers for their status when it has not committed for a while. */
  statusPollMs: number
  /** Least time between two sync requests prompted by messages of later heights. */
  syncRequestIntervalMs: number
  /** Round timeouts without a finalized block before a stall warning (repeated as often while it lasts). */
  stallWarningRounds: number
  /** Timeouts and evidence kept for consensus_status. */
  keepTimeouts: number
  keepEvidence: number
}

/** What the driver uses of the network host. */
export interface ConsensusNetwork {
  publishConsensus(frame: Uint8Array): Promise<unknown>
  requestStatus(peerId: string): Promise<unknown>
  connectedPeers(): string[]
}

export interface ConsensusDriverDependencies {
  store: ChainStore
  mempool: Mempool
  network: ConsensusNetwork
  /** Null for an observer: it follows with no key and can never sign. */
  key: PrivateKey | null
  /** The key that proposes blocks (the node key, also when it cannot sign votes). */
  proposer: Uint8Array
  metrics: NodeMetrics
  logger: Logger
  /** The node's stop signal: once aborted, queued inputs still run (so waiters settle) but their actions are dropped. */
  signal: AbortSignal
  /** Starts a range sync (after a peer showed it is ahead). */
  requestSync(): void
  /** Called inside the queue after each finalized block is stored and the mempool pruned. */
  onFinalized(block: Block, validatorSetChanged: boolean): Promise<void>
}

/** One queued input to the consensus machine: produces the actions to carry out. */
type MachineInput = () => ConsensusAction[] | Promise<ConsensusAction[]>

/**
 * Drives the pure consensus machine: every consensus input and every block commit (from consensus
 * or from range sync) runs through one queue, so the machine's actions are carried out in order and
 * the store only grows in one place. Also owns the consensus timers and the stalled-node status poll.
 */
export class ConsensusDriver implements Startable {
  readonly timeouts: TimeoutRecord[] = []
  readonly evidence: Evidence[] = []
  private machineRef: ConsensusMachine | null = null
  private queue: Promise<void> = Promise.resolve()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly executions = new Map<string, BlockExecution>()
  private lastRound = 0
  /** The block-interval timer of the current height while it has not fired (see `onTxsAvailable`). */
  private interval: Timeout | null = null
  private lastSyncRequestAt = 0
  private lastStallWarningAt = 0
  private lastCommitAt = Date.now()
  private started = false
  private stopped = false

  constructor(
    private readonly options: ConsensusDriverOptions,
    private readonly deps: ConsensusDriverDependencies,
  ) {}

  get machine(): ConsensusMachine {
    if (this.machineRef === null) throw new NodeError(NodeErrorCode.NOT_STARTED, "the node is not started")
    return this.machineRef
  }

  /**
   * Whether `signer` votes at the current height or, at a set change, at the next one (the set a
   * validated proposal of this height installs). Anyone else is not a member here.
   */
  isMember(signer: Uint8Array): boolean {
    const hex = toHex(signer)
    if (this.deps.store.validators().some((v) => toHex(v) === hex)) return true
    for (const execution of this.executions.values()) if (execution.validators.some((v) => toHex(v) === hex)) return true
    return false
  }

  /** The highest round the machine reached at the current height (for the status line). */
  get round(): number {
    return this.lastRound
  }

  private get halted(): boolean {
    return this.stopped || this.deps.signal.aborted
  }

  /** Builds the machine from the store's head and the consensus records of the next height. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const store = this.deps.store
    const height = store.head().height + 1
    // Throws (and so stops the node) on a record it cannot read: skipping one could make it sign twice.
    const records = restoreConsensusRecords(await store.readConsensusRecords(consensusRecordPrefix(height)))
    this.machineRef = new ConsensusMachine(this.options.consensus, {
      snapshot: {chainId: this.options.chainId, height, validators: store.validators(), records},
      key: this.deps.key,
    })
    void this.enqueue(() => this.machine.start())
    this.every(this.options.statusPollMs, () => this.pollStatus())
    this.every(this.machine.options.roundTimeoutMs, () => this.warnIfStalled())
  }

  /** Clears the timers and lets a commit in flight finish, so the store closes on a block boundary. */
  async stop(): Promise<void> {
    if (!this.started || this.stopped) return
    this.stopped = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    await this.queue.catch(() => undefined)
  }

  // ---- inputs ----

  /** A verified consensus message from gossip. */
  onMessage(message: ConsensusMessage): void {
    void this.enqueue(() => {
      try {
        return this.machine.onMessage(message)
      } catch (err) {
        this.deps.logger.debug({err: (err as Error).message}, "consensus message refused")
        return []
      }
    })
  }

  /**
   * New transactions wait in the mempool: a height that idles without empty blocks starts, and the
   * block interval ends at once. The interval only spaces blocks while there is nothing to put in
   * them; with work waiting the proposer proposes without waiting it out. This is the machine's own
   * interval timer firing early, which any timing of timers allows, so safety is unaffected.
   */
  onTxsAvailable(): void {
    void this.enqueue(() => [...this.machine.onTxsAvailable(), ...this.endInterval()])
  }

  /** Delivers the pending block-interval timeout now, when executable transactions wait. */
  private endInterval(): ConsensusAction[] {
    const interval = this.interval
    if (interval === null || !this.deps.mempool.hasExecutable) return []
    this.interval = null
    return this.machine.onTimeout(interval)
  }

  /** Range sync hands finalized blocks here; they go through the same queue as consensus commits. */
  importBlock(block: Block, commit: CommitCertificate): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      void this.enqueue(async () => {
        try {
          if (this.halted) throw new NodeError(NodeErrorCode.STOPPED, "the node is stopping")
          const store = this.deps.store
          if (block.height <= store.head().height) {
            resolve()
            return []
          }
          const execution = await validateNextBlock(store, block)
          await this.commit(block, commit, execution)
          resolve()
          const actions = this.machine.onFinalizedElsewhere(block, commit, execution.validators)
          return this.deps.mempool.hasExecutable ? [...actions, ...this.machine.onTxsAvailable(), ...this.endInterval()] : actions
        } catch (err) {
          reject(err)
          return []
        }
      })
    })
  }

  // ---- the queue ----

  /**
   * Queues an input; its actions (and the inputs they lead to) run before the next input. After
   * stop() inputs still run (so waiters settle) but their actions are dropped.
   */
  private enqueue(input: MachineInput): Promise<void> {
    const run = this.queue.then(async () => {
      await this.runActions(await input())
    })
    this.queue = run.catch((err: unknown) => {
      this.deps.logger.error({err}, "consensus input failed")
    })
    return this.queue
  }

  private async runActions(actions: ConsensusAction[]): Promise<void> {
    for (const action of actions) {
      if (this.halted) return
      await this.perform(action)
    }
  }

  private async perform(action: ConsensusAction): Promise<void> {
    const machine = this.machine
    const {store, mempool, network, metrics, logger} = this.deps
    if (logger.isLevelEnabled("debug")) logger.debug(describeAction(action), "consensus action")
    switch (action.type) {
      case "broadcast":
        void network.publishConsensus(encodeConsensusFrame(action.message, action.retransmit ? Date.now() : 0)).catch((err: Error) => {
          logger.debug({err: err.message}, "consensus message not published")
        })
        return
      case "persist":
        await store.putConsensusRecords(consensusRecordEntries(action.record))
        return
      case "schedule-timeout": {
        const timeout: Timeout = {height: action.height, round: action.round, step: action.step}
        if (timeout.step === "interval") {
          this.interval = timeout
          // Work already waits (a full pool after a commit): no spacing.
          if (this.deps.mempool.hasExecutable) {
            await this.runActions(this.endInterval())
            return
          }
        }
        this.after(action.delayMs, () => {
          if (timeout.step === "interval") {
            if (this.interval !== timeout) return
            this.interval = null
          }
          const now = machine.status
          // Timers of heights and rounds already decided fire harmlessly; only live ones are worth reporting.
          const live = now.height === timeout.height && now.round === timeout.round && now.step !== "committed"
          if (live && (timeout.step === "propose" || timeout.step === "prevote" || timeout.step === "precommit")) {
            metrics.consensusTimeouts.inc()
            this.timeouts.push({...timeout, at: Date.now()})
            if (this.timeouts.length > this.options.keepTimeouts) this.timeouts.shift()
          }
          void this.enqueue(() => {
            const actions = machine.onTimeout(timeout)
            this.noteRound()
            return actions
          })
        })
        return
      }
      case "build-proposal": {
        const block = await this.buildProposal(action.round)
        await this.runActions(machine.onProposalBuilt(block))
        return
      }
      case "validate-block": {
        let ok = true
        try {
          this.executions.set(action.block.hashHex(), await validateNextBlock(store, action.block, {now: Date.now()}))
        } catch (err) {
          ok = false
          logger.warn({height: action.block.height, err: (err as Error).message}, "proposed block is invalid")
        }
        await this.runActions(machine.onBlockValidated(action.block.hash(), ok))
        return
      }
      case "commit": {
        const execution = this.executions.get(action.block.hashHex()) ?? (await validateNextBlock(store, action.block))
        await this.commit(action.block, action.certificate, execution)
        await this.runActions(machine.onCommitApplied(execution.validators))
        this.noteRound()
        // Without empty blocks a new height idles until told of transactions; some may already wait.
        if (mempool.hasExecutable) await this.runActions(machine.onTxsAvailable())
        return
      }
      case "evidence":
        logger.warn({validator: toHex(action.evidence.validator), height: action.evidence.height, kind: action.evidence.kind}, "equivocation")
        this.evidence.push(action.evidence)
        if (this.evidence.length > this.options.keepEvidence) this.evidence.shift()
        return
      case "request-sync": {
        // Every message of a later height asks for this; one status request per interval is plenty.
        const now = Date.now()
        if (now - this.lastSyncRequestAt < this.options.syncRequestIntervalMs) return
        this.lastSyncRequestAt = now
        const peerId = peerIdOf(action.peer)
        void network
          .requestStatus(peerId)
          .then(() => this.deps.requestSync())
          .catch((err: Error) => logger.debug({peerId, err: err.message}, "status request for sync failed"))
        return
      }
      case "peer-behind":
        // The peer catches up by range sync once it hears our status; nothing to push.
        return
    }
  }

  private noteRound(): void {
    const round = this.machine.status.round
    if (round > this.lastRound) this.deps.metrics.roundChanges.inc(round - this.lastRound)
    this.deps.metrics.round.set(round)
    this.lastRound = round
  }

  /** The machine asks for the height after our head (commits and builds share one queue), so only the round is ours to pass. */
  private async buildProposal(round: number): Promise<Block> {
    const {store, mempool} = this.deps
    const {block, execution} = await buildNextBlock(store, mempool, {
      round,
      proposer: this.deps.proposer,
      now: Date.now(),
      maxTxs: this.options.maxBlockTxs,
      maxBytes: this.options.maxBlockBytes,
    })
    this.executions.set(block.hashHex(), execution)
    return block
  }

  /** Stores a finalized block, prunes the mempool and tells the node; runs inside the queue. */
  private async commit(block: Block, certificate: CommitCertificate, execution: BlockExecution): Promise<void> {
    const {store, mempool, metrics} = this.deps
    const before = store.validators().map(toHex).join()
    await store.commitBlock(block, certificate, execution)
    // Queue the mempool's pruning before anything else can run: a client that sees the block's txs
    // final and sends one again must meet the new state, not the old pending entry.
    const pruned = mempool.onBlockCommitted(block, store.state())
    this.executions.clear()
    this.lastCommitAt = Date.now()
    await store.deleteConsensusRecords(consensusRecordPrefix(block.height)).catch(() => 0)
    await pruned
    metrics.blockFinalized(block.height, block.txs.length)
    metrics.finalizedBlockTime(block.header.timestamp)
    metrics.mempoolTxs.set(mempool.size)
    metrics.mempoolBytes.set(mempool.bytes)
    await this.deps.onFinalized(block, store.validators().map(toHex).join() !== before)
  }

  // ---- timers ----

  /** Asks peers for their status when nothing was committed for a while, so a stalled node finds out it is behind. */
  private pollStatus(): void {
    if (Date.now() - this.lastCommitAt < this.options.statusPollMs) return
    for (const peerId of this.deps.network.connectedPeers()) {
      void this.deps.network.requestStatus(peerId).catch(() => undefined)
    }
  }

  /**
   * A chain that finalizes nothing is otherwise silent: after `stallWarningRounds` round timeouts
   * without a block, warn (and again as often) with the round, the connected peers and whose votes
   * the round still lacks. An idle height (no empty blocks, nothing to propose) is not a stall.
   */
  private warnIfStalled(): void {
    const now = Date.now()
    const limit = this.options.stallWarningRounds * this.machine.options.roundTimeoutMs
    const status = this.machine.status
    if (status.step === "idle" || now - this.lastCommitAt < limit || now - this.lastStallWarningAt < limit) return
    this.lastStallWarningAt = now
    const missing = this.machine.missingVotes()
    const short = (keys: string[]): string[] => keys.map((k) => k.slice(0, 16))
    this.deps.logger.warn(
      {
        height: status.height,
        round: status.round,
        step: status.step,
        sinceLastBlockMs: now - this.lastCommitAt,
        connected: this.deps.network.connectedPeers(),
        missingPrevotes: short(missing.prevotes),
        missingPrecommits: short(missing.precommits),
      },
      `no block finalized for ${Math.round((now - this.lastCommitAt) / 1000)} s (${this.options.stallWarningRounds}+ round timeouts): the chain is stalled`,
    )
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.halted) fn()
    }, ms)
    this.timers.add(timer)
  }

  private every(ms: number, fn: () => void): void {
    this.after(ms, () => {
      fn()
      this.every(ms, fn)
    })
  }
}

function describeAction(action: ConsensusAction): Record<string, unknown> {
  switch (action.type) {
    case "broadcast":
      return {action: action.type, message: action.message.type === "proposal" ? "proposal" : action.message.kind, height: action.message.height, round: action.message.round}
    case "persist":
      return {action: action.type, record: action.record.type, height: recordHeight(action.record)}
    case "schedule-timeout":
      return {action: action.type, step: action.step, height: action.height, round: action.round, delayMs: action.delayMs}
    case "build-proposal":
      return {action: action.type, height: action.height, round: action.round}
    case "validate-block":
    case "commit":
      return {action: action.type, height: action.block.height, round: action.block.header.round}
    case "evidence":
      return {action: action.type, height: action.evidence.height}
    case "request-sync":
    case "peer-behind":
      return {action: action.type, height: action.height, peer: toHex(action.peer).slice(0, 12)}
  }
}
