import {decode, encode} from "../encoding/index.js"
import {ConsensusError, ConsensusErrorCode} from "./errors.js"
import {decodeConsensusMessage, encodeConsensusMessage, type ConsensusMessage} from "./messages.js"

/**
 * Consensus gossip frames are [message bytes, attempt]. Gossipsub drops a message whose bytes it
 * has seen, and a signed vote re-sent after a restart or a loss has the same bytes: the attempt
 * (0 first, then the send time) makes each retransmission a new gossip message.
 */
export function encodeConsensusFrame(message: ConsensusMessage, attempt: number): Uint8Array {
  return encode([encodeConsensusMessage(message), attempt])
}

/** Decodes a frame and its message; throws ConsensusError(MALFORMED) for anything else. */
export function decodeConsensusFrame(bytes: Uint8Array): ConsensusMessage {
  const raw = decode(bytes)
  if (!Array.isArray(raw) || raw.length !== 2 || !(raw[0] instanceof Uint8Array) || !Number.isSafeInteger(raw[1])) {
    throw new ConsensusError(ConsensusErrorCode.MALFORMED, "a consensus frame is [message, attempt]")
  }
  return decodeConsensusMessage(raw[0])
}
