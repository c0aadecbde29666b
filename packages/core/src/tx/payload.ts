import {HASH_LENGTH} from "../crypto/hash.js"
import {PUBLIC_KEY_LENGTH} from "../crypto/keys.js"
import {TxError, TxErrorCode} from "./errors.js"
import {
  AccessDecisionKind,
  LOGGED_DECISIONS,
  PURPOSES,
  Purpose,
  ROLES,
  Role,
  TxType,
  type AccessLogPayload,
  type AuditAnchorPayload,
  type ConsentGrantee,
  type ConsentGrantPayload,
  type ConsentRevokePayload,
  type ConsentScope,
  type IdentityRegisterPayload,
  type IdentityRevokePayload,
  type PayloadByType,
  type RecordAnchorPayload,
  type RecordErasePayload,
  type TrialAmendPayload,
  type TrialRegisterPayload,
  type TrialResultPayload,
  type ValidatorVoteAction,
  type ValidatorVotePayload,
} from "./types.js"

/** Opaque ids (records, trials, access-log reasons): 1..64 chars of [A-Za-z0-9._-]. */
export const MAX_ID_LENGTH = 64
export const ID_PATTERN = /^[A-Za-z0-9._-]+$/
/** A whole record (or trial) id: the one pattern the node, the vault, the RPC and the chain use. */
export const RECORD_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

export function isRecordId(value: unknown): value is string {
  return typeof value === "string" && RECORD_ID_PATTERN.test(value)
}
/** Hospital ids are shorter and lowercase, matching genesis ("hosp-a"). */
export const MAX_HOSPITAL_ID_LENGTH = 32
export const HOSPITAL_ID_PATTERN = /^[a-z0-9-]+$/
export const MAX_NAME_LENGTH = 128
export const MAX_LEGAL_BASIS_LENGTH = 512
/** Bound of every list in a payload (scope entries, purposes). */
export const MAX_LIST_LENGTH = 32
/** Largest record version; far beyond any real amendment history, it keeps keys fixed-width. */
export const MAX_RECORD_VERSION = 1_000_000

/**
 * FHIR R4 (4.0.1) resource type names. A fixed list rather than a FHIR library: core has no
 * dependency on FHIR tooling, and the chain must agree byte for byte on what it accepts.
 */
export const FHIR_R4_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  "Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment", "AppointmentResponse",
  "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct", "BodyStructure", "Bundle", "CapabilityStatement",
  "CarePlan", "CareTeam", "CatalogEntry", "ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse",
  "ClinicalImpression", "CodeSystem", "Communication", "CommunicationRequest", "CompartmentDefinition", "Composition",
  "ConceptMap", "Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
  "CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric", "DeviceRequest",
  "DeviceUseStatement", "DiagnosticReport", "DocumentManifest", "DocumentReference", "EffectEvidenceSynthesis",
  "Encounter", "Endpoint", "EnrollmentRequest", "EnrollmentResponse", "EpisodeOfCare", "EventDefinition", "Evidence",
  "EvidenceVariable", "ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag", "Goal",
  "GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy", "Immunization",
  "ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide", "InsurancePlan", "Invoice", "Library",
  "Linkage", "List", "Location", "Measure", "MeasureReport", "Media", "Medication", "MedicationAdministration",
  "MedicationDispense", "MedicationKnowledge", "MedicationRequest", "MedicationStatement", "MedicinalProduct",
  "MedicinalProductAuthorization", "MedicinalProductContraindication", "MedicinalProductIndication",
  "MedicinalProductIngredient", "MedicinalProductInteraction", "MedicinalProductManufactured",
  "MedicinalProductPackaged", "MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect",
  "MessageDefinition", "MessageHeader", "MolecularSequence", "NamingSystem", "NutritionOrder", "Observation",
  "ObservationDefinition", "OperationDefinition", "OperationOutcome", "Organization", "OrganizationAffiliation",
  "Parameters", "Patient", "PaymentNotice", "PaymentReconciliation", "Person", "PlanDefinition", "Practitioner",
  "PractitionerRole", "Procedure", "Provenance", "Questionnaire", "QuestionnaireResponse", "RelatedPerson",
  "RequestGroup", "ResearchDefinition", "ResearchElementDefinition", "ResearchStudy", "ResearchSubject",
  "RiskAssessment", "RiskEvidenceSynthesis", "Schedule", "SearchParameter", "ServiceRequest", "Slot", "Specimen",
  "SpecimenDefinition", "StructureDefinition", "StructureMap", "Subscription", "Substance", "SubstanceNucleicAcid",
  "SubstancePolymer", "SubstanceProtein", "SubstanceReferenceInformation", "SubstanceSourceMaterial",
  "SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task", "TerminologyCapabilities", "TestReport",
  "TestScript", "ValueSet", "VerificationResult", "VisionPrescription",
])

