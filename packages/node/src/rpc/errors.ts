import {ApiErrorCode, CareLedgerError, RpcErrorCodes, isCareLedgerError, toJsonValue, type JsonValue} from "@careledger/core"

/** Failures of the RPC layer itself (requests, auth, lookups); each maps to one JSON-RPC code. */
export enum RpcErrorCode {
  PARSE = "RPC_ERROR_PARSE",
  INVALID_REQUEST = "RPC_ERROR_INVALID_REQUEST",
  METHOD_NOT_FOUND = "RPC_ERROR_METHOD_NOT_FOUND",
  /** The same code core's route parsers throw with. */
  INVALID_PARAMS = ApiErrorCode.INVALID_PARAMS,
  INTERNAL = "RPC_ERROR_INTERNAL",
  REQUEST_TOO_LARGE = "RPC_ERROR_REQUEST_TOO_LARGE",
  BATCH_TOO_LARGE = "RPC_ERROR_BATCH_TOO_LARGE",
  TOKEN_MISSING = "RPC_ERROR_TOKEN_MISSING",
  TOKEN_UNKNOWN = "RPC_ERROR_TOKEN_UNKNOWN",
  PERMISSION = "RPC_ERROR_PERMISSION",
  RATE_LIMITED = "RPC_ERROR_RATE_LIMITED",
  NOT_FOUND = "RPC_ERROR_NOT_FOUND",
  NOT_A_VALIDATOR = "RPC_ERROR_NOT_A_VALIDATOR",
  UNAVAILABLE = "RPC_ERROR_UNAVAILABLE",
  WEBSOCKET_ONLY = "RPC_ERROR_WEBSOCKET_ONLY",
  HOST_NOT_ALLOWED = "RPC_ERROR_HOST_NOT_ALLOWED",
  ORIGIN_NOT_ALLOWED = "RPC_ERROR_ORIGIN_NOT_ALLOWED",
  UNSUPPORTED_MEDIA_TYPE = "RPC_ERROR_UNSUPPORTED_MEDIA_TYPE",
  TOKEN_IN_URL = "RPC_ERROR_TOKEN_IN_URL",
}

export class RpcServerError extends CareLedgerError<RpcErrorCode> {}

/**
 * The one table from CareLedgerError codes to JSON-RPC error codes. A domain error whose code is
 * not listed still reaches the caller as -32000 with its code in `data.code`.
 */
