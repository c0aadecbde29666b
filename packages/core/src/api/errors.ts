import {CareLedgerError} from "../errors.js"

/**
 * Failures of API JSON checked in core: route params (the node maps the code to a JSON-RPC code) and
 * answers that do not have the shape of their route's result (the client reports a bad response).
 */
export enum ApiErrorCode {
  INVALID_PARAMS = "RPC_ERROR_INVALID_PARAMS",
  BAD_JSON = "API_ERROR_BAD_JSON",
}

export class ApiError extends CareLedgerError<ApiErrorCode> {}

/** JSON-RPC error codes the node answers with; docs/rpc.md explains each. */
export const RpcErrorCodes = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  DOMAIN_ERROR: -32000,
  BAD_SIGNATURE: -32001,
  WRONG_CHAIN: -32002,
  NONCE_REPLAYED: -32003,
  UNAUTHORIZED_SIGNER: -32004,
  MEMPOOL_FULL: -32005,
  NONCE_GAP: -32006,
  MALFORMED_TX: -32007,
  DUPLICATE_TX: -32008,
  CONFLICT: -32009,
  UNAUTHORIZED_TOKEN: -32010,
  RATE_LIMITED: -32011,
  REQUEST_TOO_LARGE: -32012,
  BATCH_TOO_LARGE: -32013,
  NOT_FOUND: -32014,
  NOT_A_VALIDATOR: -32015,
  UNAVAILABLE: -32016,
  FORBIDDEN: -32017,
} as const
