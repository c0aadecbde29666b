import {decode, encode, MAX_BLOCK_BYTES} from "@careledger/core"
import {NetworkError, NetworkErrorCode} from "../errors.js"
import type {NetworkOptions} from "../options.js"
import type {ProtocolLimits} from "./framing.js"

/**
 * Request/response protocols. Adding one is adding an entry here, its codec, and its handler in
 * the host's handler map.
 */
export type ProtocolName = "status" | "blocks" | "record"
export const PROTOCOLS: readonly ProtocolName[] = ["status", "blocks", "record"]

export function protocolId(chainId: string, name: ProtocolName): string {
  return `/careledger/${chainId}/${name}/1`
}

const MAX_COMMIT_BYTES = 128 * 1024
const MAX_RECORD_REQUEST_BYTES = 64 * 1024

export function protocolLimits(name: ProtocolName, options: NetworkOptions): ProtocolLimits {
  const common = {
    timeoutMs: options.requestTimeoutMs,
    maxInboundStreams: options.maxInboundStreamsPerProtocol,
    maxInboundStreamsPerPeer: options.maxInboundStreamsPerPeer,
  }
  switch (name) {
    case "status":
      return {...common, maxRequestBytes: 256, maxChunkBytes: 256, maxChunks: 1}
    case "blocks":
      return {...common, maxRequestBytes: 64, maxChunkBytes: MAX_BLOCK_BYTES + MAX_COMMIT_BYTES + 64, maxChunks: options.maxBlocksPerRequest}
    case "record":
      return {...common, maxRequestBytes: MAX_RECORD_REQUEST_BYTES, maxChunkBytes: options.maxRecordBytes, maxChunks: 1}
  }
}

/** What a node tells its peers about its chain. Only finalized blocks are stored, so head >= finalized. */
export interface ChainStatus {
  headHeight: number
  headHash: Uint8Array
  finalizedHeight: number
  finalizedHash: Uint8Array
}

export function encodeStatus(status: ChainStatus): Uint8Array {
  return encode([status.headHeight, status.headHash, status.finalizedHeight, status.finalizedHash])
}

export function decodeStatus(bytes: Uint8Array): ChainStatus {
  const raw = decodeOrThrow(bytes, "status")
  if (!Array.isArray(raw) || raw.length !== 4) throw malformed("a status is [headHeight, headHash, finalizedHeight, finalizedHash]")
  const [headHeight, headHash, finalizedHeight, finalizedHash] = raw as unknown[]
  if (!isCount(headHeight) || !isCount(finalizedHeight) || finalizedHeight > headHeight) throw malformed("bad status heights")
  if (!isHash(headHash) || !isHash(finalizedHash)) throw malformed("bad status hashes")
  return {headHeight, headHash, finalizedHeight, finalizedHash}
}

export interface BlockRangeRequest {
  from: number
  count: number
}

export function encodeBlockRangeRequest(request: BlockRangeRequest): Uint8Array {
  return encode([request.from, request.count])
}

export function decodeBlockRangeRequest(bytes: Uint8Array, maxCount: number): BlockRangeRequest {
  const raw = decodeOrThrow(bytes, "block range request")
  if (!Array.isArray(raw) || raw.length !== 2) throw malformed("a block range request is [from, count]")
  const [from, count] = raw as unknown[]
  if (!isCount(from) || from < 1) throw malformed("block range must start at height >= 1")
  if (!isCount(count) || count < 1 || count > maxCount) throw malformed(`block range count must be 1..${maxCount}`)
  return {from, count}
}

/** A finalized block with the certificate that finalized it, both as their canonical bytes. */
export interface BlockWithCommit {
  block: Uint8Array
  commit: Uint8Array
}

export function encodeBlockChunk(chunk: BlockWithCommit): Uint8Array {
  return encode([chunk.block, chunk.commit])
}

export function decodeBlockChunk(bytes: Uint8Array): BlockWithCommit {
  const raw = decodeOrThrow(bytes, "block chunk", MAX_BLOCK_BYTES + MAX_COMMIT_BYTES + 64)
  if (!Array.isArray(raw) || raw.length !== 2) throw malformed("a block chunk is [block, commit]")
  const [block, commit] = raw as unknown[]
  if (!(block instanceof Uint8Array) || !(commit instanceof Uint8Array)) throw malformed("block chunk fields must be bytes")
  return {block, commit}
}

function decodeOrThrow(bytes: Uint8Array, what: string, maxBytes?: number): unknown {
  try {
    return decode(bytes, maxBytes)
  } catch (err) {
    throw malformed(`${what}: ${(err as Error).message}`)
  }
}

function malformed(message: string): NetworkError {
  return new NetworkError(NetworkErrorCode.MALFORMED, message)
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === 32
}
