/**
 * `careledger devnet --demo` seeding: two hospitals enrol a few pseudonymous providers, patients and
 * a researcher, store records, grant consents, and read across hospitals, so a new user sees every
 * health flow working and can repeat them with `careledger health` and the key files it writes.
 */
import {mkdirSync, rmSync, writeFileSync} from "node:fs"
import {join} from "node:path"
import {PrivateKey, Purpose, Role} from "@careledger/core"
import {CareLedgerClient, HealthClient, RpcError, TxSender, type FhirResource} from "@careledger/client"
import {writeKeyFile} from "../keystore/index.js"

export interface DemoHospital {
  id: string
  rpcUrl: string
  key: PrivateKey
}

export interface DemoResult {
  records: string[]
  consents: string[]
  /** Key file of each demo person, by name. */
  keys: Record<string, string>
}

/** Pseudonymous, synthetic clinical content: no real person behind any of it. */
function demoObservation(value: number): FhirResource {
  return {
    resourceType: "Observation",
    status: "final",
    code: {coding: [{system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood"}]},
    valueQuantity: {value, unit: "%", system: "http://unitsofmeasure.org", code: "%"},
  }
}

/** `patient` is the enrolled key: a custodian stores only resources about the patient their anchor names. */
function demoCondition(patient: string): FhirResource {
  return {
    resourceType: "Condition",
    clinicalStatus: {coding: [{system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active"}]},
    code: {coding: [{system: "http://snomed.info/sct", code: "44054006", display: "Diabetes mellitus type 2"}]},
    subject: {reference: `Patient/${patient}`},
  }
}

function demoImmunization(patient: string): FhirResource {
  return {
    resourceType: "Immunization",
    status: "completed",
    vaccineCode: {coding: [{system: "http://hl7.org/fhir/sid/cvx", code: "03", display: "MMR"}]},
    patient: {reference: `Patient/${patient}`},
    occurrenceDateTime: "2019-04-01",
  }
}

async function enrol(client: CareLedgerClient, sender: TxSender, role: Role): Promise<PrivateKey> {
  const key = PrivateKey.generate()
  const {hash} = await sender.registerIdentity(key.publicKey, role)
  await client.waitForTx(hash, {timeoutMs: 60_000})
  return key
}

/** Seeds the flows through the nodes' JSON-RPC, reporting each step with `log`. */
export async function seedHealthDemo(
  chainId: string,
  a: DemoHospital,
  b: DemoHospital,
  log: (line: string) => void,
  keysDir?: string,
): Promise<DemoResult> {
  const rpcA = new CareLedgerClient({url: a.rpcUrl, timeoutMs: 60_000})
  const rpcB = new CareLedgerClient({url: b.rpcUrl, timeoutMs: 60_000})
  const healthA = new HealthClient(rpcA, chainId)
  const healthB = new HealthClient(rpcB, chainId)
  const senderA = new TxSender(rpcA, a.key, {chainId})
  const senderB = new TxSender(rpcB, b.key, {chainId})

  const providerA = await enrol(rpcA, senderA, Role.Provider)
  const patients = [await enrol(rpcA, senderA, Role.Patient), await enrol(rpcA, senderA, Role.Patient), await enrol(rpcA, senderA, Role.Patient)]
  const providerB = await enrol(rpcB, senderB, Role.Provider)
  const researcherB = await enrol(rpcB, senderB, Role.Researcher)
  log(`demo: ${a.id} enrolled provider ${providerA.id.slice(0, 12)}… and patients ${patients.map((p) => p.id.slice(0, 8)).join(", ")}…`)
  log(`demo: ${b.id} enrolled provider ${providerB.id.slice(0, 12)}… and researcher ${researcherB.id.slice(0, 12)}…`)

  const resources = [demoObservation(7.2), demoCondition(patients[1]!.id), demoImmunization(patients[2]!.id)]
  const records: string[] = []
  for (const [i, patient] of patients.entries()) {
    const recordId = `demo-${i + 1}-${resources[i]!.resourceType.toLowerCase()}`
    await healthA.putRecord(providerA, {recordId, patient: patient.publicKey, custodian: a.id, resource: resources[i]!})
    records.push(recordId)
  }
  log(`demo: ${a.id} stored ${records.join(", ")} (encrypted in its vault; only salted hashes on chain)`)

  const consents: string[] = []
  const grant = await healthA.grantConsent(patients[0]!, {
    grantee: {kind: "person", key: providerB.publicKey},
    scope: {kind: "resource-types", resourceTypes: ["Observation"]},
    purposes: [Purpose.Treatment],
    expiresAt: Date.now() + 30 * 86_400_000,
  })
  consents.push(grant.consentId)
  const research = await healthA.grantConsent(patients[1]!, {
    grantee: {kind: "hospital", hospital: b.id},
    scope: {kind: "records", recordIds: [records[1]!]},
    purposes: [Purpose.Research],
    expiresAt: Date.now() + 365 * 86_400_000,
  })
  consents.push(research.consentId)
  log(`demo: patient 1 granted ${b.id}'s provider treatment access to Observations; patient 2 granted ${b.id} research access to ${records[1]}`)

  const read = await healthB.readRecord(providerB, {recordId: records[0]!, purpose: Purpose.Treatment})
  log(`demo: ${b.id}'s provider read ${read.recordId} through ${b.id}'s node (fetched from ${read.custodian}, hash checked against the chain)`)
  try {
    await healthB.readRecord(providerB, {recordId: records[2]!, purpose: Purpose.Treatment})
  } catch (err) {
    if (!(err instanceof RpcError)) throw err
    log(`demo: ${b.id}'s provider was refused ${records[2]} (${String(err.data?.reason ?? err.message)}); the refusal is in patient 3's audit trail`)
  }
  await healthB.registerTrial(researcherB, {trialId: "DEMO-TRIAL-1", protocol: "Demo protocol: HbA1c change at 24 weeks"})
  log("demo: the researcher pre-registered DEMO-TRIAL-1")

  const people: Record<string, PrivateKey> = {
    [`${a.id}-provider`]: providerA,
    [`${b.id}-provider`]: providerB,
    [`${b.id}-researcher`]: researcherB,
    ...Object.fromEntries(patients.map((p, i) => [`patient-${i + 1}`, p])),
  }
  const keys: Record<string, string> = {}
  if (keysDir !== undefined) {
    // Synthetic people on a throwaway devnet: each run replaces the previous run's key files.
    rmSync(keysDir, {recursive: true, force: true})
    mkdirSync(keysDir, {recursive: true, mode: 0o700})
    for (const [name, key] of Object.entries(people)) {
      keys[name] = join(keysDir, `${name}.key`)
      writeKeyFile(keys[name], key)
    }
    writeFileSync(join(keysDir, "demo.json"), `${JSON.stringify({chainId, records, consents, people: Object.fromEntries(Object.entries(people).map(([n, k]) => [n, k.id]))}, null, 2)}\n`)
    log(`demo: key files of the demo people are in ${keysDir}; try: careledger health audit --key ${keys["patient-1"]} --url ${a.rpcUrl}`)
  }
  return {records, consents, keys}
}