const ROLE_SET: ReadonlySet<string> = new Set(ROLES)
const PURPOSE_SET: ReadonlySet<string> = new Set(PURPOSES)
const DECISIONS: ReadonlySet<string> = new Set(LOGGED_DECISIONS)
/** Longest break-glass reason ("unconscious in ED, suspected overdose"), free text without control characters. */
export const MAX_BREAK_GLASS_REASON_LENGTH = 256
const CONSENT_ID_PATTERN = /^[0-9a-f]{64}$/

/**
 * Checks that a decoded payload has exactly the shape of its type (no missing or extra keys, right
 * types, known enum values) and that every field is within its size limit; returns it typed.
 * Throws TxError BAD_PAYLOAD (wrong shape) or FIELD_TOO_LARGE (over a limit), naming the field.
 */
export function parsePayload<T extends TxType>(type: T, payload: unknown): PayloadByType[T] {
  const parser = Object.hasOwn(PARSERS, type) ? (PARSERS[type] as (raw: Fields) => PayloadByType[T]) : undefined
  if (parser === undefined) throw new TxError(TxErrorCode.UNKNOWN_TYPE, `unknown transaction type ${JSON.stringify(type)}`)
  return parser(fieldsOf(payload, type, PAYLOAD_KEYS[type], OPTIONAL_KEYS[type]))
}

/** Keys that may be absent (never null: absence is the one encoding of "not given"). */
const OPTIONAL_KEYS: Partial<Record<TxType, readonly string[]>> = {
  [TxType.IdentityRegister]: ["patient"],
}

type Fields = Record<string, unknown>

const PAYLOAD_KEYS: {[K in TxType]: readonly (keyof PayloadByType[K] & string)[]} = {
  [TxType.IdentityRegister]: ["key", "role", "patient"],
  [TxType.IdentityRevoke]: ["key"],
  [TxType.RecordAnchor]: ["recordId", "patient", "resourceType", "custodian", "contentHash", "version", "previous"],
  [TxType.ConsentGrant]: ["grantee", "scope", "purposes", "expiresAt"],
  [TxType.ConsentRevoke]: ["consentId"],
  [TxType.AccessLog]: ["recordId", "reader", "purpose", "decision", "reason", "consentId", "height", "at", "via", "breakGlassReason"],
  [TxType.RecordErase]: ["recordId", "legalBasis"],
  [TxType.TrialRegister]: ["trialId", "protocolHash"],
  [TxType.TrialAmend]: ["trialId", "protocolHash"],
  [TxType.TrialResult]: ["trialId", "resultsHash", "datasetHash"],
  [TxType.ValidatorVote]: ["action", "hospital", "key", "name"],
  [TxType.AuditAnchor]: ["sequence", "head"],
}

