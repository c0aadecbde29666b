import {CareLedgerError} from "@careledger/core"

export enum ClientErrorCode {
  /** The transport failed (connection refused, HTTP status without a JSON-RPC body). */
  TRANSPORT = "CLIENT_ERROR_TRANSPORT",
  /** The node answered something that is not a valid JSON-RPC response of the expected shape. */
  BAD_RESPONSE = "CLIENT_ERROR_BAD_RESPONSE",
  /** A proof did not verify. */
  BAD_PROOF = "CLIENT_ERROR_BAD_PROOF",
  TIMEOUT = "CLIENT_ERROR_TIMEOUT",
}

export class ClientError extends CareLedgerError<ClientErrorCode> {}

/** Data the node attaches to a domain error: the CareLedgerError code and its details. */
export interface RpcErrorData {
  code?: string
  [key: string]: unknown
}

/** A JSON-RPC error returned by the node, with its numeric code and structured data. */
export class RpcError extends Error {
  readonly code: number
  readonly data: RpcErrorData | undefined

  constructor(code: number, message: string, data?: RpcErrorData) {
    super(message)
    this.name = "RpcError"
    this.code = code
    this.data = data
  }

  /** The CareLedgerError code behind a domain error (e.g. "TX_ERROR_BAD_SIGNATURE"), if any. */
  get domainCode(): string | undefined {
    return typeof this.data?.code === "string" ? this.data.code : undefined
  }
}

/** JSON-RPC error codes the node uses; docs/rpc.md explains each. */
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
