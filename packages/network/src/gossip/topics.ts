import {decode, encode, Transaction} from "@careledger/core"
import {NetworkError, NetworkErrorCode} from "../errors.js"
import type {NetworkOptions} from "../options.js"

/**
 * Gossip topics. Adding a topic is adding one entry here and one handler in `GossipHandlers`.
 * - `tx`: a bounded batch of signed transactions (a CBOR list of tx bytes).
 * - `consensus`: proposals (which carry the block) and votes, encoded by core's consensus.
 */
export type GossipTopic = "tx" | "consensus"
export const GOSSIP_TOPICS: readonly GossipTopic[] = ["tx", "consensus"]

export type ValidationResult = "accept" | "ignore" | "reject"

/** What the handler of each topic receives once the network decoded and checked the frame. */
export interface GossipMessages {
  tx: readonly Transaction[]
  consensus: Uint8Array
}

/**
 * Validates one message before it is relayed: `accept` relays and delivers it, `ignore` drops it
 * (duplicate, stale), `reject` drops it and lowers the sender's score.
 */
export type GossipHandler<T extends GossipTopic> = (message: GossipMessages[T], from: string) => Promise<ValidationResult>
export type GossipHandlers = {[T in GossipTopic]: GossipHandler<T>}

export function topicName(chainId: string, topic: GossipTopic): string {
  return `/careledger/${chainId}/${topic}/1`
}

export interface TopicCodec<T extends GossipTopic> {
  maxBytes(options: NetworkOptions): number
  /** Throws NetworkError(MALFORMED | TOO_LARGE) for frames no honest node would send. */
  decode(data: Uint8Array, options: NetworkOptions): GossipMessages[T]
}

export const topicCodecs: {[T in GossipTopic]: TopicCodec<T>} = {
  tx: {
    maxBytes: (options) => options.maxTxMessageBytes,
    decode: (data, options) => decodeTxBatch(data, options),
  },
  consensus: {
    maxBytes: (options) => options.maxConsensusMessageBytes,
    decode: (data, options) => {
      if (data.length === 0) throw new NetworkError(NetworkErrorCode.MALFORMED, "empty consensus message")
      checkSize(data, options.maxConsensusMessageBytes)
      return data
    },
  },
}

export function encodeTxBatch(txs: readonly Uint8Array[]): Uint8Array {
  return encode([...txs])
}

/** Decodes a tx batch: 1..max txs, each a well-formed tx of this chain with a valid signature. */
export function decodeTxBatch(data: Uint8Array, options: NetworkOptions): Transaction[] {
  checkSize(data, options.maxTxMessageBytes)
  let raw: unknown
  try {
    raw = decode(data, options.maxTxMessageBytes)
  } catch (err) {
    throw new NetworkError(NetworkErrorCode.MALFORMED, `tx batch: ${(err as Error).message}`)
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > options.maxTxsPerMessage) {
    throw new NetworkError(NetworkErrorCode.MALFORMED, `a tx batch is a list of 1..${options.maxTxsPerMessage} transactions`)
  }
  return raw.map((item: unknown, index: number) => {
    if (!(item instanceof Uint8Array)) throw new NetworkError(NetworkErrorCode.MALFORMED, `tx ${index} is not bytes`)
    let tx: Transaction
    try {
      tx = Transaction.decode(item)
    } catch (err) {
      throw new NetworkError(NetworkErrorCode.MALFORMED, `tx ${index}: ${(err as Error).message}`, {index})
    }
    if (tx.chainId !== options.chainId) {
      throw new NetworkError(NetworkErrorCode.MALFORMED, `tx ${index} is for chain ${tx.chainId}`, {index})
    }
    if (!tx.verifySignature()) throw new NetworkError(NetworkErrorCode.MALFORMED, `tx ${index} has a bad signature`, {index})
    return tx
  })
}

function checkSize(data: Uint8Array, limit: number): void {
  if (data.length > limit) {
    throw new NetworkError(NetworkErrorCode.TOO_LARGE, `message of ${data.length} bytes exceeds ${limit}`, {size: data.length, limit})
  }
}
