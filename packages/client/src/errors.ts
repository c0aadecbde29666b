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

export {RpcErrorCodes} from "@careledger/core"
