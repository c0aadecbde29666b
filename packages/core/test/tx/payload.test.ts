import {expect} from "chai"
import {
  FHIR_R4_RESOURCE_TYPES,
  Purpose,
  TxErrorCode,
  TxType,
  parsePayload,
  type TxError,
} from "../../src/index.js"

const hash = new Uint8Array(32)
const anchor = (over: Record<string, unknown> = {}) => ({
  recordId: "rec-1", patient: new Uint8Array(32), resourceType: "Observation", custodian: "hosp-a", contentHash: hash, version: 1, previous: null, ...over,
})
const grant = (over: Record<string, unknown> = {}) => ({
  grantee: {kind: "person", key: new Uint8Array(32)}, scope: {kind: "resource-types", resourceTypes: ["Observation"]}, purposes: [Purpose.Treatment], expiresAt: 10, ...over,
})

function failure(type: TxType, payload: unknown): {code: string | undefined; message: string; field: unknown} {
  try {
    parsePayload(type, payload)
  } catch (err) {
    const e = err as TxError
    return {code: e.code, message: e.message, field: e.details["field"]}
  }
  return {code: undefined, message: "", field: undefined}
}

describe("tx/payload: exact shapes and limits", function () {
  it("accepts ids up to 64 characters and refuses 65, empty ones and other characters", function () {
    expect(parsePayload(TxType.RecordAnchor, anchor({recordId: "a".repeat(64)})).recordId).to.have.length(64)
    expect(failure(TxType.RecordAnchor, anchor({recordId: "a".repeat(65)}))).to.include({code: TxErrorCode.FIELD_TOO_LARGE, field: "recordId"})
    expect(failure(TxType.RecordAnchor, anchor({recordId: ""}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "recordId"})
    expect(failure(TxType.RecordAnchor, anchor({recordId: "a/b"}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "recordId"})
    expect(failure(TxType.RecordAnchor, anchor({custodian: "Hosp_A"}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "custodian"})
  })

  it("refuses missing and extra keys, wrong types and unknown enum values", function () {
    const {previous: _p, ...missing} = anchor()
    expect(failure(TxType.RecordAnchor, missing)).to.include({code: TxErrorCode.BAD_PAYLOAD})
    expect(failure(TxType.RecordAnchor, missing).message).to.match(/previous/)
    expect(failure(TxType.RecordAnchor, anchor({note: "x"})).message).to.match(/note: unexpected/)
    expect(failure(TxType.RecordAnchor, anchor({version: "1"}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "version"})
    expect(failure(TxType.RecordAnchor, anchor({version: 0}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "version"})
    expect(failure(TxType.ConsentGrant, grant({purposes: ["marketing"]}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "purposes[0]"})
    expect(failure(TxType.ConsentGrant, grant({grantee: {kind: "person", key: hash, extra: 1}}))).to.include({code: TxErrorCode.BAD_PAYLOAD})
    expect(failure(TxType.ConsentGrant, grant({grantee: {kind: "group"}}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "grantee"})
    expect(failure(TxType.ConsentGrant, [])).to.include({code: TxErrorCode.BAD_PAYLOAD})
    expect(failure(TxType.ConsentGrant, null)).to.include({code: TxErrorCode.BAD_PAYLOAD})
    expect(failure("__proto__" as TxType, {})).to.include({code: TxErrorCode.UNKNOWN_TYPE})
  })

  it("ties previous to the version: null exactly for version 1", function () {
    expect(failure(TxType.RecordAnchor, anchor({previous: hash}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "previous"})
    expect(failure(TxType.RecordAnchor, anchor({version: 2}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "previous"})
    expect(parsePayload(TxType.RecordAnchor, anchor({version: 2, previous: hash})).version).to.equal(2)
  })

  it("bounds lists at 32 distinct, non-empty entries", function () {
    const types = [...FHIR_R4_RESOURCE_TYPES].slice(0, 33)
    expect(parsePayload(TxType.ConsentGrant, grant({scope: {kind: "resource-types", resourceTypes: types.slice(0, 32)}})).scope).to.deep.include({kind: "resource-types"})
    expect(failure(TxType.ConsentGrant, grant({scope: {kind: "resource-types", resourceTypes: types}}))).to.include({code: TxErrorCode.FIELD_TOO_LARGE})
    expect(failure(TxType.ConsentGrant, grant({scope: {kind: "records", recordIds: []}}))).to.include({code: TxErrorCode.BAD_PAYLOAD})
    expect(failure(TxType.ConsentGrant, grant({purposes: [Purpose.Research, Purpose.Research]}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "purposes"})
  })

  it("accepts FHIR R4 resource type names only", function () {
    expect(FHIR_R4_RESOURCE_TYPES.size).to.be.greaterThan(140)
    for (const type of ["Patient", "Observation", "DiagnosticReport", "MedicationRequest", "AuditEvent", "Consent"]) {
      expect(parsePayload(TxType.RecordAnchor, anchor({resourceType: type})).resourceType).to.equal(type)
    }
    for (const type of ["observation", "Resource", "DomainResource", "AccessPolicy", "Observation "]) {
      expect(failure(TxType.RecordAnchor, anchor({resourceType: type}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "resourceType"})
    }
  })

  it("checks hash and key lengths, safe integers and bounded text", function () {
    expect(failure(TxType.TrialResult, {trialId: "t", resultsHash: new Uint8Array(31), datasetHash: null})).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "resultsHash"})
    expect(failure(TxType.TrialResult, {trialId: "t", resultsHash: hash, datasetHash: new Uint8Array(33)})).to.include({code: TxErrorCode.FIELD_TOO_LARGE, field: "datasetHash"})
    expect(failure(TxType.ConsentGrant, grant({expiresAt: 1.5}))).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "expiresAt"})
    expect(failure(TxType.RecordErase, {recordId: "r", legalBasis: ""})).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "legalBasis"})
    expect(failure(TxType.RecordErase, {recordId: "r", legalBasis: "line\nbreak"})).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "legalBasis"})
    expect(parsePayload(TxType.RecordErase, {recordId: "r", legalBasis: "x".repeat(512)}).legalBasis).to.have.length(512)
    expect(failure(TxType.ValidatorVote, {action: "add", hospital: "hosp-d", key: hash, name: ""})).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "name"})
    expect(parsePayload(TxType.ValidatorVote, {action: "remove", hospital: "hosp-d", key: hash, name: ""}).name).to.equal("")
    expect(failure(TxType.ConsentRevoke, {consentId: "A".repeat(64)})).to.include({code: TxErrorCode.BAD_PAYLOAD, field: "consentId"})
  })
})
