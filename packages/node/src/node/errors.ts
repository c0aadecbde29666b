import {CareLedgerError} from "@careledger/core"

export enum NodeErrorCode {
  NOT_STARTED = "NODE_ERROR_NOT_STARTED",
  WRONG_CHAIN = "NODE_ERROR_WRONG_CHAIN",
  BAD_BLOCK = "NODE_ERROR_BAD_BLOCK",
  NOT_A_VALIDATOR = "NODE_ERROR_NOT_A_VALIDATOR",
  STOPPED = "NODE_ERROR_STOPPED",
  /** The node knows it is behind its peers: its state (nonces included) is stale until it catches up. */
  SYNCING = "NODE_ERROR_SYNCING",
}

export class NodeError extends CareLedgerError<NodeErrorCode> {}
