import {readFileSync} from "node:fs"
import {join} from "node:path"
import {
  Block,
  ChainStore,
  ConsensusMachine,
  Mempool,
  Transaction,
  TxType,
  decode,
  decodeConsensusMessage,
  encode,
  decodeConsensusRecord,
  encodeCommit,
  encodeConsensusMessage,
  encodeConsensusRecord,
  fromHex,
  executeBlock,
  genesisBlock,
  genesisExecution,
  getNextNonce,
  isCareLedgerError,
  listHospitals,
  parseGenesis,
  peerIdOf,
  recordHeight,
  selectExecutable,
  stateMempoolChecks,
  toHex,
  verifyConsensusMessage,
  type BlockExecution,
  type CommitCertificate,
  type ConsensusAction,
  type ConsensusMessage,
  type ConsensusRecord,
  type Evidence,
  type Genesis,
  type HospitalRecord,
  type PrivateKey,
  type Timeout,
  validatorsHashOf,
} from "@careledger/core"
import {NetworkHost, RangeSync, bootstrapAddress, type BlockWithCommit, type ChainStatus, type GossipHandlers} from "@careledger/network"
import type {Logger} from "pino"
import {NodeConfigError, NodeConfigErrorCode, type NodeConfig} from "../config/index.js"
import {loadOrCreateNodeKey} from "../keystore/index.js"
import {moduleLogger} from "../logger/index.js"
import {MetricsServer, NodeMetrics, StatusLog, defaultStatusLogOptions} from "../metrics/index.js"
import {HeadFeed, RpcServer, TokenStore, defaultRpcServerOptions, isLoopback, joinNamespaces, type RpcNamespace} from "../rpc/index.js"
import {NodeError, NodeErrorCode} from "./errors.js"
import {defaultNodeTuning, type NodeTuning} from "./options.js"
import {validateNextBlock} from "./validate.js"
import {coreNamespaces} from "../rpc/core.js"



export interface NodeDependencies {
  logger: Logger
  /** Namespaces beyond the core ones (health data); built once the node's parts exist. */
  extraNamespaces?: (node: CareLedgerNode) => RpcNamespace[]
  /** Answers record-exchange requests from other hospitals (the health service); `from` is the peer ID. */
  recordHandler?: (request: Uint8Array, from: string) => Promise<Uint8Array>
  /** Defaults to `<dataDir>/node.key`, created on first start. */
  key?: PrivateKey
}

export interface TimeoutRecord {
  height: number
  round: number
  step: string
  at: number
}

/** One queued input to the consensus machine: produces the actions to carry out. */
type MachineInput = () => ConsensusAction[] | Promise<ConsensusAction[]>

/**
 * One hospital's node: the chain store, mempool, consensus machine and libp2p host wired together,
 * with JSON-RPC and metrics on top. Every consensus input and every block commit runs through one
 * queue, so the machine's actions are carried out in order and the store only grows in one place.
 */
export class CareLedgerNode {
  readonly config: NodeConfig
  readonly tuning: NodeTuning
  readonly key: PrivateKey
  readonly genesis: Genesis
  readonly logger: Logger
  readonly metrics: NodeMetrics
  readonly feed = new HeadFeed()
  readonly timeouts: TimeoutRecord[] = []
  readonly evidence: Evidence[] = []

  private readonly deps: NodeDependencies
  private readonly consensusLog: Logger
  /** The node's own events (start, blocks, stop); subsystems get their own children of the root logger. */
  private readonly nodeLog: Logger
  private storeRef: ChainStore | null = null
  private mempoolRef: Mempool | null = null
  private hostRef: NetworkHost | null = null
  private sync: RangeSync | null = null
  private machineRef: ConsensusMachine | null = null
  private rpc: RpcServer | null = null
  private metricsServer: MetricsServer | null = null
  private statusLog: StatusLog | null = null
  private readonly abort = new AbortController()
  private readonly timers = new Set<NodeJS.Timeout>()
  private queue: Promise<void> = Promise.resolve()
  private readonly executions = new Map<string, BlockExecution>()
  private recordSeq = 0
  private lastRound = 0
  private lastCommitAt = Date.now()
  private hospitals: HospitalRecord[] = []
  private started = false
  private stopping = false

