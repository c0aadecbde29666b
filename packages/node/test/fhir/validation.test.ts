import {expect} from "chai"
import {validateFhirResource, validateFhirResourceStrict, dateProblem, narrativeProblem} from "../../src/health/fhir.js"
import {FhirErrorCode} from "../../src/health/errors.js"

function refusal(resource: unknown): {code: string; message: string; expressions: string[]} {
  try {
    validateFhirResourceStrict(resource)
  } catch (err) {
    const e = err as {code: string; message: string; details: {expressions?: string[]}}
    return {code: e.code, message: e.message, expressions: e.details.expressions ?? []}
  }
  throw new Error("expected the resource to be refused")
}

/** Each resource passes structure validation and is refused by the strict checks, naming exactly its element. */
function expectRefusedByStrictOnly(cases: [unknown, string, RegExp][]): void {
    for (const [resource, where, message] of cases) {
      expect(() => validateFhirResource(resource), `${where} passes structure validation`).to.not.throw()
      const r = refusal(resource)
      expect(r.code).to.equal(FhirErrorCode.INVALID)
      expect(r.expressions, where).to.deep.equal([where])
      expect(r.message).to.match(message).and.to.contain(`(${where})`)
    }
}

const obs = (extra: Record<string, unknown>) => ({resourceType: "Observation", status: "final", code: {text: "HbA1c"}, ...extra})

describe("health/fhir strict validation (what a FHIR server checks beyond structure)", function () {
  this.timeout(30_000)

  it("refuses what structure validation alone accepts, naming the element", () => {
    const cases: [unknown, string, RegExp][] = [
      [obs({status: "bogus"}), "Observation.status", /required value set .*observation-status/],
      [{resourceType: "Patient", gender: "xyz"}, "Patient.gender", /administrative-gender/],
      [{resourceType: "Patient", id: "bad id!"}, "Patient.id", /not a FHIR id/],
      [obs({effectiveDateTime: "2023-01-01T10:00:00"}), "Observation.effectiveDateTime", /no time zone/],
      [obs({effectiveDateTime: "2023-02-30"}), "Observation.effectiveDateTime", /not a calendar date/],
      [obs({effectivePeriod: {start: "2023-02-29T10:00:00Z"}}), "Observation.effectivePeriod.start", /calendar date/],
      [obs({issued: "2023-02-30T10:00:00Z"}), "Observation.issued", /calendar date/],
      [{resourceType: "Patient", birthDate: "1990-02-30"}, "Patient.birthDate", /calendar date/],
      [
        {resourceType: "Patient", text: {status: "generated", div: '<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>x</div>'}},
        "Patient.text.div",
        /active content/,
      ],
      [{resourceType: "Patient", text: {status: "generated", div: '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">hi</p></div>'}}, "Patient.text.div", /active content/],
      [{resourceType: "Patient", text: {status: "generated", div: "<p>no div</p>"}}, "Patient.text.div", /txt-1/],
      [{resourceType: "Patient", text: {status: "generated", div: '<div xmlns="http://www.w3.org/1999/xhtml"> </div>'}}, "Patient.text.div", /txt-2/],
      [obs({component: [{code: {text: "x"}, valueDateTime: "2020-02-30"}]}), "Observation.component[0].valueDateTime", /calendar date/],
    ]
    expectRefusedByStrictOnly(cases)
  })

  it("refuses codes outside the required value sets of datatypes, naming the element path", () => {
    const cases: [unknown, string, RegExp][] = [
      [{resourceType: "Patient", identifier: [{use: "primary", value: "1"}]}, "Patient.identifier[0].use", /identifier-use/],
      [{resourceType: "Patient", name: [{use: "nickname"}, {use: "alias", family: "Doe"}]}, "Patient.name[1].use", /name-use/],
      [{resourceType: "Patient", telecom: [{system: "telex", value: "1"}]}, "Patient.telecom[0].system", /contact-point-system/],
      [{resourceType: "Patient", telecom: [{system: "phone", use: "cell", value: "1"}]}, "Patient.telecom[0].use", /contact-point-use/],
      [{resourceType: "Patient", address: [{use: "vacation"}]}, "Patient.address[0].use", /address-use/],
      [{resourceType: "Patient", address: [{type: "virtual"}]}, "Patient.address[0].type", /address-type/],
      [obs({valueQuantity: {value: 5, comparator: "~"}}), "Observation.valueQuantity.comparator", /quantity-comparator/],
      [{resourceType: "Patient", text: {status: "draft", div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}}, "Patient.text.status", /narrative-status/],
      // Datatypes inside backbone elements and inside other datatypes.
      [obs({component: [{code: {text: "x"}, valueQuantity: {value: 1, comparator: "=="}}]}), "Observation.component[0].valueQuantity.comparator", /quantity-comparator/],
      [{resourceType: "Patient", contact: [{telecom: [{system: "fax", use: "home2", value: "1"}]}]}, "Patient.contact[0].telecom[0].use", /contact-point-use/],
      [{resourceType: "Patient", identifier: [{value: "1", assigner: {identifier: {use: "bogus", value: "h"}}}]}, "Patient.identifier[0].assigner.identifier.use", /identifier-use/],
      [
        {resourceType: "MedicationRequest", status: "active", intent: "order", medicationCodeableConcept: {text: "x"}, subject: {reference: "Patient/p"}, dosageInstruction: [{timing: {repeat: {periodUnit: "fortnight"}}}]},
        "MedicationRequest.dosageInstruction[0].timing.repeat.periodUnit",
        /units-of-time/,
      ],
    ]
    expectRefusedByStrictOnly(cases)
  })

  it("accepts valid codes, partial dates, zoned times and safe narrative", () => {
    for (const resource of [
      obs({effectiveDateTime: "2023"}),
      obs({effectiveDateTime: "2023-02"}),
      obs({effectiveDateTime: "2024-02-29"}),
      obs({effectiveDateTime: "2023-01-01T10:00:00+01:00", issued: "2023-01-01T10:00:00.123Z"}),
      obs({valueQuantity: {value: 5, comparator: "<=", unit: "%"}, component: [{code: {text: "x"}, valueQuantity: {value: 1, comparator: ">"}}]}),
      {resourceType: "Patient", identifier: [{use: "official", value: "1"}], name: [{use: "maiden", family: "Roe"}], telecom: [{system: "email", use: "work", value: "a@b.c"}]},
      {resourceType: "Patient", address: [{use: "home", type: "both"}], text: {status: "extensions", div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}},
      {resourceType: "DocumentReference", status: "current", content: [{attachment: {contentType: "application/pdf", data: "AA=="}}]},
      {resourceType: "Patient", id: "p-1.a", gender: "female", birthDate: "1990-02-28", text: {status: "generated", div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>Jane <b>Doe</b></p></div>'}},
    ]) {
      expect(() => validateFhirResourceStrict(resource)).to.not.throw()
    }
    expect(dateProblem("2023-02-29", "date")).to.match(/calendar/)
    expect(narrativeProblem('<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:x()">a</a></div>')).to.match(/active content/)
  })
})
