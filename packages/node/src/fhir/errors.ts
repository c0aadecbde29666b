import {CareLedgerError} from "@careledger/core"

export enum FhirApiErrorCode {
  /** No or an unknown/expired bearer token (HTTP 401). */
  UNAUTHENTICATED = "FHIR_API_ERROR_UNAUTHENTICATED",
  /** The token's scopes or the consent decision do not allow this interaction (HTTP 403). */
  FORBIDDEN = "FHIR_API_ERROR_FORBIDDEN",
  NOT_FOUND = "FHIR_API_ERROR_NOT_FOUND",
  /** The resource was erased (HTTP 410 Gone). */
  GONE = "FHIR_API_ERROR_GONE",
  /** Malformed request: bad JSON, parameter, header or resource (HTTP 400). */
  BAD_REQUEST = "FHIR_API_ERROR_BAD_REQUEST",
  /** A valid resource that breaks a business rule (another patient, wrong anchor) (HTTP 422). */
  UNPROCESSABLE = "FHIR_API_ERROR_UNPROCESSABLE",
  /** Interaction or search parameter this server does not support (HTTP 400/405/501 by case). */
  NOT_SUPPORTED = "FHIR_API_ERROR_NOT_SUPPORTED",
  TOO_LARGE = "FHIR_API_ERROR_TOO_LARGE",
  /** The version being updated is not the current one (HTTP 409). */
  CONFLICT = "FHIR_API_ERROR_CONFLICT",
  /** The custodian hospital could not be reached (HTTP 502). */
  UPSTREAM = "FHIR_API_ERROR_UPSTREAM",
  /** A write was accepted but not final in time (HTTP 504). */
  TIMEOUT = "FHIR_API_ERROR_TIMEOUT",
}

/** A failure of the FHIR endpoint, answered as an OperationOutcome with `status`. */
export class FhirApiError extends CareLedgerError<FhirApiErrorCode> {
  constructor(
    code: FhirApiErrorCode,
    message: string,
    readonly status: number,
    /** OperationOutcome.issue.code (FHIR IssueType). */
    readonly issueType: string,
    details: Record<string, unknown> = {},
    /** FHIRPath expressions of the elements at fault. */
    readonly expression: string[] = [],
  ) {
    super(code, message, details)
  }
}

export function operationOutcome(issues: {severity: "fatal" | "error" | "warning" | "information"; code: string; diagnostics: string; expression?: string[]}[]): {
  resourceType: "OperationOutcome"
  issue: unknown[]
} {
  return {
    resourceType: "OperationOutcome",
    issue: issues.map((i) => ({
      severity: i.severity,
      code: i.code,
      diagnostics: i.diagnostics,
      details: {text: i.diagnostics},
      ...(i.expression === undefined || i.expression.length === 0 ? {} : {expression: i.expression}),
    })),
  }
}