export const JSON_RPC_CODE_OF: Readonly<Record<string, number>> = {
  [RpcErrorCode.PARSE]: RpcErrorCodes.PARSE_ERROR,
  [RpcErrorCode.INVALID_REQUEST]: RpcErrorCodes.INVALID_REQUEST,
  [RpcErrorCode.METHOD_NOT_FOUND]: RpcErrorCodes.METHOD_NOT_FOUND,
  [RpcErrorCode.INVALID_PARAMS]: RpcErrorCodes.INVALID_PARAMS,
  [RpcErrorCode.INTERNAL]: RpcErrorCodes.INTERNAL_ERROR,
  [RpcErrorCode.REQUEST_TOO_LARGE]: RpcErrorCodes.REQUEST_TOO_LARGE,
  [RpcErrorCode.BATCH_TOO_LARGE]: RpcErrorCodes.BATCH_TOO_LARGE,
  [RpcErrorCode.TOKEN_MISSING]: RpcErrorCodes.UNAUTHORIZED_TOKEN,
  [RpcErrorCode.TOKEN_UNKNOWN]: RpcErrorCodes.UNAUTHORIZED_TOKEN,
  [RpcErrorCode.PERMISSION]: RpcErrorCodes.UNAUTHORIZED_TOKEN,
  [RpcErrorCode.RATE_LIMITED]: RpcErrorCodes.RATE_LIMITED,
  [RpcErrorCode.NOT_FOUND]: RpcErrorCodes.NOT_FOUND,
  [RpcErrorCode.NOT_A_VALIDATOR]: RpcErrorCodes.NOT_A_VALIDATOR,
  [RpcErrorCode.UNAVAILABLE]: RpcErrorCodes.UNAVAILABLE,
  [RpcErrorCode.WEBSOCKET_ONLY]: RpcErrorCodes.INVALID_REQUEST,
  [RpcErrorCode.HOST_NOT_ALLOWED]: RpcErrorCodes.FORBIDDEN,
  [RpcErrorCode.ORIGIN_NOT_ALLOWED]: RpcErrorCodes.FORBIDDEN,
  [RpcErrorCode.UNSUPPORTED_MEDIA_TYPE]: RpcErrorCodes.INVALID_REQUEST,
  [RpcErrorCode.TOKEN_IN_URL]: RpcErrorCodes.UNAUTHORIZED_TOKEN,
  // Transactions (core TxErrorCode) and their encoding.
  TX_ERROR_BAD_SIGNATURE: RpcErrorCodes.BAD_SIGNATURE,
  TX_ERROR_WRONG_CHAIN: RpcErrorCodes.WRONG_CHAIN,
  TX_ERROR_NONCE_REPLAYED: RpcErrorCodes.NONCE_REPLAYED,
  TX_ERROR_UNAUTHORIZED: RpcErrorCodes.UNAUTHORIZED_SIGNER,
  TX_ERROR_UNKNOWN_SENDER: RpcErrorCodes.UNAUTHORIZED_SIGNER,
  TX_ERROR_SENDER_REVOKED: RpcErrorCodes.UNAUTHORIZED_SIGNER,
  TX_ERROR_NONCE_GAP: RpcErrorCodes.NONCE_GAP,
  TX_ERROR_MALFORMED: RpcErrorCodes.MALFORMED_TX,
  TX_ERROR_TOO_LARGE: RpcErrorCodes.MALFORMED_TX,
  TX_ERROR_UNKNOWN_TYPE: RpcErrorCodes.MALFORMED_TX,
  TX_ERROR_BAD_PAYLOAD: RpcErrorCodes.MALFORMED_TX,
  TX_ERROR_FIELD_TOO_LARGE: RpcErrorCodes.MALFORMED_TX,
  TX_ERROR_CONFLICT: RpcErrorCodes.CONFLICT,
  TX_ERROR_NOT_FOUND: RpcErrorCodes.NOT_FOUND,
  ENCODING_ERROR_TOO_LARGE: RpcErrorCodes.MALFORMED_TX,
  ENCODING_ERROR_MALFORMED: RpcErrorCodes.MALFORMED_TX,
  ENCODING_ERROR_NON_CANONICAL: RpcErrorCodes.MALFORMED_TX,
  // The mempool (core MempoolErrorCode).
  // The mempool (core MempoolErrorCode). INVALID_TX and REJECTED carry the TxErrorCode in details.reason,
  // which decides the JSON-RPC code (see toJsonRpcError).
  MEMPOOL_ERROR_FULL: RpcErrorCodes.MEMPOOL_FULL,
  MEMPOOL_ERROR_DUPLICATE: RpcErrorCodes.DUPLICATE_TX,
  MEMPOOL_ERROR_NONCE_TOO_LOW: RpcErrorCodes.NONCE_REPLAYED,
  MEMPOOL_ERROR_NONCE_TOO_HIGH: RpcErrorCodes.NONCE_GAP,
  MEMPOOL_ERROR_NONCE_TAKEN: RpcErrorCodes.CONFLICT,
  MEMPOOL_ERROR_TOO_LARGE: RpcErrorCodes.MALFORMED_TX,
  MEMPOOL_ERROR_INVALID_TX: RpcErrorCodes.MALFORMED_TX,
  // Node and network failures an operator can cause through admin calls.
  NODE_ERROR_NOT_A_VALIDATOR: RpcErrorCodes.NOT_A_VALIDATOR,
  NODE_ERROR_NOT_STARTED: RpcErrorCodes.UNAVAILABLE,
  NODE_ERROR_STOPPED: RpcErrorCodes.UNAVAILABLE,
  NODE_ERROR_SYNCING: RpcErrorCodes.UNAVAILABLE,
  NETWORK_ERROR_NOT_A_MEMBER: RpcErrorCodes.FORBIDDEN,
  NETWORK_ERROR_DIAL_FAILED: RpcErrorCodes.UNAVAILABLE,
  // Health data (node health/errors.ts): refusals by policy, missing records, bad request signatures.
  HEALTH_ERROR_ACCESS_DENIED: RpcErrorCodes.FORBIDDEN,
  HEALTH_ERROR_NOT_PATIENT: RpcErrorCodes.FORBIDDEN,
  HEALTH_ERROR_RECORD_NOT_FOUND: RpcErrorCodes.NOT_FOUND,
  HEALTH_ERROR_CUSTODIAN_UNAVAILABLE: RpcErrorCodes.UNAVAILABLE,
  HEALTH_ERROR_JOURNAL_BROKEN: RpcErrorCodes.UNAVAILABLE,
  HEALTH_ERROR_JOURNAL_NOT_ANCHORED: RpcErrorCodes.UNAVAILABLE,
  REQUEST_ERROR_BAD_SIGNATURE: RpcErrorCodes.BAD_SIGNATURE,
  REQUEST_ERROR_WRONG_CHAIN: RpcErrorCodes.WRONG_CHAIN,
}

export interface JsonRpcErrorObject {
  code: number
  message: string
  data?: JsonValue
}

/** Turns anything a handler threw into a JSON-RPC error object; unexpected errors say nothing inside. */
export function toJsonRpcError(err: unknown): JsonRpcErrorObject {
  if (isCareLedgerError(err)) {
    // A mempool refusal names the underlying tx error in details.reason: that is what the caller must fix.
    const reason = typeof err.details.reason === "string" && JSON_RPC_CODE_OF[err.details.reason] !== undefined ? err.details.reason : undefined
    const code = JSON_RPC_CODE_OF[reason ?? err.code] ?? RpcErrorCodes.DOMAIN_ERROR
    const data: {[key: string]: JsonValue} = {...(toJsonValue(err.details) as {[key: string]: JsonValue}), code: reason ?? err.code}
    if (reason !== undefined) data.rejectedBy = err.code
    return {code, message: err.message, data}
  }
  return {code: RpcErrorCodes.INTERNAL_ERROR, message: "internal error", data: {code: RpcErrorCode.INTERNAL}}
}
