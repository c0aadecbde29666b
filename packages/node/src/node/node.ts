/**
 * The node's composition root: builds every part, starts them in order and stops them in reverse,
 * with one AbortSignal flowing down. The parts live in their own files: the consensus driver
 * (`driver.ts`), transaction intake (`intake.ts`), the network handlers (`handlers.ts`) and the
 * node-key signer (`../keystore/signer.ts`). Over 400 lines because it is the one place every part is built,
 * ordered and exposed to the RPC namespaces and the health part.
 */
import {readFileSync} from "node:fs"
import {join} from "node:path"
import {
  ChainStore,
  Mempool,
  type Transaction,
  TxType,
  fromHex,
  genesisBlock,
  genesisExecution,
  listHospitals,
  maxFaulty,
  parseGenesis,
  peerIdOf,
  stateMempoolChecks,
  toHex,
  type Block,
  type ConsensusMachine,
  type Evidence,
  type Genesis,
  type HospitalRecord,
  type PrivateKey,
  type ValidatorVoteAction,
} from "@careledger/core"
import {NetworkHost, RangeSync, bootstrapAddress} from "@careledger/network"
import {NodeConfigError, NodeConfigErrorCode, type NodeConfig} from "../config/index.js"
import {HealthPart} from "../health/part.js"
import {FhirServer} from "../fhir/server.js"
import {forwardedAssertionVerifier} from "../fhir/auth.js"
import {fhirServerOptionsOf} from "../fhir/options.js"
import {loadOrCreateNodeKey} from "../keystore/index.js"
import {moduleLogger, type Logger} from "../logger/index.js"
import {MetricsServer, NodeMetrics, StatusLog, defaultStatusLogOptions} from "../metrics/index.js"
import {HeadFeed, RpcServer, TokenStore, afterReady, isLoopback, joinNamespaces, rpcServerOptionsOf, type RpcNamespace} from "../rpc/index.js"
import {coreNamespaces} from "../rpc/core.js"
import {healthNamespaces} from "../rpc/health.js"
import {ConsensusDriver, type TimeoutRecord} from "./driver.js"
import {NodeError, NodeErrorCode} from "./errors.js"
import {gossipHandlers, reqRespHandlers} from "./handlers.js"
import {TxIntake} from "./intake.js"
import {defaultNodeTuning, type NodeTuning} from "./options.js"
import {NODE_VERSION} from "./version.js"
import {NodeSigner} from "../keystore/signer.js"
import type {Startable} from "./startable.js"


export interface NodeDependencies {
  /** The root logger; the node gives each part its own child (`module: <part>`). */
  logger: Logger
  /** Defaults to `<dataDir>/node.key`, created on first start. */
  key?: PrivateKey
}

/** Every bounded stop step waits at most this long, so one stuck part cannot keep the process from exiting. */
const STOP_PART_MS = 5000

/** Blocks a peer may be ahead before this node counts as syncing (one is the normal gap of a commit in flight). */
const SYNC_MARGIN_BLOCKS = 1
/**
 * Blocks a peer may be ahead before this node refuses submissions: a loaded node can trail its peers
 * by a block or two while it keeps up; a node catching up after a restart is further behind.
 */
const SUBMIT_MARGIN_BLOCKS = 3

/**
 * One hospital's node: the chain store, mempool, consensus driver, libp2p host and range sync wired
 * together, with the health part, JSON-RPC and metrics on top.
 */
export class CareLedgerNode implements Startable {
  readonly config: NodeConfig
  readonly tuning: NodeTuning
  readonly key: PrivateKey
  readonly genesis: Genesis
  readonly logger: Logger
  readonly metrics: NodeMetrics
  readonly feed = new HeadFeed()
  readonly health: HealthPart
  /** The one signer and nonce allocator of the node key (validator votes, the health part's access logs and erasures). */
  readonly signer: NodeSigner

  /** The node's own events (start, blocks, stop); each part gets its own child of the root logger. */
  private readonly nodeLog: Logger
  private storeRef: ChainStore | null = null
  private mempoolRef: Mempool | null = null
  private hostRef: NetworkHost | null = null
  private sync: RangeSync | null = null
  private driver: ConsensusDriver | null = null
  private intakeRef: TxIntake | null = null
  private rpc: RpcServer | null = null
  private metricsServer: MetricsServer | null = null
  private fhir: FhirServer | null = null
  private readonly abort = new AbortController()
  /** The parts started so far, in start order; stop() walks it backwards. */
  private readonly running: {name: string; part: Startable}[] = []
  private hospitals: HospitalRecord[] = []
  private validatorPeerCache: {height: number; peers: ReadonlySet<string>} | null = null
  private started = false
  private stopping = false

