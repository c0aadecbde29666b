import {CareLedgerError} from "@careledger/core"

export enum NetworkErrorCode {
  /** Options are inconsistent (bad multiaddr, missing peer id, limits out of range). */
  BAD_OPTIONS = "NETWORK_ERROR_BAD_OPTIONS",
  /** The host is not started (or already stopped). */
  NOT_STARTED = "NETWORK_ERROR_NOT_STARTED",
  /** A multiaddr could not be parsed or lacks a /p2p/ peer id. */
  BAD_MULTIADDR = "NETWORK_ERROR_BAD_MULTIADDR",
  /** A string is not a libp2p peer id. */
  BAD_PEER_ID = "NETWORK_ERROR_BAD_PEER_ID",
  /** The peer is not in the member set (or is banned). */
  NOT_A_MEMBER = "NETWORK_ERROR_NOT_A_MEMBER",
  /** Dialing a peer failed. */
  DIAL_FAILED = "NETWORK_ERROR_DIAL_FAILED",
  /** A request did not complete within its timeout. */
  TIMEOUT = "NETWORK_ERROR_TIMEOUT",
  /** A message exceeds the size limit of its topic or protocol. */
  TOO_LARGE = "NETWORK_ERROR_TOO_LARGE",
  /** A peer sent bytes that do not decode as the protocol's message. */
  MALFORMED = "NETWORK_ERROR_MALFORMED",
  /** The remote handler answered with an error. */
  REMOTE_ERROR = "NETWORK_ERROR_REMOTE_ERROR",
  /** The stream closed or reset before the exchange completed. */
  STREAM_CLOSED = "NETWORK_ERROR_STREAM_CLOSED",
  /** A bounded queue is full: the caller must slow down. */
  QUEUE_FULL = "NETWORK_ERROR_QUEUE_FULL",
  /** Too many concurrent inbound requests for a protocol. */
  RATE_LIMITED = "NETWORK_ERROR_RATE_LIMITED",
  /** Range sync ran out of peers able to serve the missing blocks. */
  SYNC_NO_PEERS = "NETWORK_ERROR_SYNC_NO_PEERS",
  /** A peer served a block or certificate that failed verification. */
  FORGED_BLOCK = "NETWORK_ERROR_FORGED_BLOCK",
  /** An unknown gossip topic. */
  UNKNOWN_TOPIC = "NETWORK_ERROR_UNKNOWN_TOPIC",
}

export class NetworkError extends CareLedgerError<NetworkErrorCode> {}