const PARSERS: {[K in TxType]: (raw: Fields) => PayloadByType[K]} = {
  [TxType.IdentityRegister]: (p): IdentityRegisterPayload => {
    const role = enumField(p, "role", ROLE_SET) as Role
    const hasPatient = Object.hasOwn(p, "patient")
    if ((role === Role.Proxy) !== hasPatient) throw badPayload("patient", "a proxy names the patient it acts for; no other role does")
    const key = bytesField(p, "key", PUBLIC_KEY_LENGTH)
    return hasPatient ? {key, role, patient: bytesField(p, "patient", PUBLIC_KEY_LENGTH)} : {key, role}
  },
  [TxType.IdentityRevoke]: (p): IdentityRevokePayload => ({key: bytesField(p, "key", PUBLIC_KEY_LENGTH)}),
  [TxType.RecordAnchor]: (p): RecordAnchorPayload => {
    const version = intField(p, "version", 1, MAX_RECORD_VERSION)
    const previous = p["previous"] === null ? null : bytesField(p, "previous", HASH_LENGTH)
    if ((version === 1) !== (previous === null)) {
      throw badPayload("previous", "previous must be null for version 1 and the prior content hash otherwise")
    }
    return {
      recordId: idField(p, "recordId"),
      patient: bytesField(p, "patient", PUBLIC_KEY_LENGTH),
      resourceType: resourceTypeField(p, "resourceType"),
      custodian: hospitalIdField(p, "custodian"),
      contentHash: bytesField(p, "contentHash", HASH_LENGTH),
      version,
      previous,
    }
  },
  [TxType.ConsentGrant]: (p): ConsentGrantPayload => ({
    grantee: granteeField(p["grantee"]),
    scope: scopeField(p["scope"]),
    purposes: listField(p, "purposes", (value, field) => enumValue(value, field, PURPOSE_SET) as Purpose),
    expiresAt: intField(p, "expiresAt", 0, Number.MAX_SAFE_INTEGER),
  }),
  [TxType.ConsentRevoke]: (p): ConsentRevokePayload => ({consentId: consentIdField(p, "consentId")}),
  [TxType.AccessLog]: (p): AccessLogPayload => ({
    recordId: idField(p, "recordId"),
    reader: bytesField(p, "reader", PUBLIC_KEY_LENGTH),
    purpose: enumField(p, "purpose", PURPOSE_SET) as Purpose,
    decision: enumField(p, "decision", DECISIONS) as AccessDecisionKind,
    reason: idField(p, "reason"),
    consentId: p["consentId"] === null ? null : consentIdField(p, "consentId"),
    height: intField(p, "height", 0, Number.MAX_SAFE_INTEGER),
    at: intField(p, "at", 0, Number.MAX_SAFE_INTEGER),
    via: hospitalIdField(p, "via"),
    breakGlassReason: p["breakGlassReason"] === null ? null : textField(p, "breakGlassReason", MAX_BREAK_GLASS_REASON_LENGTH),
  }),
  [TxType.RecordErase]: (p): RecordErasePayload => ({
    recordId: idField(p, "recordId"),
    legalBasis: p["legalBasis"] === null ? null : textField(p, "legalBasis", MAX_LEGAL_BASIS_LENGTH),
  }),
  [TxType.TrialRegister]: (p): TrialRegisterPayload => ({
    trialId: idField(p, "trialId"),
    protocolHash: bytesField(p, "protocolHash", HASH_LENGTH),
  }),
  [TxType.TrialAmend]: (p): TrialAmendPayload => ({
    trialId: idField(p, "trialId"),
    protocolHash: bytesField(p, "protocolHash", HASH_LENGTH),
  }),
  [TxType.TrialResult]: (p): TrialResultPayload => ({
    trialId: idField(p, "trialId"),
    resultsHash: bytesField(p, "resultsHash", HASH_LENGTH),
    datasetHash: p["datasetHash"] === null ? null : bytesField(p, "datasetHash", HASH_LENGTH),
  }),
  [TxType.ValidatorVote]: (p): ValidatorVotePayload => {
    const action = enumField(p, "action", new Set(["add", "remove", "withdraw-add", "withdraw-remove"])) as ValidatorVoteAction
    // Only an addition needs the hospital's display name; the others name it by id and key.
    const name = action !== "add" && p["name"] === "" ? "" : textField(p, "name", MAX_NAME_LENGTH)
    return {action, hospital: hospitalIdField(p, "hospital"), key: bytesField(p, "key", PUBLIC_KEY_LENGTH), name}
  },
  [TxType.AuditAnchor]: (p): AuditAnchorPayload => ({
    sequence: intField(p, "sequence", 1, Number.MAX_SAFE_INTEGER),
    head: bytesField(p, "head", HASH_LENGTH),
  }),
}

function badPayload(field: string, message: string): TxError {
  return new TxError(TxErrorCode.BAD_PAYLOAD, `${field}: ${message}`, {field})
}

function tooLarge(field: string, message: string): TxError {
  return new TxError(TxErrorCode.FIELD_TOO_LARGE, `${field}: ${message}`, {field})
}

/** A plain map with exactly `keys` (a canonical decoder yields plain objects; anything else is wrong). */
function fieldsOf(value: unknown, field: string, keys: readonly string[], optional: readonly string[] = []): Fields {
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw badPayload(field, "must be a map")
  }
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) throw badPayload(field, "must be a plain map")
  const present = Object.keys(value)
  for (const key of present) {
    if (!keys.includes(key)) throw badPayload(`${field}.${key}`, "unexpected field")
  }
  for (const key of keys) {
    if (!Object.hasOwn(value, key) && !optional.includes(key)) throw badPayload(`${field}.${key}`, "missing field")
  }
  return value as Fields
}

function bytesField(p: Fields, field: string, length: number): Uint8Array {
  return bytesValue(p[field], field, length)
}

function bytesValue(value: unknown, field: string, length: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw badPayload(field, "must be bytes")
  if (value.length > length) throw tooLarge(field, `must be ${length} bytes, got ${value.length}`)
  if (value.length !== length) throw badPayload(field, `must be ${length} bytes, got ${value.length}`)
  return value
}

