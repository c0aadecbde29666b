import {CareLedgerError} from "@careledger/core"

export enum NodeConfigErrorCode {
  BAD_FILE = "CONFIG_ERROR_BAD_FILE",
  BAD_VALUE = "CONFIG_ERROR_BAD_VALUE",
  BAD_TOKENS_FILE = "CONFIG_ERROR_BAD_TOKENS_FILE",
  /** A secret file (tokens, TLS key) that group or others may read. */
  FILE_TOO_OPEN = "CONFIG_ERROR_FILE_TOO_OPEN",
  AUTH_REQUIRED = "CONFIG_ERROR_AUTH_REQUIRED",
  BAD_GENESIS = "CONFIG_ERROR_BAD_GENESIS",
  BAD_KEY = "CONFIG_ERROR_BAD_KEY",
}

export class NodeConfigError extends CareLedgerError<NodeConfigErrorCode> {}
