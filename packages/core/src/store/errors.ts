import {CareLedgerError} from "../errors.js"

export enum StoreErrorCode {
  /** The database could not be opened (missing permissions, or another process holds its lock). */
  OPEN_FAILED = "STORE_ERROR_OPEN_FAILED",
  /** The store was used after close(). */
  CLOSED = "STORE_ERROR_CLOSED",
  /** The store has no genesis yet: call initialize() first. */
  NOT_INITIALIZED = "STORE_ERROR_NOT_INITIALIZED",
  /** The directory already holds a chain with another genesis. */
  GENESIS_MISMATCH = "STORE_ERROR_GENESIS_MISMATCH",
  /** The genesis block or execution given to initialize() does not fit the genesis document. */
  BAD_GENESIS = "STORE_ERROR_BAD_GENESIS",
  /** A committed block is not for this chain. */
  WRONG_CHAIN = "STORE_ERROR_WRONG_CHAIN",
  /** A committed block's height is not head + 1. */
  BAD_HEIGHT = "STORE_ERROR_BAD_HEIGHT",
  /** A committed block's parent hash is not the head's hash. */
  BAD_PARENT = "STORE_ERROR_BAD_PARENT",
  /** The commit certificate does not finalize the block being committed. */
  BAD_COMMIT = "STORE_ERROR_BAD_COMMIT",
  /** The header's state root differs from the execution's. */
  BAD_STATE_ROOT = "STORE_ERROR_BAD_STATE_ROOT",
  /** The header's validator-set hash is not the hash of the set in force at its height. */
  BAD_VALIDATORS = "STORE_ERROR_BAD_VALIDATORS",
  /** A consensus record key is empty or too long. */
  BAD_KEY = "STORE_ERROR_BAD_KEY",
  /** What is on disk contradicts itself (head vs state root, missing head block, undecodable data). */
  INCONSISTENT = "STORE_ERROR_INCONSISTENT",
}

export class StoreError extends CareLedgerError<StoreErrorCode> {}
