import {expect} from "chai"
import {canonicalJson, contentHash} from "@careledger/client"
import {toHex, utf8, sha256} from "@careledger/core"
import {validateFhirResource} from "../../src/health/fhir.js"
import {FhirError, FhirErrorCode} from "../../src/health/errors.js"
import {condition, observation} from "./fixtures.js"

function fhirError(fn: () => unknown): FhirError {
  try {
    fn()
  } catch (err) {
    expect(err).to.be.instanceOf(FhirError)
    return err as FhirError
  }
  throw new Error("expected a FhirError")
}

describe("health/fhir", function () {
  this.timeout(20_000)

  it("accepts valid R4 resources of the clinical types", () => {
    const resources = [
      observation(),
      condition(),
      {resourceType: "MedicationRequest", status: "active", intent: "order", medicationCodeableConcept: {text: "metformin 500 mg"}, subject: {reference: "Patient/x"}},
      {resourceType: "DiagnosticReport", status: "final", code: {text: "Lipid panel"}},
      {resourceType: "DocumentReference", status: "current", content: [{attachment: {contentType: "text/plain", data: "aGVsbG8="}}]},
      {resourceType: "Immunization", status: "completed", vaccineCode: {text: "MMR"}, patient: {reference: "Patient/x"}, occurrenceDateTime: "2020-01-01"},
      {
        resourceType: "AllergyIntolerance",
        clinicalStatus: {coding: [{system: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", code: "active"}]},
        patient: {reference: "Patient/x"},
        code: {text: "penicillin"},
      },
      {resourceType: "Bundle", type: "collection", entry: [{resource: observation()}]},
    ]
    for (const r of resources) expect(validateFhirResource(r).resourceType).to.equal(r.resourceType)
  })

  it("refuses invalid resources with the validator's message", () => {
    const missing = fhirError(() => validateFhirResource({resourceType: "Observation", code: {text: "x"}}))
    expect(missing.code).to.equal(FhirErrorCode.INVALID)
    expect(missing.message).to.contain("Missing required property").and.contain("Observation.status")

    const extra = fhirError(() => validateFhirResource({...observation(), favouriteColour: "blue"}))
    expect(extra.message).to.contain("favouriteColour")

    const wrongType = fhirError(() => validateFhirResource({...observation(), valueQuantity: {value: "7.2"}}))
    expect(wrongType.message).to.contain("expected number")

    const unknown = fhirError(() => validateFhirResource({resourceType: "Spaceship"}))
    expect(unknown.code).to.equal(FhirErrorCode.UNSUPPORTED_TYPE)

    expect(fhirError(() => validateFhirResource([1, 2])).code).to.equal(FhirErrorCode.INVALID)
    expect(fhirError(() => validateFhirResource({status: "final"})).code).to.equal(FhirErrorCode.INVALID)
  })

  it("canonicalises key order so equal resources hash equally, and salts the hash", () => {
    const a = {resourceType: "Observation", status: "final", code: {text: "x", coding: [{code: "1", system: "s"}]}}
    const b = {code: {coding: [{system: "s", code: "1"}], text: "x"}, status: "final", resourceType: "Observation"}
    expect(canonicalJson(a)).to.equal(canonicalJson(b))
    expect(canonicalJson(a)).to.equal('{"code":{"coding":[{"code":"1","system":"s"}],"text":"x"},"resourceType":"Observation","status":"final"}')
    const salt = new Uint8Array(32).fill(9)
    expect(toHex(contentHash(salt, a))).to.equal(toHex(contentHash(salt, b)))
    expect(toHex(contentHash(salt, a))).to.equal(toHex(sha256(salt, utf8(canonicalJson(a)))))
    expect(toHex(contentHash(new Uint8Array(32), a))).to.not.equal(toHex(contentHash(salt, a)))
  })
})
