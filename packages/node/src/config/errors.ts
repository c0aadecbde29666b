import {CareLedgerError} from "@careledger/core"

export enum NodeConfigErrorCode {
  BAD_FILE = "CONFIG_ERROR_BAD_FILE",
  BAD_VALUE = "CONFIG_ERROR_BAD_VALUE",
  BAD_TOKENS_FILE = "CONFIG_ERROR_BAD_TOKENS_FILE",
  AUTH_REQUIRED = "CONFIG_ERROR_AUTH_REQUIRED",
  BAD_GENESIS = "CONFIG_ERROR_BAD_GENESIS",
  BAD_KEY = "CONFIG_ERROR_BAD_KEY",
}

export class NodeConfigError extends CareLedgerError<NodeConfigErrorCode> {}
