import {lpStream} from "@libp2p/utils"
import type {Connection, Libp2p, PeerId, Stream} from "@libp2p/interface"
import {utf8} from "@careledger/core"
import {NetworkError, NetworkErrorCode} from "../errors.js"
import type {Logger, NetworkMetrics} from "../metrics.js"

/**
 * Wire format of every request/response protocol: the request is one length-prefixed frame; the
 * response is a sequence of length-prefixed frames whose first byte says what follows, so a
 * response can stream many chunks and still end (or fail) explicitly instead of relying on EOF.
 */
const CHUNK = 0
const END = 1
const ERROR = 2
const MAX_ERROR_MESSAGE = 512

export interface ProtocolLimits {
  maxRequestBytes: number
  /** Largest single response chunk (payload only). */
  maxChunkBytes: number
  maxChunks: number
  timeoutMs: number
  /** Concurrent inbound streams of this protocol, from all peers together. */
  maxInboundStreams: number
  /** Concurrent inbound streams of this protocol from one peer: no member can take every slot. */
  maxInboundStreamsPerPeer: number
}

/** Serves one request: yields the response chunks, throws to answer with an error. */
export type RequestHandler = (request: Uint8Array, from: string, signal: AbortSignal) => AsyncIterable<Uint8Array>

/** Registers `handler` for `protocol`, with caps on concurrent inbound streams in total and per peer. */
export async function serveProtocol(
  libp2p: Libp2p,
  protocol: string,
  limits: ProtocolLimits,
  handler: RequestHandler,
  log: Logger,
  metrics: NetworkMetrics | undefined,
): Promise<void> {
  let active = 0
  /** Streams in progress per peer (entries leave at zero, so the map holds at most maxInboundStreams peers). */
  const byPeer = new Map<string, number>()
  await libp2p.handle(
    protocol,
    async (stream: Stream, connection: Connection) => {
      const from = connection.remotePeer.toString()
      const mine = byPeer.get(from) ?? 0
      if (active >= limits.maxInboundStreams || mine >= limits.maxInboundStreamsPerPeer) {
        metrics?.reqRespIn?.(protocol, "rate_limited")
        const why = mine >= limits.maxInboundStreamsPerPeer ? `too many concurrent ${protocol} requests from this peer` : `too many concurrent ${protocol} requests`
        stream.abort(new NetworkError(NetworkErrorCode.RATE_LIMITED, why))
        return
      }
      active++
      byPeer.set(from, mine + 1)
      const signal = AbortSignal.timeout(limits.timeoutMs)
      const lp = lpStream(stream, {maxDataLength: limits.maxRequestBytes, maxBufferSize: limits.maxRequestBytes + 16})
      try {
        const request = (await lp.read({signal})).subarray()
        try {
          for await (const chunk of handler(request, from, signal)) {
            await lp.write(frame(CHUNK, chunk), {signal})
          }
          await lp.write(frame(END), {signal})
          metrics?.reqRespIn?.(protocol, "ok")
        } catch (err) {
          if (signal.aborted) throw err
          const message = err instanceof Error ? err.message : String(err)
          await lp.write(frame(ERROR, utf8(message.slice(0, MAX_ERROR_MESSAGE))), {signal})
          metrics?.reqRespIn?.(protocol, "error")
          log.debug({protocol, from, err: message}, "request refused")
        }
        await stream.close({signal})
      } catch (err) {
        metrics?.reqRespIn?.(protocol, "error")
        log.debug({protocol, from, err: (err as Error).message}, "inbound stream failed")
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      } finally {
        active--
        const left = (byPeer.get(from) ?? 1) - 1
        if (left === 0) byPeer.delete(from)
        else byPeer.set(from, left)
      }
    },
    {maxInboundStreams: limits.maxInboundStreams, maxOutboundStreams: limits.maxInboundStreams},
  )
}

/**
 * Sends one request and yields the response chunks until the responder ends the stream.
 * The whole exchange is bounded by the protocol timeout and by the chunk size and count limits.
 */
export async function* requestStream(
  libp2p: Libp2p,
  peer: PeerId,
  protocol: string,
  limits: ProtocolLimits,
  request: Uint8Array,
  outerSignal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  if (request.length > limits.maxRequestBytes) {
    throw new NetworkError(NetworkErrorCode.TOO_LARGE, `request of ${request.length} bytes exceeds ${limits.maxRequestBytes}`)
  }
  const timeout = AbortSignal.timeout(limits.timeoutMs)
  const signal = outerSignal === undefined ? timeout : AbortSignal.any([timeout, outerSignal])
  let stream: Stream | undefined
  let finished = false
  try {
    stream = await libp2p.dialProtocol(peer, protocol, {signal})
    const lp = lpStream(stream, {maxDataLength: limits.maxChunkBytes + 1, maxBufferSize: limits.maxChunkBytes + 32})
    await lp.write(request, {signal})
    await stream.close({signal})
    for (let received = 0; ; ) {
      const response = (await lp.read({signal})).subarray()
      const code = response[0]
      if (code === END) {
        finished = true
        return
      }
      if (code === ERROR) {
        throw new NetworkError(NetworkErrorCode.REMOTE_ERROR, new TextDecoder().decode(response.subarray(1)), {protocol})
      }
      if (code !== CHUNK) throw new NetworkError(NetworkErrorCode.MALFORMED, `bad response frame type ${code}`, {protocol})
      if (++received > limits.maxChunks) {
        throw new NetworkError(NetworkErrorCode.TOO_LARGE, `more than ${limits.maxChunks} response chunks`, {protocol})
      }
      yield response.subarray(1)
    }
  } catch (err) {
    throw toNetworkError(err, protocol, timeout.aborted)
  } finally {
    // Errors, timeouts and consumers that stop early all leave the stream unfinished: reset it.
    if (!finished) stream?.abort(new NetworkError(NetworkErrorCode.STREAM_CLOSED, `${protocol} request abandoned`))
  }
}

/** Sends a request whose response is exactly one chunk. */
export async function requestOne(
  libp2p: Libp2p,
  peer: PeerId,
  protocol: string,
  limits: ProtocolLimits,
  request: Uint8Array,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of requestStream(libp2p, peer, protocol, limits, request, signal)) chunks.push(chunk)
  if (chunks.length !== 1) throw new NetworkError(NetworkErrorCode.MALFORMED, `expected one response chunk, got ${chunks.length}`, {protocol})
  return chunks[0]!
}

function toNetworkError(err: unknown, protocol: string, timedOut: boolean): NetworkError {
  if (err instanceof NetworkError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (timedOut) return new NetworkError(NetworkErrorCode.TIMEOUT, `${protocol} timed out`, {protocol})
  const name = err instanceof Error ? err.name : ""
  if (name === "InvalidDataLengthError" || name === "StreamBufferError") {
    return new NetworkError(NetworkErrorCode.TOO_LARGE, message, {protocol})
  }
  return new NetworkError(NetworkErrorCode.STREAM_CLOSED, message, {protocol, cause: name})
}

function frame(code: number, payload?: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + (payload?.length ?? 0))
  out[0] = code
  if (payload !== undefined) out.set(payload, 1)
  return out
}
