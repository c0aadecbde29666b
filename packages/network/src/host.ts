/** Over 400 lines as one file because the libp2p node's lifecycle and gossipsub (configuration, scoring, validation, publishing) share one libp2p instance; request/response lives in reqresp/service.ts, peers and dialing in peers.ts. */
import {createLibp2p, type Libp2p} from "libp2p"
import {tcp} from "@libp2p/tcp"
import {noise} from "@libp2p/noise"
import {yamux} from "@libp2p/yamux"
import {identify, type Identify} from "@libp2p/identify"
import {ping, type Ping} from "@libp2p/ping"
import {gossipsub, StrictNoSign, TopicValidatorResult, type GossipSub, type GossipsubMessage} from "@libp2p/gossipsub"
import {createPeerScoreParams, createTopicScoreParams, type PeerScoreParams} from "@libp2p/gossipsub/score"
import {privateKeyFromProtobuf} from "@libp2p/crypto/keys"
import type {PeerId} from "@libp2p/interface"
import {sha256, Transaction, utf8, type PrivateKey} from "@careledger/core"
import {NetworkError, NetworkErrorCode} from "./errors.js"
import {resolveOptions, type NetworkOptions} from "./options.js"
import {silentLogger, type Logger, type NetworkMetrics} from "./metrics.js"
import {MembershipGater} from "./gater.js"
import {BoundedPublisher, TxBatcher} from "./publisher.js"
import {BoundedConcurrency} from "./limiter.js"
import {GOSSIP_TOPICS, topicCodecs, topicName, type GossipHandler, type GossipHandlers, type GossipMessages, type GossipTopic, type TopicCodec, type ValidationResult} from "./gossip/topics.js"
import {ReqRespService, type ReqRespHandlers} from "./reqresp/service.js"
import {PeerDialer, parsePeerAddress, parsePeerId} from "./peers.js"
import type {BlockWithCommit, ChainStatus} from "./reqresp/protocols.js"

/** What the host needs from the node: its key, a handler per gossip topic and per request/response protocol. */
export interface NetworkDependencies extends ReqRespHandlers {
  /** The node's persistent key: its libp2p peer ID and its validator identity. */
  privateKey: PrivateKey
  /** One validator per gossip topic, run before a message is relayed. */
  gossipHandlers: GossipHandlers
  metrics?: NetworkMetrics
  logger?: Logger
}

export type PeerConnectionStatus = "connected" | "dialing" | "disconnected" | "banned"

export interface PeerInfo {
  peerId: string
  addresses: string[]
  status: PeerConnectionStatus
  /** Round-trip time of the last ping, in milliseconds. */
  latencyMs: number | undefined
  chain: ChainStatus | undefined
  /** Whether we keep redialling it (bootstrap, added by an operator, or seen connected). */
  persistent: boolean
}

export interface NetworkEventMap {
  "peer:status": {peerId: string; status: ChainStatus}
  "peer:connected": {peerId: string}
  "peer:disconnected": {peerId: string}
  "peer:penalised": {peerId: string; reason: string}
}

type Listener<K extends keyof NetworkEventMap> = (detail: NetworkEventMap[K]) => void

/** The gossipsub methods beyond its public interface that asynchronous validation and scoring need. */
interface GossipSubInternals extends GossipSub {
  reportMessageValidationResult(msgId: string, propagationSource: string, acceptance: TopicValidatorResult): void
  getScore(peerId: string): number
  getMeshPeers(topic: string): string[]
}

type Services = {identify: Identify; ping: Ping; pubsub: GossipSub}


/**
 * The CareLedger libp2p host: TCP + Noise + Yamux, identify, ping, gossipsub with per-topic
 * validation, a membership gater, the status/blocks/record request-response protocols
 * (`reqresp/service.ts`) and the members it keeps connected to (`peers.ts`). Gossip publishing and
 * validation stay here: they are the host's use of gossipsub, whose options and scoring are set here.
 */
export class NetworkHost {
  readonly options: NetworkOptions
  readonly peerId: string
  private readonly deps: NetworkDependencies
  private readonly log: Logger
  private readonly gater: MembershipGater
  private libp2p: Libp2p<Services> | undefined
  private starting: Promise<void> | undefined
  private readonly dialer: PeerDialer
  private readonly statuses = new Map<string, ChainStatus>()
  private readonly listeners = new Map<keyof NetworkEventMap, Set<(detail: never) => void>>()
  private readonly topicByName = new Map<string, GossipTopic>()
  /** The UTF-8 bytes of each topic name, for message ids. */
  private readonly topicBytes = new Map<string, Uint8Array>()
  private readonly publisher: BoundedPublisher
  private readonly txBatcher: TxBatcher
  /** gossipsub hands over messages as fast as they arrive; validations in flight are bounded here. */
  private readonly validations: BoundedConcurrency
  private readonly reqResp: ReqRespService
  private validatingBytes = 0
  private readonly validatingBytesByPeer = new Map<string, number>()
  private pingTimer: NodeJS.Timeout | undefined
  private abort = new AbortController()

