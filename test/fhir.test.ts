/**
 * The FHIR face of a real network: 3 validator processes (real libp2p on loopback, real LevelDB,
 * real HTTP), driven through a FHIR client from npm (fhir-kit-client) with SMART backend tokens.
 * Every resource a node returns is also checked by an independent validator (the `fhir` package),
 * and the curl examples of docs/fhir.md are run as written.
 */
import {expect} from "chai"
import {execFile} from "node:child_process"
import {randomBytes} from "node:crypto"
import {readFile} from "node:fs/promises"
import {join} from "node:path"
import {promisify} from "node:util"
import {Client} from "fhir-kit-client"
import {Fhir} from "fhir"
import {PrivateKey, Purpose, Role} from "@careledger/core"
import {
  CareLedgerClient,
  HealthClient,
  TxSender,
  buildClientAssertion,
  fhirWriteHeaders,
  tokenRequestBody,
  type FhirResource,
} from "@careledger/client"
import {readKeyFile, writeKeyFile, type DevnetPlan} from "@careledger/node"
import {Cluster, eventually} from "./helpers/cluster.js"

const independent = new Fhir()

function checked(resource: FhirResource): FhirResource {
  const result = independent.validate(resource) as {messages: {severity: string; message: string; location?: string}[]}
  const errors = result.messages.filter((m) => m.severity === "error")
  expect(errors, JSON.stringify(errors)).to.deep.equal([])
  return resource
}

async function failure(p: Promise<unknown>): Promise<{status: number; data: FhirResource}> {
  try {
    await p
  } catch (err) {
    const e = err as {response?: {status: number; data: unknown}}
    if (e.response === undefined) throw err
    const data = (typeof e.response.data === "string" ? JSON.parse(e.response.data) : e.response.data) as FhirResource
    return {status: e.response.status, data}
  }
  throw new Error("expected the request to fail")
}

/** A DocumentReference carrying a scanned PDF of `bytes` bytes (random content, PDF header). */
function scannedPdf(id: string, patient: string, bytes: number): FhirResource & {id: string} {
  const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(bytes)])
  return {
    resourceType: "DocumentReference",
    id,
    status: "current",
    subject: {reference: `Patient/${patient}`},
    content: [{attachment: {contentType: "application/pdf", title: "discharge-letter-scan.pdf", creation: "2026-11-20T09:30:00Z", data: pdf.toString("base64")}}],
  }
}

function observation(id: string, patient: string, value: number): FhirResource & {id: string} {
  return {
    resourceType: "Observation",
    id,
    status: "final",
    code: {coding: [{system: "http://loinc.org", code: "4548-4"}], text: "HbA1c"},
    subject: {reference: `Patient/${patient}`},
    effectiveDateTime: "2026-11-20T09:30:00Z",
    valueQuantity: {value, unit: "%", system: "http://unitsofmeasure.org", code: "%"},
  }
}