  constructor(config: NodeConfig, deps: NodeDependencies, tuning: Partial<NodeTuning> = {}) {
    this.config = config
    this.deps = deps
    this.tuning = {...defaultNodeTuning, ...tuning}
    this.logger = deps.logger
    this.consensusLog = moduleLogger(deps.logger, "consensus")
    this.nodeLog = moduleLogger(deps.logger, "node")
    this.key = deps.key ?? loadOrCreateNodeKey(config.dataDir).key
    this.genesis = readGenesis(config)
    // Refuse an unsafe or broken RPC setup before anything opens, not after the node joined the network.
    if (config.rpcTokens === null && !isLoopback(config.rpcHost)) {
      throw new NodeConfigError(
        NodeConfigErrorCode.AUTH_REQUIRED,
        `RPC host ${config.rpcHost} is not loopback: set a tokens file (--rpc-tokens) so callers must authenticate`,
      )
    }
    if (config.rpcTokens !== null) TokenStore.fromFile(config.rpcTokens)
    this.metrics = new NodeMetrics()
  }

  // ---- accessors the RPC namespaces use ----

  get store(): ChainStore {
    if (this.storeRef === null) throw new NodeError(NodeErrorCode.NOT_STARTED, "the node is not started")
    return this.storeRef
  }

  get mempool(): Mempool {
    if (this.mempoolRef === null) throw new NodeError(NodeErrorCode.NOT_STARTED, "the node is not started")
    return this.mempoolRef
  }

  get network(): NetworkHost {
    if (this.hostRef === null) throw new NodeError(NodeErrorCode.NOT_STARTED, "the node is not started")
    return this.hostRef
  }

  get machine(): ConsensusMachine {
    if (this.machineRef === null) throw new NodeError(NodeErrorCode.NOT_STARTED, "the node is not started")
    return this.machineRef
  }

  get chainId(): string {
    return this.genesis.chainId
  }

  get rpcUrl(): string | null {
    return this.rpc?.url ?? null
  }

  get metricsUrl(): string | null {
    return this.metricsServer?.url ?? null
  }

  /** The hospitals known to state (refreshed after each block). */
  get knownHospitals(): readonly HospitalRecord[] {
    return this.hospitals
  }

  /** True while this node's key is in the validator set for the next height and it is not an observer. */
  get isValidator(): boolean {
    return !this.config.observer && this.storeRef !== null && this.store.validators().some((v) => toHex(v) === this.key.id)
  }

  /** Peer id of each known hospital, by hospital id (the node key is the libp2p key). */
  private hospitalPeerIds(): Map<string, string> {
    return new Map(this.hospitals.map((h) => [h.id, peerIdOf(fromHex(h.key)!)]))
  }

  /** Connected peers counted per hospital id; a connected peer no hospital owns counts as "unknown". */
  private peersByHospital(): Map<string, number> {
    const byPeer = new Map([...this.hospitalPeerIds()].map(([id, peerId]) => [peerId, id]))
    const counts = new Map<string, number>()
    for (const peerId of this.network.connectedPeers()) {
      const hospital = byPeer.get(peerId) ?? "unknown"
      counts.set(hospital, (counts.get(hospital) ?? 0) + 1)
    }
    return counts
  }

  /** How far the best finalized height a peer announced is above ours. */
  blocksBehind(): number {
    if (this.storeRef === null || this.hostRef === null) return 0
    const local = this.store.head().height
    let best = local
    for (const status of this.network.peerStatuses().values()) best = Math.max(best, status.finalizedHeight)
    return best - local
  }

