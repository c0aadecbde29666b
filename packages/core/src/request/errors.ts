import {CareLedgerError} from "../errors.js"

export enum RequestErrorCode {
  MALFORMED = "REQUEST_ERROR_MALFORMED",
  WRONG_CHAIN = "REQUEST_ERROR_WRONG_CHAIN",
  /** Signed too long ago (or too far in the future) for the freshness window. */
  STALE = "REQUEST_ERROR_STALE",
  /** The same signed request was already presented within the window. */
  REPLAYED = "REQUEST_ERROR_REPLAYED",
  BAD_SIGNATURE = "REQUEST_ERROR_BAD_SIGNATURE",
  /** The request names another custodian: it was meant for another hospital's node. */
  WRONG_CUSTODIAN = "REQUEST_ERROR_WRONG_CUSTODIAN",
  /** The reader is not enrolled (checked before a request takes room in the replay cache). */
  UNKNOWN_READER = "REQUEST_ERROR_UNKNOWN_READER",
  /** The replay cache is full of unexpired requests (of this reader, or in total): try again shortly. */
  BUSY = "REQUEST_ERROR_BUSY",
}

export class RequestError extends CareLedgerError<RequestErrorCode> {}