  constructor(options: Partial<NetworkOptions> & {chainId: string}, dependencies: NetworkDependencies) {
    this.options = resolveOptions(options)
    this.deps = dependencies
    this.log = dependencies.logger ?? silentLogger
    this.peerId = dependencies.privateKey.peerId
    this.gater = new MembershipGater(this.peerId, this.options.members, this.options.observers)
    for (const topic of GOSSIP_TOPICS) {
      const name = topicName(this.options.chainId, topic)
      this.topicByName.set(name, topic)
      this.topicBytes.set(name, utf8(name))
    }
    this.dialer = new PeerDialer(this.options, {gater: this.gater, libp2p: () => this.libp2p, signal: () => this.abort.signal, log: this.log})
    for (const addr of this.options.bootstrap) this.dialer.remember(parsePeerAddress(addr))
    this.publisher = new BoundedPublisher(
      (topic, data) => this.sendGossip(topic, data),
      this.options.maxPublishInFlight,
      this.options.maxPublishWaiting,
    )
    this.reqResp = new ReqRespService(this.options, {
      handlers: dependencies,
      node: () => this.node(),
      parsePeerId,
      onStatus: (peerId, status) => this.recordStatus(peerId, status),
      ...(dependencies.metrics === undefined ? {} : {metrics: dependencies.metrics}),
      log: this.log,
    })
    this.validations = new BoundedConcurrency(this.options.maxValidationsInFlight, this.options.maxValidationsWaiting, "gossip validation")
    this.txBatcher = new TxBatcher(
      this.publisher,
      {
        maxTxs: this.options.maxTxsPerMessage,
        maxBytes: this.options.maxTxMessageBytes,
        maxQueued: this.options.maxQueuedTxs,
        delayMs: this.options.txBatchDelayMs,
      },
      (err) => {
        this.deps.metrics?.gossipDropped?.("tx")
        this.log.warn({err: (err as Error).message}, "tx batch not published")
      },
    )
  }

  // ---- lifecycle ----

  get started(): boolean {
    return this.libp2p !== undefined
  }

  async start(): Promise<void> {
    if (this.libp2p !== undefined) return
    this.starting ??= this.doStart().finally(() => {
      this.starting = undefined
    })
    return this.starting
  }