  get syncing(): boolean {
    if (this.sync?.syncing === true) return true
    if (this.hostRef === null || this.storeRef === null) return true
    const local = this.store.head().height
    for (const status of this.network.peerStatuses().values()) if (status.finalizedHeight > local + 1) return true
    return false
  }

  // ---- lifecycle ----

  /** Opens the store, then starts network, sync, consensus, RPC and metrics, in that order. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const log = this.logger
    const store = await ChainStore.open({dir: join(this.config.dataDir, "chain"), logger: log})
    this.storeRef = store
    const execution = genesisExecution(this.genesis)
    await store.initialize(this.genesis, genesisBlock(this.genesis, execution), execution)
    this.hospitals = await listHospitals(store.state())
    const head = store.head()
    this.metrics.blockFinalized(head.height, 0)
    this.nodeLog.info({chainId: this.chainId, height: head.height, key: this.key.id, peerId: this.key.peerId}, "chain store open")

    this.mempoolRef = new Mempool(this.tuning.mempool, {
      chainId: this.chainId,
      reader: store.state(),
      ...stateMempoolChecks(this.chainId, {nextHeight: () => store.head().height + 1, now: () => Date.now()}),
      logger: moduleLogger(log, "mempool"),
    })

    const members = this.memberKeys()
    this.hostRef = new NetworkHost(
      {
        ...this.tuning.network,
        chainId: this.chainId,
        listen: this.config.listen,
        announce: this.config.announce,
        bootstrap: this.config.bootstrap.map((entry) => bootstrapAddress(entry, (id) => this.hospitalPeerIds().get(id))),
        members: members.validators,
        observers: members.observers,
      },
      {
        privateKey: this.key,
        gossipHandlers: this.gossipHandlers(),
        getStatus: () => this.status(),
        readBlocks: (from, count) => this.readBlocks(from, count),
        ...(this.deps.recordHandler === undefined ? {} : {recordHandler: this.deps.recordHandler}),
        metrics: this.metrics.networkHooks(),
        logger: moduleLogger(log, "network"),
      },
    )
    await this.network.start()
    this.metrics.observe({
      validatorCount: () => (this.storeRef === null ? 0 : this.store.validators().length),
      isValidator: () => this.isValidator,
      peersByHospital: () => this.peersByHospital(),
    })

    this.sync = new RangeSync(
      {},
      {
        host: this.network,
        localHeight: () => store.head().height,
        importBlock: (block, commit) => this.importBlock(block, commit),
        metrics: this.metrics.networkHooks(),
        logger: moduleLogger(log, "sync"),
      },
    )
    this.sync.start()

    await this.startConsensus()

    const namespaces = [...coreNamespaces(this), ...(this.deps.extraNamespaces?.(this) ?? [])]
    this.rpc = new RpcServer(
      {
        ...defaultRpcServerOptions,
        host: this.config.rpcHost,
        port: this.config.rpcPort,
        tokensFile: this.config.rpcTokens,
        maxBodyBytes: this.config.rpcMaxBodyBytes,
        maxBatch: this.config.rpcMaxBatch,
      },
      {methods: joinNamespaces(...namespaces), logger: moduleLogger(log, "rpc"), feed: this.feed, observer: this.metrics},
    )
    await this.rpc.start()
    if (this.config.metrics) {
      this.metricsServer = new MetricsServer(
        {host: this.config.metricsHost, port: this.config.metricsPort},
        {
          metrics: this.metrics,
          logger: moduleLogger(log, "metrics"),
          probe: {storeOpen: () => this.storeRef !== null && !this.stopping, synced: () => !this.syncing, peerCount: () => this.network.connectedPeers().length, blocksBehind: () => this.blocksBehind()},
        },
      )
      await this.metricsServer.start()
    }
    this.every(this.tuning.statusPollMs, () => this.pollStatus())
    this.statusLog = new StatusLog(defaultStatusLogOptions, {
      metrics: this.metrics,
      logger: this.nodeLog,
      source: {peers: () => this.network.connectedPeers().length, mempoolTxs: () => this.mempool.size, round: () => this.lastRound},
    })
    this.statusLog.start()
    this.nodeLog.info({rpc: this.rpcUrl, metrics: this.metricsUrl, listen: this.network.addresses(), validator: this.isValidator}, "node started")
  }

  /** Stops in reverse order; safe to call twice. */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return
    this.stopping = true
    this.abort.abort()
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.statusLog?.stop()
    // Each step is bounded so one stuck part cannot keep the process from exiting; the store's own
    // batches are atomic, so closing it late or not at all never leaves a half-written block.
    await this.within("metrics", this.metricsServer?.stop())
    await this.within("rpc", this.rpc?.stop())
    await this.within("sync", this.sync?.stop())
    // Let a commit in flight finish so the store closes on a block boundary.
    await this.within("consensus queue", this.queue.catch(() => undefined))
    await this.within("network", this.hostRef?.stop())
    await this.within("store", this.storeRef?.close())
    this.nodeLog.info("node stopped")
  }

  private async within(part: string, stopping: Promise<unknown> | undefined, ms = 5000): Promise<void> {
    if (stopping === undefined) return
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)))
    const outcome = await Promise.race([stopping.then(() => "done" as const, (err: unknown) => err), late])
    clearTimeout(timer)
    if (outcome === "late") this.nodeLog.warn({part, ms}, "part did not stop in time; going on")
    else if (outcome !== "done") this.nodeLog.warn({part, err: (outcome as Error).message}, "part failed to stop cleanly")
  }

  // ---- consensus driver ----

  private async startConsensus(): Promise<void> {
    const store = this.store
    const height = store.head().height + 1
    const records: ConsensusRecord[] = []
    for (const {value} of await store.listConsensusRecords(recordPrefix(height), 10_000)) {
      try {
        records.push(decodeConsensusRecord(value))
      } catch (err) {
        this.consensusLog.warn({err: (err as Error).message}, "skipping an unreadable consensus record")
      }
    }
    this.recordSeq = records.length
    const consensus = this.genesis.consensus
    this.machineRef = new ConsensusMachine(
      {
        blockIntervalMs: this.config.blockIntervalMs ?? consensus.blockIntervalMs,
        roundTimeoutMs: consensus.roundTimeoutMs,
        emptyBlocks: consensus.emptyBlocks,
        ...this.tuning.consensus,
      },
      {
        snapshot: {chainId: this.chainId, height, validators: store.validators(), records},
        // An observer follows with no key: it can never sign, even if its key is a validator.
        key: this.config.observer ? null : this.key,
      },
    )
    this.enqueue(() => this.machine.start())
  }

  /**
   * Queues an input; its actions (and the inputs they lead to) run before the next input. After
   * stop() inputs still run (so waiters settle) but their actions are dropped.
   */
  private enqueue(input: MachineInput): Promise<void> {
    const run = this.queue.then(async () => {
      const actions = await input()
      for (const action of actions) {
        if (this.abort.signal.aborted) return
        await this.perform(action)
      }
    })
    this.queue = run.catch((err: unknown) => {
      this.consensusLog.error({err}, "consensus input failed")
    })
    return this.queue
  }

  private async perform(action: ConsensusAction): Promise<void> {
    const machine = this.machine
    if (this.consensusLog.isLevelEnabled("debug")) this.consensusLog.debug(describeAction(action), "consensus action")
    switch (action.type) {
      case "broadcast":
        void this.network.publishConsensus(encodeConsensusFrame(action.message, action.retransmit ? Date.now() : 0)).catch((err: Error) => {
          this.consensusLog.debug({err: err.message}, "consensus message not published")
        })
        return
      case "persist": {
        const height = recordHeight(action.record)
        await this.store.putConsensusRecord(`${recordPrefix(height)}${String(this.recordSeq++).padStart(8, "0")}`, encodeConsensusRecord(action.record))
        return
      }
      case "schedule-timeout": {
        const timeout: Timeout = {height: action.height, round: action.round, step: action.step}
        this.after(action.delayMs, () => {
          const now = machine.status
          // Timers of heights and rounds already decided fire harmlessly; only live ones are worth reporting.
          const live = now.height === timeout.height && now.round === timeout.round && now.step !== "committed"
          if (live && (timeout.step === "propose" || timeout.step === "prevote" || timeout.step === "precommit")) {
            this.metrics.consensusTimeouts.inc()
            this.timeouts.push({...timeout, at: Date.now()})
            if (this.timeouts.length > this.tuning.keepTimeouts) this.timeouts.shift()
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
        const block = await this.buildProposal(action.height, action.round)
        await this.runActions(machine.onProposalBuilt(block))
        return
      }
      case "validate-block": {
        let ok = true
        try {
          this.executions.set(action.block.hashHex(), await validateNextBlock(this.store, action.block, {now: Date.now()}))
        } catch (err) {
          ok = false
          this.consensusLog.warn({height: action.block.height, err: (err as Error).message}, "proposed block is invalid")
        }
        await this.runActions(machine.onBlockValidated(action.block.hash(), ok))
        return
      }
      case "commit": {
        const execution = this.executions.get(action.block.hashHex()) ?? (await validateNextBlock(this.store, action.block))
        await this.commit(action.block, action.certificate, execution)
        await this.runActions(machine.onCommitApplied(execution.validators))
        this.noteRound()
        // Without empty blocks a new height idles until told of transactions; some may already wait.
        if (this.mempool.size > 0) await this.runActions(machine.onTxsAvailable())
        return
      }
      case "evidence":
        this.consensusLog.warn({validator: toHex(action.evidence.validator), height: action.evidence.height, kind: action.evidence.kind}, "equivocation")
        this.evidence.push(action.evidence)
        if (this.evidence.length > this.tuning.keepEvidence) this.evidence.shift()
        return
      case "request-sync": {
        const peerId = peerIdOf(action.peer)
        void this.network
          .requestStatus(peerId)
          .then(() => this.sync?.sync())
          .catch((err: Error) => this.consensusLog.debug({peerId, err: err.message}, "status request for sync failed"))
        return
      }
      case "peer-behind":
        // The peer catches up by range sync once it hears our status; nothing to push.
        return
    }
  }

  private async runActions(actions: ConsensusAction[]): Promise<void> {
    for (const action of actions) {
      if (this.abort.signal.aborted) return
      await this.perform(action)
    }
  }

  private noteRound(): void {
    const round = this.machine.status.round
    if (round > this.lastRound) this.metrics.roundChanges.inc(round - this.lastRound)
    this.metrics.round.set(round)
    this.lastRound = round
  }

  private async buildProposal(height: number, round: number): Promise<Block> {
    const store = this.store
    const head = store.head()
    const timestamp = Math.max(Date.now(), head.header.timestamp + 1)
    const ctx = {chainId: this.chainId, height, timestamp, parentStateRoot: head.header.stateRoot}
    const candidates = this.mempool.reap(this.tuning.maxBlockTxs, this.tuning.maxBlockBytes)
    const {txs} = await selectExecutable(store.state(), ctx, candidates)
    const execution = await executeBlock(store.state(), ctx, txs, {verifySignatures: false})
    const lastCommit = height > 1 ? ((await store.getCommit(height - 1)) ?? null) : null
    const block = Block.create(
      {
        chainId: this.chainId,
        height,
        round,
        parentHash: head.hash,
        timestamp,
        proposer: this.key.publicKey,
        stateRoot: execution.stateRoot,
        validatorsHash: validatorsHashOfSet(store.validatorsAt(height)),
        lastCommit,
      },
      txs,
    )
    this.executions.set(block.hashHex(), execution)
    return block
  }

  /** Stores a finalized block and tells everyone who cares; runs inside the queue. */
  private async commit(block: Block, certificate: CommitCertificate, execution: BlockExecution): Promise<void> {
    const store = this.store
    const before = store.validators().map(toHex).join()
    await store.commitBlock(block, certificate, execution)
    this.executions.clear()
    this.lastCommitAt = Date.now()
    await store.deleteConsensusRecords(recordPrefix(block.height)).catch(() => 0)
    this.recordSeq = 0
    await this.mempool.onBlockCommitted(block, store.state())
    this.metrics.blockFinalized(block.height, block.txs.length)
    this.metrics.mempoolTxs.set(this.mempool.size)
    this.metrics.mempoolBytes.set(this.mempool.bytes)
    this.hospitals = await listHospitals(store.state())
    if (store.validators().map(toHex).join() !== before) {
      const members = this.memberKeys()
      this.nodeLog.info({validators: members.validators.length}, "validator set changed")
      await this.network.setMembers(members.validators)
      await this.network.setObservers(members.observers)
    }
    const head = {
      height: block.height,
      hash: block.hashHex(),
      finalizedHeight: block.height,
      finalizedHash: block.hashHex(),
      timestamp: block.header.timestamp,
      txs: block.txs.length,
    }
    this.feed.publish("newHeads", head)
    this.feed.publish("finalized", head)
    // An idle chain finalizes an empty block a second: those go to debug so the log shows activity.
    const fields = {height: block.height, txs: block.txs.length, round: block.header.round, hash: head.hash.slice(0, 16)}
    if (block.txs.length > 0 || block.header.round > 0) this.nodeLog.info(fields, "finalized block")
    else this.nodeLog.debug(fields, "finalized block")
  }

  /** Range sync hands finalized blocks here; they go through the same queue as consensus commits. */
  private importBlock(block: Block, commit: CommitCertificate): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      void this.enqueue(async () => {
        try {
          if (this.abort.signal.aborted) throw new NodeError(NodeErrorCode.STOPPED, "the node is stopping")
          const head = this.store.head().height
          if (block.height <= head) {
            resolve()
            return []
          }
          const execution = await validateNextBlock(this.store, block)
          await this.commit(block, commit, execution)
          resolve()
          const actions = this.machine.onFinalizedElsewhere(block, commit, execution.validators)
          return this.mempool.size > 0 ? [...actions, ...this.machine.onTxsAvailable()] : actions
        } catch (err) {
          reject(err)
          return []
        }
      })
    })
  }

  // ---- transactions ----

  /** Admits a transaction to the mempool and gossips it. Throws the mempool's typed error. */
  async submitTx(tx: Transaction): Promise<string> {
    const result = await this.mempool.add(tx)
    this.metrics.mempoolTxs.set(this.mempool.size)
    this.metrics.mempoolBytes.set(this.mempool.bytes)
    try {
      this.network.publishTxs([tx])
    } catch (err) {
      // The tx is pending here and will be proposed or re-gossiped; a full gossip queue is not its failure.
      this.nodeLog.warn({err: (err as Error).message}, "tx not gossiped")
    }
    void this.enqueue(() => this.machine.onTxsAvailable())
    return result.hash
  }

  /** The nonce the account's next transaction should carry, counting its pending ones. */
  async nextNonce(account: string): Promise<number> {
    const committed = await getNextNonce(this.store.state(), account)
    return Math.max(committed, this.mempool.pendingNonce(account) ?? 0)
  }

  /** Signs and submits a validator vote with the node key. */
  async proposeValidator(payload: {action: "add" | "remove"; hospital: string; key: Uint8Array; name: string}): Promise<string> {
    if (!this.isValidator) {
      throw new NodeError(NodeErrorCode.NOT_A_VALIDATOR, "only a validator node can vote on the validator set")
    }
    const tx = Transaction.sign({chainId: this.chainId, type: TxType.ValidatorVote, nonce: await this.nextNonce(this.key.id), payload}, this.key)
    return this.submitTx(tx)
  }

  // ---- network glue ----

  private gossipHandlers(): GossipHandlers {
    return {
      tx: async (txs) => {
        let added = 0
        for (const tx of txs) {
          try {
            await this.mempool.add(tx)
            added++
          } catch (err) {
            if (!isCareLedgerError(err)) throw err
          }
        }
        if (added > 0) {
          this.metrics.mempoolTxs.set(this.mempool.size)
          this.metrics.mempoolBytes.set(this.mempool.bytes)
          void this.enqueue(() => this.machine.onTxsAvailable())
        }
        return added > 0 ? "accept" : "ignore"
      },
      consensus: async (bytes) => {
        let message: ConsensusMessage
        try {
          message = decodeConsensusFrame(bytes)
          verifyConsensusMessage(message, this.chainId)
        } catch {
          return "reject"
        }
        void this.enqueue(() => {
          try {
            return this.machine.onMessage(message)
          } catch (err) {
            this.consensusLog.debug({err: (err as Error).message}, "consensus message refused")
            return []
          }
        })
        return "accept"
      },
    }
  }

  private status(): ChainStatus {
    const head = this.store.head()
    return {headHeight: head.height, headHash: head.hash, finalizedHeight: head.height, finalizedHash: head.hash}
  }

  private async *readBlocks(from: number, count: number): AsyncIterable<BlockWithCommit> {
    const store = this.store
    const last = Math.min(from + count - 1, store.head().height)
    for (let height = Math.max(from, 1); height <= last; height++) {
      const block = await store.getBlock(height)
      const commit = await store.getCommit(height)
      if (block === undefined || commit === undefined) return
      yield {block: block.serialize(), commit: encodeCommit(commit)}
    }
  }

  /** Asks peers for their status when nothing was committed for a while, so a stalled node finds out it is behind. */
  private pollStatus(): void {
    if (this.hostRef === null || Date.now() - this.lastCommitAt < this.tuning.statusPollMs) return
    for (const peerId of this.network.connectedPeers()) {
      void this.network.requestStatus(peerId).catch(() => undefined)
    }
  }

  private memberKeys(): {validators: string[]; observers: string[]} {
    const validators = this.store.validators().map(toHex)
    const set = new Set(validators)
    return {validators, observers: this.hospitals.map((h) => h.key).filter((k) => !set.has(k))}
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.abort.signal.aborted) fn()
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