function intField(p: Fields, field: string, min: number, max: number): number {
  const value = p[field]
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw badPayload(field, "must be a safe integer")
  if (value > max) throw tooLarge(field, `must be at most ${max}`)
  if (value < min) throw badPayload(field, `must be at least ${min}`)
  return value
}

function stringValue(value: unknown, field: string, maxLength: number, pattern?: RegExp): string {
  if (typeof value !== "string") throw badPayload(field, "must be a string")
  if (value.length > maxLength) throw tooLarge(field, `at most ${maxLength} characters, got ${value.length}`)
  if (value.length === 0) throw badPayload(field, "must not be empty")
  if (pattern !== undefined && !pattern.test(value)) throw badPayload(field, `must match ${pattern.source}`)
  return value
}

function idField(p: Fields, field: string): string {
  return idValue(p[field], field)
}

function idValue(value: unknown, field: string): string {
  return stringValue(value, field, MAX_ID_LENGTH, ID_PATTERN)
}

function hospitalIdField(p: Fields, field: string): string {
  return hospitalIdValue(p[field], field)
}

function hospitalIdValue(value: unknown, field: string): string {
  return stringValue(value, field, MAX_HOSPITAL_ID_LENGTH, HOSPITAL_ID_PATTERN)
}

function textField(p: Fields, field: string, maxLength: number): string {
  const value = stringValue(p[field], field, maxLength)
  // Control characters have no place in a name or a legal citation and would corrupt logs and UIs.
  if (/[\u0000-\u001f\u007f]/.test(value)) throw badPayload(field, "must not contain control characters")
  return value
}

function consentIdField(p: Fields, field: string): string {
  return stringValue(p[field], field, 64, CONSENT_ID_PATTERN)
}

function resourceTypeField(p: Fields, field: string): string {
  return resourceTypeValue(p[field], field)
}

function resourceTypeValue(value: unknown, field: string): string {
  const type = stringValue(value, field, MAX_ID_LENGTH)
  if (!FHIR_R4_RESOURCE_TYPES.has(type)) throw badPayload(field, `${JSON.stringify(type)} is not a FHIR R4 resource type`)
  return type
}

function enumField(p: Fields, field: string, allowed: ReadonlySet<string>): string {
  return enumValue(p[field], field, allowed)
}

function enumValue(value: unknown, field: string, allowed: ReadonlySet<string>): string {
  if (typeof value !== "string" || !allowed.has(value)) {
    throw badPayload(field, `must be one of ${[...allowed].join(", ")}`)
  }
  return value
}

/** A non-empty list of at most MAX_LIST_LENGTH distinct entries. */
function listField<V>(p: Fields, field: string, item: (value: unknown, field: string) => V): V[] {
  const value = p[field]
  if (!Array.isArray(value)) throw badPayload(field, "must be a list")
  if (value.length > MAX_LIST_LENGTH) throw tooLarge(field, `at most ${MAX_LIST_LENGTH} entries, got ${value.length}`)
  if (value.length === 0) throw badPayload(field, "must not be empty")
  const items = value.map((entry: unknown, index: number) => item(entry, `${field}[${index}]`))
  if (new Set(items).size !== items.length) throw badPayload(field, "must not repeat entries")
  return items
}

function granteeField(value: unknown): ConsentGrantee {
  if (value !== null && typeof value === "object" && (value as Fields)["kind"] === "person") {
    const p = fieldsOf(value, "grantee", ["kind", "key"])
    return {kind: "person", key: bytesValue(p["key"], "grantee.key", PUBLIC_KEY_LENGTH)}
  }
  if (value !== null && typeof value === "object" && (value as Fields)["kind"] === "hospital") {
    const p = fieldsOf(value, "grantee", ["kind", "hospital"])
    return {kind: "hospital", hospital: hospitalIdValue(p["hospital"], "grantee.hospital")}
  }
  throw badPayload("grantee", "must be {kind: person, key} or {kind: hospital, hospital}")
}

function scopeField(value: unknown): ConsentScope {
  if (value !== null && typeof value === "object" && (value as Fields)["kind"] === "resource-types") {
    const p = fieldsOf(value, "scope", ["kind", "resourceTypes"])
    return {kind: "resource-types", resourceTypes: listField(p, "resourceTypes", resourceTypeValue)}
  }
  if (value !== null && typeof value === "object" && (value as Fields)["kind"] === "records") {
    const p = fieldsOf(value, "scope", ["kind", "recordIds"])
    return {kind: "records", recordIds: listField(p, "recordIds", idValue)}
  }
  throw badPayload("scope", "must be {kind: resource-types, resourceTypes} or {kind: records, recordIds}")
}
