/**
 * The link between an enrolled patient key and the way a custodian's resources name that patient:
 * `Patient/<key>`, or `Patient/<id>` of a Patient record anchored on chain for the key (the anchor
 * is the link, so no other table is kept). One rule for every write (`record_put` on the RPC,
 * create and update on the FHIR endpoint) and for the FHIR endpoint's patient parameters.
 */
import {Role, getIdentity, loadRecord, type StateReader} from "@careledger/core"
import type {FhirResource} from "@careledger/core"
import {HealthError, HealthErrorCode} from "./errors.js"

/** The elements by which a resource says whose it is. */
const SUBJECT_ELEMENTS = ["subject", "patient"] as const

/** The enrolled patient key a `Patient/<id>` reference names; `where` names the element in errors. */
export async function patientKeyOf(state: StateReader, reference: string, where: string): Promise<string> {
  const m = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(reference)
  if (m === null) throw new HealthError(HealthErrorCode.BAD_PARAMS, `${JSON.stringify(reference)} is not a Patient reference (${where})`, {expressions: [where]})
  const id = m[1]!
  if (/^[0-9a-f]{64}$/.test(id) && (await getIdentity(state, id))?.role === Role.Patient) return id
  const record = await loadRecord(state, id)
  if (record !== undefined && record.resourceType === "Patient") return record.patient
  throw new HealthError(HealthErrorCode.WRONG_PATIENT, `Patient/${id} is neither an enrolled patient key nor a Patient anchored on chain (${where})`, {expressions: [where]})
}

/**
 * Refuses a resource whose `subject` or `patient` reference names another patient than `patient`
 * (the key its anchor names), or a patient this chain does not know.
 */
export async function checkPatientLink(state: StateReader, resource: FhirResource, patient: string): Promise<void> {
  for (const element of SUBJECT_ELEMENTS) {
    const reference = (resource as Record<string, {reference?: unknown} | undefined>)[element]?.reference
    if (typeof reference !== "string") continue
    const where = `${resource.resourceType}.${element}`
    if ((await patientKeyOf(state, reference, where)) !== patient) {
      throw new HealthError(HealthErrorCode.WRONG_PATIENT, `${where} names another patient than the anchor does`, {expressions: [where], patient})
    }
  }
}