  constructor(config: NodeConfig, deps: NodeDependencies, tuning: Partial<NodeTuning> = {}) {
    this.config = config
    this.tuning = {...defaultNodeTuning, ...tuning}
    this.logger = deps.logger
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
    if (config.fhir && !isLoopback(config.fhirHost) && (config.fhirTlsCert === null || config.fhirTlsKey === null)) {
      throw new NodeConfigError(
        NodeConfigErrorCode.BAD_VALUE,
        `FHIR host ${config.fhirHost} is not loopback: bearer tokens and health data cross the network only over TLS (set --fhir-tls-cert and --fhir-tls-key, or put a TLS proxy in front)`,
      )
    }
    if (config.fhirPublicUrl !== null && !/^https?:\/\/[^/?#]+(\/[^?#]*)?\/fhir\/?$/.test(config.fhirPublicUrl)) {
      throw new NodeConfigError(NodeConfigErrorCode.BAD_VALUE, `FHIR public URL ${config.fhirPublicUrl} must be an http(s) URL whose path ends in /fhir`)
    }
    this.metrics = new NodeMetrics()
    this.signer = new NodeSigner({chainId: this.genesis.chainId, key: this.key, nextNonce: (account) => this.nextNonce(account)})
    this.health = new HealthPart({dataDir: config.dataDir}, {logger: moduleLogger(deps.logger, "health"), verifyForwardedAssertion: forwardedAssertionVerifier()})
  }

  // ---- accessors the RPC namespaces and the health part use ----

  /** The software version (node_info). */
  readonly version = NODE_VERSION

  /** Aborts when the node stops: the parts that wait (consensus, held RPC calls, health) end their waits. */
  get signal(): AbortSignal {
    return this.abort.signal
  }

  get store(): ChainStore {
    return required(this.storeRef)
  }

  get mempool(): Mempool {
    return required(this.mempoolRef)
  }

  get network(): NetworkHost {
    return required(this.hostRef)
  }

  get machine(): ConsensusMachine {
    return required(this.driver).machine
  }

  /** Recent live consensus timeouts, for consensus_status. */
  get timeouts(): readonly TimeoutRecord[] {
    return this.driver?.timeouts ?? []
  }

  /** Recent equivocation evidence, for consensus_status. */
  get evidence(): readonly Evidence[] {
    return this.driver?.evidence ?? []
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

  /** The FHIR base URL (ends in /fhir), or null when the endpoint is off or not started. */
  get fhirUrl(): string | null {
    return this.fhir?.url ?? null
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

  /**
   * How far above ours is the highest finalized height that more validators announce than can be
   * faulty (f + 1 of n): one member, or any observer, announcing a chain it does not have cannot
   * make this node refuse submissions.
   */
  blocksBehind(): number {
    if (this.storeRef === null || this.hostRef === null) return 0
    const local = this.store.head().height
    const validators = this.validatorPeers()
    const heights: number[] = []
    for (const [peerId, status] of this.network.peerStatuses()) {
      if (validators.has(peerId)) heights.push(status.finalizedHeight)
    }
    heights.sort((a, b) => b - a)
    const vouched = heights[maxFaulty(validators.size)] ?? local
    return Math.max(0, vouched - local)
  }

  /** Peer ids of the current validators, recomputed only when the set changes (this runs on every submission). */
  private validatorPeers(): ReadonlySet<string> {
    const height = this.store.head().height
    if (this.validatorPeerCache?.height !== height) {
      this.validatorPeerCache = {height, peers: new Set(this.store.validators().map((key) => peerIdOf(key)))}
    }
    return this.validatorPeerCache.peers
  }

  get syncing(): boolean {
    if (this.sync?.syncing === true) return true
    if (this.hostRef === null || this.storeRef === null) return true
    return this.blocksBehind() > SYNC_MARGIN_BLOCKS
  }

  // ---- lifecycle ----

  /** Opens the store, then starts network, consensus, sync, health, RPC and metrics, in that order. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const log = this.logger
    const signal = this.abort.signal

    const store = await ChainStore.open({dir: join(this.config.dataDir, "chain"), logger: moduleLogger(log, "store")})
    this.storeRef = store
    await this.startPart("store", {start: () => undefined, stop: () => store.close()})
    const execution = genesisExecution(this.genesis)
    await store.initialize(this.genesis, genesisBlock(this.genesis, execution), execution)
    this.hospitals = await listHospitals(store.state())
    const head = store.head()
    this.metrics.blockFinalized(head.height, 0)
    this.metrics.finalizedBlockTime(head.header.timestamp)
    this.nodeLog.info({chainId: this.chainId, height: head.height, key: this.key.id, peerId: this.key.peerId}, "chain store open")

    const mempool = new Mempool(this.tuning.mempool, {
      chainId: this.chainId,
      reader: store.state(),
      ...stateMempoolChecks(this.chainId, {nextHeight: () => store.head().height + 1, now: () => Date.now()}),
      logger: moduleLogger(log, "mempool"),
    })
    this.mempoolRef = mempool

    // The handlers reach the driver and intake through these late-bound references: the host is
    // built before them, and nothing is delivered before the host starts.
    const intake = new TxIntake({
      mempool,
      state: () => store.state(),
      publishTxs: (txs) => this.network.publishTxs(txs),
      txsAvailable: () => this.driver?.onTxsAvailable(),
      metrics: this.metrics,
      logger: this.nodeLog,
    })
    this.intakeRef = intake
    const consensusLog = moduleLogger(log, "consensus")
    const consensus = this.genesis.consensus
    const driver = new ConsensusDriver(
      {
        chainId: this.chainId,
        consensus: {
          blockIntervalMs: this.config.blockIntervalMs ?? consensus.blockIntervalMs,
          roundTimeoutMs: consensus.roundTimeoutMs,
          emptyBlocks: consensus.emptyBlocks,
          ...this.tuning.consensus,
        },
        maxBlockTxs: this.tuning.maxBlockTxs,
        maxBlockBytes: this.tuning.maxBlockBytes,
        statusPollMs: this.tuning.statusPollMs,
        syncRequestIntervalMs: this.tuning.syncRequestIntervalMs,
        stallWarningRounds: this.tuning.stallWarningRounds,
        keepTimeouts: this.tuning.keepTimeouts,
        keepEvidence: this.tuning.keepEvidence,
      },
      {
        store,
        mempool,
        network: {
          publishConsensus: (frame) => this.network.publishConsensus(frame),
          requestStatus: (peerId) => this.network.requestStatus(peerId),
          connectedPeers: () => this.network.connectedPeers(),
        },
        // An observer follows with no key: it can never sign, even if its key is a validator.
        key: this.config.observer ? null : this.key,
        proposer: this.key.publicKey,
        metrics: this.metrics,
        logger: consensusLog,
        signal,
        requestSync: () => void this.sync?.sync(),
        onFinalized: (block, changed) => this.onFinalized(block, changed),
      },
    )
    this.driver = driver

    const members = this.memberKeys()
    const reqResp = reqRespHandlers({store, answerRecord: (request, from) => this.health.handleRecord(request, from, this.hospitals)})
    this.hostRef = new NetworkHost(
      {
        ...this.tuning.network,
        chainId: this.chainId,
        listen: this.config.listen,
        announce: this.config.announce,
        bootstrap: this.config.bootstrap.map((entry) => bootstrapAddress(entry, (id) => this.hospitalPeerIds().get(id))),
        members: members.validators,
        observers: members.observers,
        observer: this.config.observer,
      },
      {
        privateKey: this.key,
        gossipHandlers: gossipHandlers({
          chainId: this.chainId,
          intake,
          driver,
          standing: (signer) => (driver.isMember(signer) ? "member" : this.hospitals.some((h) => h.key === toHex(signer)) ? "candidate" : "stranger"),
          syncing: () => this.syncing,
        }),
        ...reqResp,
        metrics: this.metrics.networkHooks(),
        logger: moduleLogger(log, "network"),
      },
    )
    await this.startPart("network", this.hostRef)
    this.metrics.observe({
      validatorCount: () => (this.storeRef === null ? 0 : this.store.validators().length),
      isValidator: () => this.isValidator,
      peersByHospital: () => this.peersByHospital(),
    })
    await this.startPart("consensus", driver)

    this.sync = new RangeSync(
      {},
      {
        host: this.network,
        localHeight: () => store.head().height,
        importBlock: (block, commit) => driver.importBlock(block, commit),
        metrics: this.metrics.networkHooks(),
        logger: moduleLogger(log, "sync"),
      },
    )
    await this.startPart("sync", this.sync)

    // Health reads the store and the feed: it starts after them and stops before the store closes.
    let healthRpc: RpcNamespace[] = []
    await this.startPart("health", {
      start: () => void (healthRpc = healthNamespaces(this.health.attach(this)).map((ns) => afterReady(ns, () => this.health.ready()))),
      stop: () => this.health.stop(),
    })

    this.rpc = new RpcServer(
      rpcServerOptionsOf(this.config),
      {methods: joinNamespaces(...coreNamespaces(this), ...healthRpc), logger: moduleLogger(log, "rpc"), feed: this.feed, observer: this.metrics},
    )
    await this.startPart("rpc", this.rpc)
    if (this.config.fhir) {
      this.fhir = new FhirServer(fhirServerOptionsOf(this.config), {...this.health.fhirDeps(), logger: moduleLogger(log, "fhir")})
      await this.startPart("fhir", this.fhir)
    }
    if (this.config.metrics) {
      this.metricsServer = new MetricsServer(
        {host: this.config.metricsHost, port: this.config.metricsPort},
        {
          metrics: this.metrics,
          logger: moduleLogger(log, "metrics"),
          probe: {storeOpen: () => this.storeRef !== null && !this.stopping, synced: () => !this.syncing, peerCount: () => this.network.connectedPeers().length, blocksBehind: () => this.blocksBehind()},
        },
      )
      await this.startPart("metrics", this.metricsServer)
    }
    const statusLog = new StatusLog(defaultStatusLogOptions, {
      metrics: this.metrics,
      logger: this.nodeLog,
      source: {peers: () => this.network.connectedPeers().length, mempoolTxs: () => this.mempool.size, round: () => driver.round},
    })
    await this.startPart("status log", statusLog)
    this.nodeLog.info({rpc: this.rpcUrl, metrics: this.metricsUrl, fhir: this.fhirUrl, listen: this.network.addresses(), validator: this.isValidator}, "node started")
  }

  /** Stops the started parts in reverse order; safe to call twice, and after a failed start. */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return
    this.stopping = true
    this.abort.abort()
    // Each step is bounded so one stuck part cannot keep the process from exiting; the store's own
    // batches are atomic, so closing it late or not at all never leaves a half-written block.
    for (const {name, part} of [...this.running].reverse()) await this.within(name, Promise.resolve().then(() => part.stop()))
    this.nodeLog.info("node stopped")
  }

  private async startPart(name: string, part: Startable): Promise<void> {
    // Registered before it starts, so a part that fails half-way is still stopped.
    this.running.push({name, part})
    await part.start()
  }

  private async within(part: string, stopping: Promise<unknown>, ms = STOP_PART_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)))
    const outcome = await Promise.race([stopping.then(() => "done" as const, (err: unknown) => err), late])
    clearTimeout(timer)
    if (outcome === "late") this.nodeLog.warn({part, ms}, "part did not stop in time; going on")
    else if (outcome !== "done") this.nodeLog.warn({part, err: (outcome as Error).message}, "part failed to stop cleanly")
  }

  /** After each finalized block (inside the consensus queue): refresh hospitals and members, tell subscribers. */
  private async onFinalized(block: Block, validatorSetChanged: boolean): Promise<void> {
    this.hospitals = await listHospitals(this.store.state())
    if (validatorSetChanged) {
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

  // ---- transactions ----

  /**
   * Admits a transaction to the mempool and gossips it. Throws the mempool's typed error, or SYNCING
   * while the node knows it is behind: checked against stale state, a nonce already spent in a block
   * it has not seen yet would be accepted and could never finalize.
   */
  async submitTx(tx: Transaction): Promise<string> {
    this.refuseWhileBehind()
    return required(this.intakeRef).submitTx(tx)
  }

  /** Admits several transactions in order and gossips the admitted ones together; one outcome (hash or typed error) per tx. */
  async submitTxs(txs: readonly Transaction[]): Promise<Array<{hash: string} | {error: unknown}>> {
    this.refuseWhileBehind()
    return required(this.intakeRef).submitTxs(txs)
  }

  private refuseWhileBehind(): void {
    const behind = this.blocksBehind()
    if (behind > SUBMIT_MARGIN_BLOCKS) {
      throw new NodeError(NodeErrorCode.SYNCING, `the node is catching up (${behind} blocks behind its peers); submit again once it is in sync, or to another node`, {
        blocksBehind: behind,
      })
    }
  }

  /** The nonce the account's next transaction should carry, counting its pending ones. */
  nextNonce(account: string): Promise<number> {
    return required(this.intakeRef).nextNonce(account)
  }

  /** Signs and submits a validator vote with the node key. */
  async proposeValidator(payload: {action: ValidatorVoteAction; hospital: string; key: Uint8Array; name: string}): Promise<string> {
    if (!this.isValidator) {
      throw new NodeError(NodeErrorCode.NOT_A_VALIDATOR, "only a validator node can vote on the validator set")
    }
    const tx = await this.signer.signAndSubmit(TxType.ValidatorVote, payload, (signed) => this.submitTx(signed))
    return tx.hashHex()
  }

  private memberKeys(): {validators: string[]; observers: string[]} {
    const validators = this.store.validators().map(toHex)
    const set = new Set(validators)
    return {validators, observers: this.hospitals.map((h) => h.key).filter((k) => !set.has(k))}
  }
}

function required<T>(part: T | null): T {
  if (part === null) throw new NodeError(NodeErrorCode.NOT_STARTED, "the node is not started")
  return part
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
