import type {FhirResource} from "@careledger/client"

/**
 * A realistic R4 Observation whose strings the PHI scans look for. `patient` is the subject's id:
 * the enrolled key (or a Patient id anchored for it) when the resource is stored, since a custodian
 * refuses a resource about another patient than its anchor names.
 */
export function observation(value = 7.2, patient = "pseudo-7f3a"): FhirResource {
  return {
    resourceType: "Observation",
    status: "final",
    category: [{coding: [{system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory"}]}],
    code: {coding: [{system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood"}], text: "HbA1c"},
    subject: {reference: `Patient/${patient}`, display: "Zebulon Quixotic-Fairweather"},
    effectiveDateTime: "2026-11-20T09:30:00Z",
    valueQuantity: {value, unit: "%", system: "http://unitsofmeasure.org", code: "%"},
  }
}

export function condition(patient = "pseudo-7f3a"): FhirResource {
  return {
    resourceType: "Condition",
    clinicalStatus: {coding: [{system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active"}]},
    code: {coding: [{system: "http://snomed.info/sct", code: "44054006", display: "Diabetes mellitus type 2"}]},
    subject: {reference: `Patient/${patient}`},
  }
}
