import type {Libp2p} from "libp2p"
import type {PeerId} from "@libp2p/interface"
import {NetworkError, NetworkErrorCode} from "../errors.js"
import type {NetworkOptions} from "../options.js"
import type {Logger, NetworkMetrics} from "../metrics.js"
import {requestOne, requestStream, serveProtocol, type RequestHandler} from "./framing.js"
import {
  decodeBlockChunk,
  decodeBlockRangeRequest,
  decodeStatus,
  encodeBlockChunk,
  encodeBlockRangeRequest,
  encodeStatus,
  PROTOCOLS,
  protocolId,
  protocolLimits,
  type BlockWithCommit,
  type ChainStatus,
  type ProtocolName,
} from "./protocols.js"

/** What the request/response protocols answer with: the node's chain and its records. */
export interface ReqRespHandlers {
  /** The node's current chain status, sent to peers on connect. */
  getStatus(): ChainStatus
  /** Finalized blocks `from..from+count-1` with their certificates; stops early at the head. */
  readBlocks(from: number, count: number): AsyncIterable<BlockWithCommit>
  /** Answers a record request (the health-data layer defines the payloads and the policy). */
  recordHandler?(request: Uint8Array, from: string): Promise<Uint8Array>
}

export interface ReqRespDependencies {
  handlers: ReqRespHandlers
  /** The running libp2p node (throws when the host is not started). */
  node(): Libp2p
  parsePeerId(peerId: string): PeerId
  /** A peer told us its status (in its request or in its answer to ours). */
  onStatus(peerId: string, status: ChainStatus): void
  metrics?: NetworkMetrics
  log: Logger
}

/**
 * The status, block-range and record protocols, both ways: one handler per protocol, served with
 * the per-protocol and per-peer stream caps of `serveProtocol`.
 */
export class ReqRespService {
  constructor(
    private readonly options: NetworkOptions,
    private readonly deps: ReqRespDependencies,
  ) {}

  async register(node: Libp2p): Promise<void> {
    const handlers: {[P in ProtocolName]: RequestHandler} = {
      status: (request, from) => this.serveStatus(request, from),
      blocks: (request) => this.serveBlocks(request),
      record: (request, from) => this.serveRecord(request, from),
    }
    for (const name of PROTOCOLS) {
      await serveProtocol(node, this.protocol(name), protocolLimits(name, this.options), handlers[name], this.deps.log, this.deps.metrics)
    }
  }

  private async *serveStatus(request: Uint8Array, from: string): AsyncIterable<Uint8Array> {
    this.deps.onStatus(from, decodeStatus(request))
    yield encodeStatus(this.deps.handlers.getStatus())
  }

  private async *serveBlocks(request: Uint8Array): AsyncIterable<Uint8Array> {
    const {from, count} = decodeBlockRangeRequest(request, this.options.maxBlocksPerRequest)
    let served = 0
    for await (const chunk of this.deps.handlers.readBlocks(from, count)) {
      if (served++ >= count) break
      yield encodeBlockChunk(chunk)
    }
  }

  private async *serveRecord(request: Uint8Array, from: string): AsyncIterable<Uint8Array> {
    const handler = this.deps.handlers.recordHandler
    if (handler === undefined) throw new NetworkError(NetworkErrorCode.REMOTE_ERROR, "this node serves no records")
    const response = await handler(request, from)
    if (response.length > this.options.maxRecordBytes) {
      throw new NetworkError(NetworkErrorCode.TOO_LARGE, `record response of ${response.length} bytes exceeds ${this.options.maxRecordBytes}`)
    }
    yield response
  }

  /** Exchanges statuses with a peer. */
  async requestStatus(peerId: string): Promise<ChainStatus> {
    const request = encodeStatus(this.deps.handlers.getStatus())
    try {
      const status = decodeStatus(await requestOne(this.deps.node(), this.deps.parsePeerId(peerId), this.protocol("status"), protocolLimits("status", this.options), request))
      this.deps.metrics?.reqRespOut?.("status", "ok")
      this.deps.onStatus(peerId, status)
      return status
    } catch (err) {
      this.deps.metrics?.reqRespOut?.("status", "error")
      throw err
    }
  }

  /** Streams finalized blocks `from..from+count-1` with their certificates from a peer. */
  async *requestBlocks(peerId: string, from: number, count: number, signal?: AbortSignal): AsyncGenerator<BlockWithCommit> {
    const node = this.deps.node()
    if (count < 1 || count > this.options.maxBlocksPerRequest) {
      throw new NetworkError(NetworkErrorCode.BAD_OPTIONS, `block request count must be 1..${this.options.maxBlocksPerRequest}`)
    }
    const request = encodeBlockRangeRequest({from, count})
    for await (const chunk of requestStream(node, this.deps.parsePeerId(peerId), this.protocol("blocks"), protocolLimits("blocks", this.options), request, signal)) {
      yield decodeBlockChunk(chunk)
    }
  }

  /** Sends a record request to a peer (normally the record's custodian) and returns its answer. */
  async requestRecord(peerId: string, request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const node = this.deps.node()
    try {
      const answer = await requestOne(node, this.deps.parsePeerId(peerId), this.protocol("record"), protocolLimits("record", this.options), request, signal)
      this.deps.metrics?.reqRespOut?.("record", "ok")
      return answer
    } catch (err) {
      this.deps.metrics?.reqRespOut?.("record", "error")
      throw err
    }
  }

  private protocol(name: ProtocolName): string {
    return protocolId(this.options.chainId, name)
  }
}
