import {CareLedgerError} from "@careledger/core"

export enum FhirErrorCode {
  /** The resource failed FHIR R4 validation; the message is the validator's. */
  INVALID = "FHIR_ERROR_INVALID",
  /** A resource type CareLedger does not store (e.g. Patient: identities never leave the EHR). */
  UNSUPPORTED_TYPE = "FHIR_ERROR_UNSUPPORTED_TYPE",
}

export class FhirError extends CareLedgerError<FhirErrorCode> {}

export enum VaultErrorCode {
  /** AES-GCM authentication failed: the ciphertext or wrapped key was altered on disk. */
  TAMPERED = "VAULT_ERROR_TAMPERED",
  NOT_FOUND = "VAULT_ERROR_NOT_FOUND",
  /** The vault key file is missing, unreadable, of the wrong size or too widely readable. */
  BAD_KEY = "VAULT_ERROR_BAD_KEY",
  CLOSED = "VAULT_ERROR_CLOSED",
  BAD_ID = "VAULT_ERROR_BAD_ID",
}

export class VaultError extends CareLedgerError<VaultErrorCode> {}

/** Signed-request errors belong to the request wire format, in core. */
export {RequestError, RequestErrorCode} from "@careledger/core"

export enum HealthErrorCode {
  /** The reader has no consent covering this record and purpose (details.reason says which check failed). */
  ACCESS_DENIED = "HEALTH_ERROR_ACCESS_DENIED",
  RECORD_NOT_FOUND = "HEALTH_ERROR_RECORD_NOT_FOUND",
  /** The record was erased: its key and ciphertext are destroyed, only the salted hash remains on chain. */
  RECORD_ERASED = "HEALTH_ERROR_RECORD_ERASED",
  /** The anchor transaction does not match the resource/salt, or is not a record.anchor of this hospital. */
  BAD_ANCHOR = "HEALTH_ERROR_BAD_ANCHOR",
  /** Content from a custodian did not hash to the finalized anchor (tampered or substituted). */
  CONTENT_MISMATCH = "HEALTH_ERROR_CONTENT_MISMATCH",
  /** The custodian hospital could not be reached or answered nonsense. */
  CUSTODIAN_UNAVAILABLE = "HEALTH_ERROR_CUSTODIAN_UNAVAILABLE",
  /** The transaction is not of the type this method takes. */
  WRONG_TX_TYPE = "HEALTH_ERROR_WRONG_TX_TYPE",
  /** The chain refused the transaction (details carry the state machine's code). */
  TX_REJECTED = "HEALTH_ERROR_TX_REJECTED",
  /** Waiting for finality took longer than allowed; the transaction may still finalize. */
  NOT_FINAL = "HEALTH_ERROR_NOT_FINAL",
  TRIAL_NOT_FOUND = "HEALTH_ERROR_TRIAL_NOT_FOUND",
  BAD_PARAMS = "HEALTH_ERROR_BAD_PARAMS",
  /** The resource's subject or patient is another patient than its anchor names, or no patient the chain knows. */
  WRONG_PATIENT = "HEALTH_ERROR_WRONG_PATIENT",
  /** The audit request was not signed by the patient it names. */
  NOT_PATIENT = "HEALTH_ERROR_NOT_PATIENT",
  /** Too many access-log entries are waiting for finality: reads pause until some finalize. */
  BUSY = "HEALTH_ERROR_BUSY",
  /** The interaction journal on disk was altered: an entry's hash or its link to the one before does not hold. */
  JOURNAL_BROKEN = "HEALTH_ERROR_JOURNAL_BROKEN",
  /** The interaction journal does not hold the entry this hospital's finalized `audit.anchor` pins (shorter, or another entry there). */
  JOURNAL_NOT_ANCHORED = "HEALTH_ERROR_JOURNAL_NOT_ANCHORED",
}

export class HealthError extends CareLedgerError<HealthErrorCode> {}