  async stop(): Promise<void> {
    if (this.starting !== undefined) await this.starting.catch(() => undefined)
    const node = this.libp2p
    if (node === undefined) return
    this.libp2p = undefined
    this.abort.abort()
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer)
    this.pingTimer = undefined
    this.dialer.stop()
    this.txBatcher.stop()
    this.publisher.drain()
    this.validations.releaseAll()
    this.statuses.clear()
    await node.stop()
    this.deps.metrics?.peerCount?.(0)
    this.log.info({peerId: this.peerId}, "network stopped")
  }

  private async doStart(): Promise<void> {
    const o = this.options
    this.abort = new AbortController()
    const node = await createLibp2p({
      privateKey: privateKeyFromProtobuf(this.deps.privateKey.toLibp2pProtobuf()),
      addresses: {listen: o.listen, announce: o.announce},
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: this.gater.connectionGater(),
      connectionManager: {
        inboundConnectionThreshold: o.maxInboundConnectionsPerHostPerSecond,
        maxIncomingPendingConnections: o.maxPendingInboundConnections,
      },
      // The dialer pings every member itself (peers.ts). libp2p's monitor would ping on the same
      // protocol, whose one outbound stream per connection our ping may hold: it then aborted the
      // connection, and it also aborted any peer slower than 5 s to answer (a loaded machine).
      connectionMonitor: {enabled: false},
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          // A consortium has 4..10 members: a mesh of 3..8 reaches everyone in one or two hops.
          D: 4,
          Dlo: 3,
          Dhi: 8,
          Dout: 1,
          Dlazy: 4,
          heartbeatInterval: o.heartbeatMs,
          emitSelf: false,
          floodPublish: true,
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          asyncValidation: true,
          doPX: false,
          fallbackToFloodsub: false,
          // Messages are authenticated by their own signatures (txs, votes); ids are content hashes
          // so the same payload from two members is one message.
          globalSignaturePolicy: StrictNoSign,
          // Hashed in parts: no copy of a (block-sized) message per id.
          msgIdFn: (msg) => sha256(this.topicBytes.get(msg.topic) ?? utf8(msg.topic), msg.data),
          allowedTopics: [...this.topicByName.keys()],
          maxInboundDataLength: o.maxConsensusMessageBytes + 64 * 1024,
          scoreParams: this.scoreParams(),
          scoreThresholds: {
            gossipThreshold: -200,
            publishThreshold: -400,
            graylistThreshold: -800,
            acceptPXThreshold: 100,
            opportunisticGraftThreshold: 5,
          },
        }),
      },
      start: false,
    })
    this.libp2p = node
    node.addEventListener("peer:connect", (evt) => this.onConnect(evt.detail))
    node.addEventListener("peer:disconnect", (evt) => this.onDisconnect(evt.detail))
    const pubsub = this.pubsub(node)
    pubsub.addEventListener("gossipsub:message", (evt) => void this.onGossip(pubsub, evt.detail))
    await this.reqResp.register(node)
    await node.start()
    for (const name of this.topicByName.keys()) pubsub.subscribe(name)
    this.pingTimer = setInterval(() => this.pingAll(), o.pingIntervalMs)
    this.pingTimer.unref()
    this.dialer.redialAll(true)
    this.log.info({peerId: this.peerId, listen: this.addresses()}, "network started")
  }

  private scoreParams(): Partial<PeerScoreParams> {
    const topics: PeerScoreParams["topics"] = {}
    for (const name of this.topicByName.keys()) {
      topics[name] = createTopicScoreParams({
        topicWeight: 1,
        timeInMeshWeight: 0.01,
        timeInMeshQuantum: 1000,
        timeInMeshCap: 100,
        firstMessageDeliveriesWeight: 1,
        firstMessageDeliveriesDecay: 0.9,
        firstMessageDeliveriesCap: 10,
        // A quiet consortium legitimately sends few messages: never punish silence.
        meshMessageDeliveriesWeight: 0,
        meshFailurePenaltyWeight: 0,
        // One invalid message costs 100 points and decays slowly, so a forger is throttled fast.
        invalidMessageDeliveriesWeight: -100,
        invalidMessageDeliveriesDecay: 0.99,
      })
    }
    // Members share hosts in a devnet and on a LAN; address colocation says nothing here.
    return createPeerScoreParams({topics, IPColocationFactorWeight: 0})
  }

  // ---- addresses and peers ----

  /** Listen multiaddrs with our /p2p/ id, as other nodes should dial them. */
  addresses(): string[] {
    return this.node().getMultiaddrs().map((ma) => ma.toString())
  }

  /** Adds a peer to dial and keep redialling (admin RPC); resolves once connected. */
  async addPeer(address: string): Promise<void> {
    const node = this.node()
    const {peerId, addr} = parsePeerAddress(address)
    if (!this.gater.admits(peerId.toString())) {
      throw new NetworkError(NetworkErrorCode.NOT_A_MEMBER, `peer ${peerId.toString()} is not a member`, {peerId: peerId.toString()})
    }
    const peer = this.dialer.remember({peerId, addr})
    try {
      await node.dial(addr, {signal: AbortSignal.timeout(this.options.requestTimeoutMs)})
    } catch (err) {
      this.dialer.scheduleRedial(peer, false)
      throw new NetworkError(NetworkErrorCode.DIAL_FAILED, `dial ${address}: ${(err as Error).message}`, {peerId: peerId.toString()})
    }
  }

  peers(): PeerInfo[] {
    const node = this.node()
    const connected = new Map<string, string[]>()
    for (const conn of node.getConnections()) {
      const id = conn.remotePeer.toString()
      connected.set(id, [...(connected.get(id) ?? []), conn.remoteAddr.toString()])
    }
    const out: PeerInfo[] = []
    const ids = new Set([...connected.keys(), ...this.dialer.ids()])
    for (const id of ids) {
      const known = this.dialer.get(id)
      const addrs = connected.get(id) ?? known?.addrs.map((a) => a.toString()) ?? []
      let status: PeerConnectionStatus = "disconnected"
      if (connected.has(id)) status = "connected"
      else if (this.gater.isBanned(id)) status = "banned"
      else if (known?.dialing === true) status = "dialing"
      out.push({peerId: id, addresses: addrs, status, latencyMs: known?.latencyMs, chain: this.statuses.get(id), persistent: known !== undefined})
    }
    return out
  }

  connectedPeers(): string[] {
    return [...new Set(this.node().getConnections().map((c) => c.remotePeer.toString()))]
  }

  /** Latest status each connected peer reported. */
  peerStatuses(): Map<string, ChainStatus> {
    return new Map(this.statuses)
  }

  /** Replaces the member set (validators; observers stay); peers no longer admitted are disconnected. */
  async setMembers(keys: readonly string[]): Promise<void> {
    const removed = this.gater.setMembers(keys)
    await this.dialer.hangUp(removed)
    if (this.libp2p !== undefined) this.dialer.redialAll(false)
  }

  async setObservers(keys: readonly string[]): Promise<void> {
    const removed = this.gater.setObservers(keys)
    await this.dialer.hangUp(removed)
  }

  /** Bans a peer that misbehaved (forged data) for `banMs` and cuts its connections. */
  async penalise(peerId: string, reason: string): Promise<void> {
    parsePeerId(peerId)
    this.gater.ban(peerId, Date.now() + this.options.banMs)
    this.deps.metrics?.peerPenalised?.(reason)
    this.log.warn({peerId, reason}, "peer penalised")
    this.emit("peer:penalised", {peerId, reason})
    await this.dialer.hangUp(new Set([peerId]))
  }

  isBanned(peerId: string): boolean {
    return this.gater.isBanned(peerId)
  }

  /** The gossipsub score of a peer: invalid messages drive it negative. */
  getScore(peerId: string): number {
    return this.pubsub(this.node()).getScore(peerId)
  }

  /** Peers in our gossip mesh for a topic. */
  meshPeers(topic: GossipTopic): string[] {
    return this.pubsub(this.node()).getMeshPeers(topicName(this.options.chainId, topic))
  }

  /** Peers subscribed to a topic, whether or not they are in our mesh. */
  topicPeers(topic: GossipTopic): string[] {
    return this.pubsub(this.node()).getSubscribers(topicName(this.options.chainId, topic)).map((p) => p.toString())
  }

  on<K extends keyof NetworkEventMap>(event: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(event, set)
    }
    set.add(listener as (detail: never) => void)
    return () => set.delete(listener as (detail: never) => void)
  }

  private emit<K extends keyof NetworkEventMap>(event: K, detail: NetworkEventMap[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        ;(listener as Listener<K>)(detail)
      } catch (err) {
        this.log.error({event, err: (err as Error).message}, "network event listener failed")
      }
    }
  }

  private onConnect(peerId: PeerId): void {
    const id = peerId.toString()
    const peer = this.dialer.connected(peerId)
    this.deps.metrics?.peerCount?.(this.connectedPeers().length)
    this.log.debug({peerId: id}, "peer connected")
    this.emit("peer:connected", {peerId: id})
    void this.requestStatus(id).catch((err: Error) => this.log.debug({peerId: id, err: err.message}, "status exchange failed"))
    void this.dialer.ping(peer)
  }

  private onDisconnect(peerId: PeerId): void {
    const id = peerId.toString()
    this.statuses.delete(id)
    if (this.libp2p === undefined) return
    this.deps.metrics?.peerCount?.(this.connectedPeers().length)
    this.log.debug({peerId: id}, "peer disconnected")
    this.emit("peer:disconnected", {peerId: id})
    this.dialer.redialIfKnown(id)
  }

  /** Periodic upkeep: latency, and a fresh status so a node that fell behind notices and syncs. */
  private pingAll(): void {
    for (const id of this.connectedPeers()) {
      const peer = this.dialer.get(id)
      if (peer !== undefined) void this.dialer.ping(peer)
      void this.requestStatus(id).catch((err: Error) => this.log.debug({peerId: id, err: err.message}, "status refresh failed"))
    }
  }

  // ---- gossip ----

  /** Queues transactions for batched gossip; throws QUEUE_FULL when the bounded queue is full. */
  publishTxs(txs: readonly (Transaction | Uint8Array)[]): void {
    this.node()
    this.txBatcher.enqueue(txs.map((tx) => (tx instanceof Uint8Array ? tx : tx.serialize())))
  }

  /** Publishes queued transactions now. */
  flushTxs(): Promise<void> {
    return this.txBatcher.flush()
  }

  /** Publishes an encoded consensus message (proposal with its block, or vote); an observer never does. */
  publishConsensus(message: Uint8Array): Promise<void> {
    return this.publish("consensus", message)
  }

  /**
   * Publishes an already encoded message on a topic, waiting for an in-flight slot. Transactions
   * should go through `publishTxs`, which batches them.
   */
  async publish(topic: GossipTopic, data: Uint8Array): Promise<void> {
    this.node()
    if (topic === "consensus" && this.options.observer) {
      throw new NetworkError(NetworkErrorCode.NOT_A_MEMBER, "an observer does not publish consensus messages", {topic})
    }
    const limit = topicCodecs[topic].maxBytes(this.options)
    if (data.length > limit) {
      throw new NetworkError(NetworkErrorCode.TOO_LARGE, `${topic} message of ${data.length} bytes exceeds ${limit}`, {topic})
    }
    await this.publisher.publish(topic, data)
  }

  private async sendGossip(topic: GossipTopic, data: Uint8Array): Promise<void> {
    const node = this.node()
    await this.pubsub(node).publish(topicName(this.options.chainId, topic), data)
    this.deps.metrics?.gossipOut?.(topic, 1)
  }

  private async onGossip(pubsub: GossipSubInternals, event: GossipsubMessage): Promise<void> {
    const {msgId, propagationSource, msg} = event
    const from = propagationSource.toString()
    const topic = this.topicByName.get(msg.topic)
    let result: ValidationResult
    if (topic === undefined) {
      result = "reject"
    } else {
      // Bytes waiting for validation are bounded in total and per sending peer, so a flood of
      // maximal messages costs bounded memory and one peer cannot crowd out the others.
      const size = msg.data.length
      const fromPeer = this.validatingBytesByPeer.get(from) ?? 0
      if (this.validatingBytes + size > this.options.maxValidationBytes || fromPeer + size > this.options.maxValidationBytesPerPeer) {
        this.deps.metrics?.gossipDropped?.(topic)
        if (this.libp2p !== undefined) pubsub.reportMessageValidationResult(msgId, from, TopicValidatorResult.Ignore)
        return
      }
      this.validatingBytes += size
      this.validatingBytesByPeer.set(from, fromPeer + size)
      try {
        try {
          await this.validations.acquire()
        } catch {
          // Overloaded: drop without relaying and without blaming the sender.
          this.deps.metrics?.gossipDropped?.(topic)
          if (this.libp2p !== undefined) pubsub.reportMessageValidationResult(msgId, from, TopicValidatorResult.Ignore)
          return
        }
        try {
          result = await this.validate(topic, msg.data, from)
        } finally {
          this.validations.release()
        }
      } finally {
        this.validatingBytes -= size
        const left = (this.validatingBytesByPeer.get(from) ?? size) - size
        if (left > 0) this.validatingBytesByPeer.set(from, left)
        else this.validatingBytesByPeer.delete(from)
      }
      this.deps.metrics?.gossipIn?.(topic, result)
    }
    if (this.libp2p === undefined) return
    const acceptance =
      result === "accept" ? TopicValidatorResult.Accept : result === "ignore" ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
    pubsub.reportMessageValidationResult(msgId, from, acceptance)
  }

  private async validate<T extends GossipTopic>(topic: T, data: Uint8Array, from: string): Promise<ValidationResult> {
    let message: GossipMessages[T]
    try {
      message = (topicCodecs[topic] as TopicCodec<T>).decode(data, this.options)
    } catch (err) {
      this.log.debug({topic, from, err: (err as Error).message}, "gossip message rejected by decoding")
      return "reject"
    }
    try {
      return await (this.deps.gossipHandlers[topic] as GossipHandler<T>)(message, from)
    } catch (err) {
      // A handler that throws has a bug or a local failure: do not blame the peer for it.
      this.log.error({topic, from, err: (err as Error).message}, "gossip handler failed")
      return "ignore"
    }
  }

  // ---- request/response (reqresp/service.ts) ----

  private recordStatus(peerId: string, status: ChainStatus): void {
    this.statuses.set(peerId, status)
    this.emit("peer:status", {peerId, status})
  }

  /** Exchanges statuses with a peer (done automatically on connect). */
  requestStatus(peerId: string): Promise<ChainStatus> {
    this.node()
    return this.reqResp.requestStatus(peerId)
  }

  /** Streams finalized blocks `from..from+count-1` with their certificates from a peer. */
  requestBlocks(peerId: string, from: number, count: number, signal?: AbortSignal): AsyncGenerator<BlockWithCommit> {
    this.node()
    return this.reqResp.requestBlocks(peerId, from, count, signal)
  }

  /** Sends a record request to a peer (normally the record's custodian) and returns its answer. */
  requestRecord(peerId: string, request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    this.node()
    return this.reqResp.requestRecord(peerId, request, signal)
  }

  private node(): Libp2p<Services> {
    if (this.libp2p === undefined) throw new NetworkError(NetworkErrorCode.NOT_STARTED, "the network host is not started")
    return this.libp2p
  }

  private pubsub(node: Libp2p<Services>): GossipSubInternals {
    return node.services.pubsub as GossipSubInternals
  }
}