describe("FHIR endpoint across hospitals (3 nodes, multi-process, fhir-kit-client)", function () {
  this.timeout(180_000)

  let cluster: Cluster
  let plan: DevnetPlan
  let chainId: string
  let rpcA: CareLedgerClient
  let rpcB: CareLedgerClient
  let healthA: HealthClient
  let providerA: PrivateKey
  let providerB: PrivateKey
  let patient: PrivateKey

  before(async () => {
    cluster = await Cluster.create({nodes: 3, fresh: true, chainId: "fhir-story", blockIntervalMs: 300})
    plan = cluster.plan
    plan.nodes.forEach((_, i) => cluster.start(i))
    await Promise.all(plan.nodes.map((_, i) => cluster.ready(i)))
    for (const node of plan.nodes) await eventually(async () => ((await fetch(`${node.fhirUrl}/metadata`)).ok ? true : undefined), "the FHIR endpoint")
    chainId = plan.chainId
    rpcA = new CareLedgerClient({url: plan.nodes[0]!.rpcUrl, timeoutMs: 60_000})
    rpcB = new CareLedgerClient({url: plan.nodes[1]!.rpcUrl, timeoutMs: 60_000})
    healthA = new HealthClient(rpcA, chainId)
    const enrol = async (client: CareLedgerClient, sender: TxSender, role: Role): Promise<PrivateKey> => {
      const key = PrivateKey.generate()
      await client.waitForTx((await sender.registerIdentity(key.publicKey, role)).hash, {timeoutMs: 60_000})
      return key
    }
    const senderA = new TxSender(rpcA, readKeyFile(join(plan.nodes[0]!.dataDir, "node.key")), {chainId})
    const senderB = new TxSender(rpcB, readKeyFile(join(plan.nodes[1]!.dataDir, "node.key")), {chainId})
    providerA = await enrol(rpcA, senderA, Role.Provider)
    patient = await enrol(rpcA, senderA, Role.Patient)
    providerB = await enrol(rpcB, senderB, Role.Provider)
  })

  after(async () => {
    await cluster.destroy()
  })

  async function token(fhirUrl: string, key: PrivateKey, scope: string): Promise<string> {
    const tokenUrl = `${fhirUrl}/auth/token`
    const res = await fetch(tokenUrl, {
      method: "POST",
      headers: {"content-type": "application/x-www-form-urlencoded"},
      body: tokenRequestBody(buildClientAssertion(key, {tokenUrl, purposeOfUse: "TREAT"}), scope),
    })
    const body = (await res.json()) as {access_token?: string; error_description?: string}
    if (res.status !== 200) throw new Error(`token ${res.status}: ${body.error_description}`)
    return body.access_token!
  }

  async function create(client: Client, resource: FhirResource & {id: string}): Promise<FhirResource> {
    const headers = fhirWriteHeaders(
      {chainId, nonce: await rpcA.getNonce(providerA.id), patient: patient.publicKey, custodian: plan.nodes[0]!.hospital, resource},
      providerA,
    )
    return (await client.create({resourceType: resource.resourceType, body: resource, options: {headers}})) as FhirResource
  }

  it("creates at A, reads across hospitals with and without consent, vreads, searches, $everything, AuditEvent", async () => {
    const fhirA = plan.nodes[0]!.fhirUrl
    const fhirB = plan.nodes[1]!.fhirUrl
    const writerA = new Client({baseUrl: fhirA, bearerToken: await token(fhirA, providerA, "system/*.read system/*.write")})
    checked((await writerA.capabilityStatement()) as FhirResource)

    const created = checked(await create(writerA, observation("obs-1", patient.id, 7.2)))
    expect((created.meta as {versionId: string}).versionId).to.equal("1")

    // Refused without consent through B's node: 403 OperationOutcome, decided and logged by A.
    const readerB = new Client({baseUrl: fhirB, bearerToken: await token(fhirB, providerB, "system/Observation.read system/DocumentReference.read")})
    const denied = await eventually(async () => {
      const f = await failure(readerB.read({resourceType: "Observation", id: "obs-1"}))
      return f.status === 404 ? undefined : f // B's node may be a block behind A
    }, "B to see the anchor")
    expect(denied.status).to.equal(403)
    checked(denied.data)
    expect(JSON.stringify(denied.data)).to.contain("NO_CONSENT")

    // Consent stays patient-signed on the RPC; then B's provider reads through B's node.
    await healthA.grantConsent(patient, {
      grantee: {kind: "person", key: providerB.publicKey},
      scope: {kind: "resource-types", resourceTypes: ["Observation", "DocumentReference"]},
      purposes: [Purpose.Treatment],
      expiresAt: Date.now() + 3_600_000,
    })
    const fetched = checked(
      await eventually(async () => (await readerB.read({resourceType: "Observation", id: "obs-1"}).catch(() => undefined)) as FhirResource | undefined, "B's consented read"),
    )
    expect((fetched.valueQuantity as {value: number}).value).to.equal(7.2)
    const v1 = checked((await readerB.vread({resourceType: "Observation", id: "obs-1", version: "1"})) as FhirResource)
    expect((v1.meta as {versionId: string}).versionId).to.equal("1")

    // A 5 MB scanned PDF: stored at A, fetched by B over the record exchange, hash checked, byte for byte.
    const scan = scannedPdf("doc-scan", patient.id, 5_000_000)
    checked(await create(writerA, scan))
    const scanAtB = (await readerB.read({resourceType: "DocumentReference", id: "doc-scan"})) as FhirResource & {content: {attachment: {data: string}}[]}
    expect(scanAtB.content[0]!.attachment.data).to.equal((scan.content as {attachment: {data: string}}[])[0]!.attachment.data)

    // Validation through the real endpoint names the element.
    const bad = {...observation("obs-bad", patient.id, 1), effectiveDateTime: "2023-02-30"}
    const invalid = await failure(create(writerA, bad))
    expect(invalid.status).to.equal(400)
    checked(invalid.data)
    expect((invalid.data.issue as {expression: string[]}[])[0]!.expression).to.deep.equal(["Observation.effectiveDateTime"])

    // Search at the custodian (the patient consents to hospital A's staff as well), paged.
    await healthA.grantConsent(patient, {
      grantee: {kind: "hospital", hospital: plan.nodes[0]!.hospital},
      scope: {kind: "resource-types", resourceTypes: ["Observation"]},
      purposes: [Purpose.Treatment],
      expiresAt: Date.now() + 3_600_000,
    })
    checked(await create(writerA, observation("obs-2", patient.id, 6.4)))
    const page = checked((await writerA.search({resourceType: "Observation", searchParams: {patient: patient.id, _count: 1}})) as FhirResource)
    expect((page.entry as unknown[]).length).to.equal(1)
    const second = checked((await writerA.nextPage({bundle: page as never})) as FhirResource)
    expect((second.entry as {resource: {id: string}}[])[0]!.resource.id).to.equal("obs-2")

    // The patient: $everything and the audit trail, with the refusal and the releases.
    const self = new Client({baseUrl: fhirA, bearerToken: await token(fhirA, patient, "patient/*.read")})
    // A record of the same patient held by hospital B: $everything at A fetches it from B over libp2p.
    const writerB = new Client({baseUrl: fhirB, bearerToken: await token(fhirB, providerB, "system/*.write")})
    const atB = observation("obs-b1", patient.id, 8.1)
    const headersB = fhirWriteHeaders({chainId, nonce: await rpcB.getNonce(providerB.id), patient: patient.publicKey, custodian: plan.nodes[1]!.hospital, resource: atB}, providerB)
    await writerB.create({resourceType: "Observation", body: atB, options: {headers: headersB}})
    const everything = await eventually(async () => {
      const bundle = checked((await self.operation({name: "$everything", resourceType: "Patient", id: patient.id, method: "GET"})) as FhirResource)
      const ids = ((bundle.entry ?? []) as {resource: {id: string}}[]).map((e) => e.resource.id).sort()
      return ids.includes("obs-b1") ? ids : undefined // A's node may be a block behind B
    }, "$everything at A to include B's record")
    expect(everything).to.deep.equal(["doc-scan", "obs-1", "obs-2", "obs-b1"])
    const audit = await eventually(async () => {
      const bundle = checked((await self.search({resourceType: "AuditEvent", searchParams: {patient: patient.id, _count: 100}})) as FhirResource)
      const outcomes = ((bundle.entry ?? []) as {resource: {outcome: string}}[]).map((e) => e.resource.outcome)
      return outcomes.includes("4") && outcomes.includes("0") ? bundle : undefined
    }, "the refusal and the releases in the AuditEvent search")
    expect(audit.type).to.equal("searchset")
    const consents = checked((await self.search({resourceType: "Consent", searchParams: {patient: patient.id}})) as FhirResource)
    expect(consents.total).to.equal(2)

    // A's node pins its journal on chain with its node key; the restart below is checked against that anchor.
    // The first anchor may pin only the first entry; later entries go into the next one, an interval later.
    const anchor = await eventually(async () => {
      const latest = await rpcA.call("chain_journalAnchor", {hospital: plan.nodes[0]!.hospital})
      return latest !== null && latest.sequence >= 2 ? latest : undefined
    }, "A's journal anchored on chain past its search and export")
    expect(anchor.sequence).to.be.at.least(2)
    const anchorTx = (await rpcA.getTx(anchor.txHash))?.tx
    expect(anchorTx?.type).to.equal("audit.anchor")
    expect(anchorTx?.sender).to.equal(readKeyFile(join(plan.nodes[0]!.dataDir, "node.key")).id)

    // Searches and exports are journalled before they are answered: A killed with SIGKILL right
    // after still shows them when it is back.
    await cluster.kill(0)
    cluster.start(0)
    await cluster.ready(0)
    await eventually(async () => ((await fetch(`${fhirA}/metadata`)).ok ? true : undefined), "A's FHIR endpoint after the restart")
    const afterKill = new Client({baseUrl: fhirA, bearerToken: await token(fhirA, patient, "patient/*.read")})
    type Event = {type: {code: string}; subtype: {code: string}[]; entity: {role: {code: string}; query?: string}[]}
    const trail = checked((await afterKill.search({resourceType: "AuditEvent", searchParams: {patient: patient.id, _count: 100}})) as FhirResource)
    const events = ((trail.entry ?? []) as {resource: Event}[]).map((e) => e.resource)
    const queries = events.flatMap((e) => e.entity.filter((x) => x.role.code === "24").map((x) => Buffer.from(x.query!, "base64").toString("utf8")))
    expect(queries).to.include(`Observation?patient=${patient.id}&_count=1`)
    expect(events.some((e) => e.type.code === "110106" && e.subtype[0]!.code === "operation")).to.equal(true)
  })

  it("runs the curl examples of docs/fhir.md as written", async () => {
    const fhirA = plan.nodes[0]!.fhirUrl
    const writerA = new Client({baseUrl: fhirA, bearerToken: await token(fhirA, providerA, "system/*.write")})
    await create(writerA, observation("obs-doc", patient.id, 5.9))
    writeKeyFile(join(cluster.dir, "provider.key"), providerA)
    writeKeyFile(join(cluster.dir, "patient.key"), patient)
    const doc = await readFile(new URL("../../docs/fhir.md", import.meta.url), "utf8")
    const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!)
    expect(blocks.length).to.be.greaterThan(3)
    const script = `set -euo pipefail\n${blocks.join("\n")}\necho all-examples-ran\n`
    const {stdout} = await promisify(execFile)("bash", ["-c", script], {
      cwd: new URL("../..", import.meta.url).pathname,
      env: {...process.env, FHIR: fhirA, KEY_FILE: join(cluster.dir, "provider.key"), PATIENT_KEY_FILE: join(cluster.dir, "patient.key"), PATIENT: patient.id, RECORD: "obs-doc"},
      timeout: 120_000,
    })
    expect(stdout).to.contain("all-examples-ran")
  })
})