/**
 * Consensus gossip frames are [message bytes, attempt]. Gossipsub drops a message whose bytes it
 * has seen, and a signed vote re-sent after a restart or a loss has the same bytes: the attempt
 * (0 first, then the send time) makes each retransmission a new gossip message.
 */
export function encodeConsensusFrame(message: ConsensusMessage, attempt: number): Uint8Array {
  return encode([encodeConsensusMessage(message), attempt])
}

export function decodeConsensusFrame(bytes: Uint8Array): ConsensusMessage {
  const raw = decode(bytes)
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[0] instanceof Uint8Array) || !Number.isSafeInteger(raw[1])) {
    throw new NodeError(NodeErrorCode.BAD_FRAME, "a consensus frame is [message, attempt]")
  }
  return decodeConsensusMessage(raw[0])
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

function recordPrefix(height: number): string {
  return `h/${String(height).padStart(12, "0")}/`
}

function validatorsHashOfSet(validators: readonly Uint8Array[]): Uint8Array {
  return validatorsHashOf(validators)
}

function readGenesis(config: NodeConfig): Genesis {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(config.genesis, "utf8"))
  } catch (err) {
    throw new NodeConfigError(NodeConfigErrorCode.BAD_GENESIS, `cannot read genesis ${config.genesis}: ${(err as Error).message}`)
  }
  const genesis = parseGenesis(raw)
  if (config.chainId !== null && genesis.chainId !== config.chainId) {
    throw new NodeConfigError(NodeConfigErrorCode.BAD_GENESIS, `genesis is for chain ${genesis.chainId}, config expects ${config.chainId}`)
  }
  return genesis
}
