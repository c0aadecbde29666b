import {expect} from "chai"
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {Client} from "fhir-kit-client"
import {Fhir} from "fhir"
import {PrivateKey, Purpose, Role, TxType, fromHex, getNextNonce, loadRecord, loadRecordVersions, toHex} from "@careledger/core"
import {buildClientAssertion, buildConsentGrant, buildConsentRevoke, buildRecordAnchor, tokenRequestBody, type FhirResource, type PurposeOfUseCode} from "@careledger/client"
import {HealthService} from "../../src/health/service.js"
import {Vault} from "../../src/health/vault.js"
import {FhirServer, forwardedAssertionVerifier} from "../../src/fhir/index.js"
import {MAX_RESOURCE_BYTES} from "../../src/health/fhir.js"
import {DirectExchange, LocalChain, makeGenesis} from "../health/harness.js"

const independent = new Fhir()

/** Every resource the node returns is also checked by an independent validator (the `fhir` package). */
function checked(resource: FhirResource): FhirResource {
  const result = independent.validate(resource) as {valid: boolean; messages: {severity: string; message: string; location?: string}[]}
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

describe("fhir/server (two hospitals, real HTTP, fhir-kit-client)", function () {
  this.timeout(60_000)

  let dir: string
  let chain: LocalChain
  const keyA = PrivateKey.generate()
  const keyB = PrivateKey.generate()
  let services: HealthService[]
  let servers: FhirServer[]
  let providerA: PrivateKey
  let providerB: PrivateKey
  let patient: PrivateKey
  let otherPatient: PrivateKey

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-fhir-"))
    chain = new LocalChain(makeGenesis([{id: "hosp-a", key: keyA}, {id: "hosp-b", key: keyB}]))
    const exchanges = [new DirectExchange("hosp-a"), new DirectExchange("hosp-b")]
    services = [
      ["hosp-a", keyA],
      ["hosp-b", keyB],
    ].map(([hospital, key], i) =>
      new HealthService(
        {hospital: hospital as string},
        {...chain.deps(), vault: new Vault({datadir: join(dir, String(i))}), nodeKey: key as PrivateKey, exchange: exchanges[i], verifyForwardedAssertion: forwardedAssertionVerifier()},
      ),
    )
    for (const ex of exchanges) {
      ex.services.set("hosp-a", services[0]!)
      ex.services.set("hosp-b", services[1]!)
    }
    for (const s of services) await s.start()
    servers = services.map(
      (health) =>
        new FhirServer(
          {port: 0},
          {
            health,
            chain: chain.deps().chain,
            blockTime: async (height) => chain.blocks[height - 1]?.header.timestamp,
          },
        ),
    )
    for (const s of servers) await s.start()
    providerA = await chain.enrol(keyA, Role.Provider)
    patient = await chain.enrol(keyA, Role.Patient)
    otherPatient = await chain.enrol(keyA, Role.Patient)
    providerB = await chain.enrol(keyB, Role.Provider)
  })

  afterEach(async () => {
    try {
      for (const s of servers ?? []) await s.stop()
      for (const s of services ?? []) await s.stop()
    } finally {
      // Even when setting up failed half way, the temp dir goes.
      await rm(dir, {recursive: true, force: true})
    }
  })

  async function token(server: FhirServer, key: PrivateKey, scope: string, purposeOfUse: PurposeOfUseCode = "TREAT"): Promise<string> {
    const tokenUrl = `${server.url}/auth/token`
    const res = await fetch(tokenUrl, {
      method: "POST",
      headers: {"content-type": "application/x-www-form-urlencoded"},
      body: tokenRequestBody(buildClientAssertion(key, {tokenUrl, purposeOfUse}), scope),
    })
    const body = (await res.json()) as {access_token?: string; error?: string; error_description?: string}
    if (res.status !== 200) throw new Error(`token ${res.status}: ${body.error} ${body.error_description}`)
    return body.access_token!
  }

  function client(server: FhirServer, bearer: string): Client {
    return new Client({baseUrl: server.url!, bearerToken: bearer})
  }

  /** What a provider's app sends: the resource, and the anchor it signed over the salted hash. */
  async function anchorHeaders(provider: PrivateKey, resource: FhirResource, patientKey: PrivateKey, version = 1, previous?: string): Promise<Record<string, string>> {
    const nonce = await getNextNonce(chain.state, provider.id)
    const {tx, salt} = buildRecordAnchor(
      {chainId: chain.genesis.chainId, nonce, recordId: resource.id as string, patient: patientKey.publicKey, custodian: provider === providerB ? "hosp-b" : "hosp-a", resource, version, previous: previous === undefined ? null : fromHex(previous)!},
      provider,
    )
    return {"X-CareLedger-Anchor": toHex(tx.serialize()), "X-CareLedger-Salt": toHex(salt)}
  }

  async function grant(grantee: {kind: "person"; key: Uint8Array} | {kind: "hospital"; hospital: string}): Promise<void> {
    const nonce = await getNextNonce(chain.state, patient.id)
    await chain.submit(
      buildConsentGrant(
        {chainId: chain.genesis.chainId, nonce, grantee, scope: {kind: "resource-types", resourceTypes: ["Observation"]}, purposes: [Purpose.Treatment], expiresAt: Date.now() + 3_600_000},
        patient,
      ),
    )
  }

  function observation(id: string, subject: string, value = 7.2): FhirResource {
    return {
      resourceType: "Observation",
      id,
      status: "final",
      code: {coding: [{system: "http://loinc.org", code: "4548-4"}], text: "HbA1c"},
      subject: {reference: subject},
      effectiveDateTime: "2026-11-20T09:30:00Z",
      valueQuantity: {value, unit: "%", system: "http://unitsofmeasure.org", code: "%"},
    }
  }

  it("serves a valid CapabilityStatement and SMART configuration without a token", async () => {
    const cs = (await new Client({baseUrl: servers[0]!.url!}).capabilityStatement()) as FhirResource
    checked(cs)
    expect(cs.fhirVersion).to.equal("4.0.1")
    const smart = (await (await fetch(`${servers[0]!.url}/.well-known/smart-configuration`)).json()) as Record<string, unknown>
    expect(smart.token_endpoint).to.equal(`${servers[0]!.url}/auth/token`)
    expect(smart.token_endpoint_auth_signing_alg_values_supported).to.deep.equal(["EdDSA"])
  })

  it("behind a proxy: the public URL is the token audience and the base of links", async () => {
    const proxied = new FhirServer(
      {port: 0, publicUrl: "https://fhir.hosp-a.example/fhir"},
      {health: services[0]!, chain: chain.deps().chain, blockTime: async () => undefined},
    )
    await proxied.start()
    try {
      const form = (tokenUrl: string) => ({
        method: "POST",
        headers: {"content-type": "application/x-www-form-urlencoded"},
        body: tokenRequestBody(buildClientAssertion(providerA, {tokenUrl, purposeOfUse: "TREAT"}), "system/*.read"),
      })
      expect((await fetch(`${proxied.listenUrl}/auth/token`, form("https://fhir.hosp-a.example/fhir/auth/token"))).status).to.equal(200)
      expect((await fetch(`${proxied.listenUrl}/auth/token`, form(`${proxied.listenUrl}/auth/token`))).status).to.equal(401)
      const smart = (await (await fetch(`${proxied.listenUrl}/.well-known/smart-configuration`)).json()) as {token_endpoint: string}
      expect(smart.token_endpoint).to.equal("https://fhir.hosp-a.example/fhir/auth/token")
    } finally {
      await proxied.stop()
    }
  })

  it("links a local Patient id to the enrolled key through its anchor and refuses resources about another patient", async () => {
    const writer = client(servers[0]!, await token(servers[0]!, providerA, "system/*.write"))
    const local: FhirResource = {resourceType: "Patient", id: "mrn-0042", gender: "female", birthDate: "1980-04-01"}
    checked((await writer.create({resourceType: "Patient", body: local, options: {headers: await anchorHeaders(providerA, local, patient)}})) as FhirResource)
    // Patient/mrn-0042 now names `patient`: a resource about it anchored for `patient` is accepted ...
    const ok = observation("obs-local", "Patient/mrn-0042")
    checked((await writer.create({resourceType: "Observation", body: ok, options: {headers: await anchorHeaders(providerA, ok, patient)}})) as FhirResource)
    // ... and one anchored for another patient is refused, naming the element.
    const other = observation("obs-other", "Patient/mrn-0042")
    const refused = await failure(writer.create({resourceType: "Observation", body: other, options: {headers: await anchorHeaders(providerA, other, otherPatient)}}))
    expect(refused.status).to.equal(422)
    expect((refused.data.issue as {expression: string[]}[])[0]!.expression).to.deep.equal(["Observation.subject"])
    expect(await loadRecord(chain.state, "obs-other")).to.equal(undefined)
    // A reference to a patient nobody anchored is refused too.
    const unknown = observation("obs-unknown", "Patient/nobody")
    expect((await failure(writer.create({resourceType: "Observation", body: unknown, options: {headers: await anchorHeaders(providerA, unknown, patient)}}))).status).to.equal(422)
  })

  it("releases a break-glass read without consent to a provider's ETREAT token, flagged in the header and the AuditEvent", async () => {
    const writer = client(servers[0]!, await token(servers[0]!, providerA, "system/*.write"))
    const obs = observation("obs-bg", `Patient/${patient.id}`)
    await writer.create({resourceType: "Observation", body: obs, options: {headers: await anchorHeaders(providerA, obs, patient)}})
    const emergency = await token(servers[1]!, providerB, "system/*.read", "ETREAT")
    const res = await fetch(`${servers[1]!.url}/Observation/obs-bg`, {headers: {authorization: `Bearer ${emergency}`}})
    expect(res.status).to.equal(200)
    expect(res.headers.get("x-careledger-break-glass")).to.equal("true")
    checked((await res.json()) as FhirResource)
    const self = client(servers[0]!, await token(servers[0]!, patient, "patient/*.read"))
    const audit = checked((await self.search({resourceType: "AuditEvent", searchParams: {patient: patient.id, _count: 100}})) as FhirResource)
    const flagged = (audit.entry as {resource: {meta?: {security?: {code: string}[]}; purposeOfEvent?: {coding: {code: string}[]}[]}}[]).map((e) => e.resource).find((r) => r.meta?.security?.[0]?.code === "BTG")
    expect(flagged?.purposeOfEvent?.[0]?.coding[0]?.code).to.equal("ETREAT")
    // Only providers may ask for it.
    expect(await token(servers[0]!, patient, "patient/*.read", "ETREAT").catch((e: Error) => e.message)).to.match(/invalid_scope/)
  })

  type BalpEvent = {
    id: string
    type: {system: string; code: string}
    subtype: {code: string}[]
    action: string
    outcome: string
    outcomeDesc?: string
    agent: {type: {coding: {code: string}[]}; who: {identifier?: {value: string}; display?: string}}[]
    source: {site?: string}
    entity: {what?: {reference?: string}; role: {code: string}; query?: string; description?: string}[]
  }

  async function trail(server: FhirServer, bearer: string, patientId: string): Promise<BalpEvent[]> {
    const bundle = checked((await client(server, bearer).search({resourceType: "AuditEvent", searchParams: {patient: patientId, _count: 100}})) as FhirResource)
    return ((bundle.entry ?? []) as {resource: BalpEvent}[]).map((e) => e.resource)
  }

  it("journals searches, exports and scope refusals and shows them in the patient's AuditEvent trail (BALP)", async () => {
    const writer = client(servers[0]!, await token(servers[0]!, providerA, "system/*.read system/*.write"))
    const obs = observation("obs-j", `Patient/${patient.id}`)
    await writer.create({resourceType: "Observation", body: obs, options: {headers: await anchorHeaders(providerA, obs, patient)}})
    await grant({kind: "hospital", hospital: "hosp-a"})
    // A token without Observation scope: 403 before any consent decision, journalled.
    const narrow = client(servers[0]!, await token(servers[0]!, providerA, "system/Condition.read"))
    expect((await failure(narrow.read({resourceType: "Observation", id: "obs-j"}))).status).to.equal(403)
    expect((await failure(narrow.search({resourceType: "Observation", searchParams: {patient: patient.id}}))).status).to.equal(403)
    // A search and an export.
    await writer.search({resourceType: "Observation", searchParams: {patient: patient.id, _count: 5}})
    const self = await token(servers[0]!, patient, "patient/*.read")
    await client(servers[0]!, self).operation({name: "$everything", resourceType: "Patient", id: patient.id, method: "GET"})

    const events = await trail(servers[0]!, self, patient.id)
    const provider = (e: BalpEvent) => e.agent[0]!.who.identifier!.value
    const providerDid = (await trail(servers[0]!, self, patient.id)).find((e) => e.subtype[0]!.code === "create")!.agent[0]!.who.identifier!.value
    const search = events.find((e) => e.subtype[0]!.code === "search-type" && e.outcome === "0" && provider(e) === providerDid)!
    expect(search.type.code).to.equal("rest")
    expect(search.action).to.equal("E")
    expect(search.source.site).to.equal("hosp-a")
    expect(search.agent.map((a) => a.type.coding[0]!.code)).to.deep.equal(["IRCP", "110153", "110152"])
    expect(search.entity[0]!.what!.reference).to.equal(`Patient/${patient.id}`)
    const query = search.entity.find((e) => e.role.code === "24")!
    expect(Buffer.from(query.query!, "base64").toString("utf8")).to.equal(`Observation?patient=${patient.id}&_count=5`)
    const exported = events.find((e) => e.subtype[0]!.code === "operation")!
    expect([exported.type.system, exported.type.code, exported.outcome]).to.deep.equal(["http://dicom.nema.org/resources/ontology/DCM", "110106", "0"])
    expect(exported.agent[0]!.type.coding[0]!.code).to.equal("PAT")
    const refusals = events.filter((e) => e.outcome === "4" && provider(e) === providerDid)
    expect(refusals.map((e) => e.subtype[0]!.code).sort()).to.deep.equal(["read", "search-type"])
    const refusedRead = refusals.find((e) => e.subtype[0]!.code === "read")!
    expect(refusedRead.entity.map((e) => e.what?.reference)).to.deep.equal([`Patient/${patient.id}`, "Observation/obs-j"])
    expect(refusedRead.outcomeDesc).to.match(/scopes \(system\/Condition\.read\) do not allow reading Observation/)
    // The journal's hash chain holds.
    expect((await services[0]!.interactions.verify()).brokenAt).to.equal(null)
  })

  it("auditors search any patient's Consent and AuditEvent with a system/ scope; patients only their own; anyone else 403, journalled", async () => {
    const auditor = PrivateKey.generate()
    // An auditor key that was enrolled and then revoked on chain is refused though it is listed.
    const revokedAuditor = await chain.enrol(keyA, Role.Researcher)
    await chain.send(keyA, TxType.IdentityRevoke, {key: revokedAuditor.publicKey})
    const audited = new FhirServer(
      {port: 0, auditors: [auditor.id, revokedAuditor.id]},
      {
        health: services[0]!,
        chain: chain.deps().chain,
        blockTime: async (height) => chain.blocks[height - 1]?.header.timestamp,
      },
    )
    await audited.start()
    servers.push(audited)
    await grant({kind: "hospital", hospital: "hosp-a"})
    const writer = client(audited, await token(audited, providerA, "system/*.write"))
    const obs = observation("obs-aud", `Patient/${patient.id}`)
    await writer.create({resourceType: "Observation", body: obs, options: {headers: await anchorHeaders(providerA, obs, patient)}})

    // The auditor's key is named by this node (not enrolled): its token holds only the audit scopes.
    const tokenUrl = `${audited.url}/auth/token`
    const granted = (await (
      await fetch(tokenUrl, {method: "POST", headers: {"content-type": "application/x-www-form-urlencoded"}, body: tokenRequestBody(buildClientAssertion(auditor, {tokenUrl, purposeOfUse: "HOPERAT"}), "system/*.read system/*.write")})
    ).json()) as {scope: string; access_token: string}
    expect(granted.scope).to.equal("system/Consent.read system/AuditEvent.read")
    const asAuditor = client(audited, granted.access_token)
    const consents = checked((await asAuditor.search({resourceType: "Consent", searchParams: {patient: patient.id}})) as FhirResource)
    expect(consents.total).to.equal(1)
    expect(((await trail(audited, granted.access_token, patient.id)).map((e) => e.subtype[0]!.code))).to.include("create")
    expect((await failure(asAuditor.search({resourceType: "AuditEvent", searchParams: {}}))).status).to.equal(400)
    // Records are not for auditors (refused by scope, journalled).
    expect((await failure(asAuditor.read({resourceType: "Observation", id: "obs-aud"}))).status).to.equal(403)
    expect(await token(audited, PrivateKey.generate(), "system/*.read").catch((e: Error) => e.message)).to.match(/invalid_client/)
    expect(await token(audited, revokedAuditor, "system/AuditEvent.read").catch((e: Error) => e.message)).to.match(/token 401: invalid_client .*revoked/)
    expect(await token(audited, auditor, "system/*.read", "ETREAT").catch((e: Error) => e.message)).to.match(/invalid_scope/)

    // A provider may not search the trail or the consents; a patient not another patient's.
    const providerToken = client(audited, await token(audited, providerA, "system/*.read"))
    const refusedProvider = await failure(providerToken.search({resourceType: "AuditEvent", searchParams: {patient: patient.id}}))
    expect(refusedProvider.status).to.equal(403)
    expect((await failure(providerToken.search({resourceType: "Consent", searchParams: {patient: patient.id}}))).status).to.equal(403)
    const nosy = client(audited, await token(audited, patient, "patient/*.read"))
    expect((await failure(nosy.search({resourceType: "AuditEvent", searchParams: {patient: otherPatient.id}}))).status).to.equal(403)
    expect((await failure(nosy.search({resourceType: "Consent", searchParams: {patient: otherPatient.id}}))).status).to.equal(403)
    // The patient's own: fine.
    expect(((await nosy.search({resourceType: "Consent", searchParams: {patient: patient.id}})) as FhirResource).total).to.equal(1)

    // The auditor sees each refusal on the trail of the patient it concerned.
    const patientTrail = await trail(audited, granted.access_token, patient.id)
    const byProvider = patientTrail.filter((e) => e.outcome === "4" && e.agent[0]!.type.coding[0]!.code === "IRCP" && e.agent[1]!.who.display === "SMART client (provider)")
    expect(byProvider.map((e) => e.entity.find((x) => x.role.code === "24")!.description).sort()).to.deep.equal([`AuditEvent?patient=${patient.id}`, `Consent?patient=${patient.id}`])
    const auditorRead = patientTrail.find((e) => e.outcome === "4" && e.agent[1]!.who.display === "SMART client (auditor)")!
    expect(auditorRead.entity.map((e) => e.what?.reference)).to.deep.equal([`Patient/${patient.id}`, "Observation/obs-aud"])
    const otherTrail = await trail(audited, granted.access_token, otherPatient.id)
    const byPatient = otherTrail.filter((e) => e.outcome === "4")
    expect(byPatient).to.have.length(2)
    expect(byPatient.every((e) => e.agent[1]!.who.display === "SMART client (patient)" && e.entity[0]!.what!.reference === `Patient/${otherPatient.id}`)).to.equal(true)
    // The auditor's own searches are on the trail too.
    expect(otherTrail.some((e) => e.outcome === "0" && e.agent[1]!.who.display === "SMART client (auditor)")).to.equal(false)
    expect((await trail(audited, granted.access_token, otherPatient.id)).some((e) => e.outcome === "0" && e.agent[1]!.who.display === "SMART client (auditor)")).to.equal(true)
  })

  it("refuses requests without a token, a token in the URL, and a forged or unenrolled client", async () => {
    const anonymous = await failure(new Client({baseUrl: servers[0]!.url!}).read({resourceType: "Observation", id: "x"}))
    expect(anonymous.status).to.equal(401)
    expect(anonymous.data.resourceType).to.equal("OperationOutcome")
    const inUrl = await fetch(`${servers[0]!.url}/Observation/x?access_token=abc`)
    expect(inUrl.status).to.equal(400)
    const stranger = PrivateKey.generate()
    const err = await token(servers[0]!, stranger, "system/*.read").catch((e: Error) => e.message)
    expect(err).to.match(/token 401: invalid_client .*not enrolled/)
    // A patient cannot obtain system scopes.
    const patientSystem = await token(servers[0]!, patient, "system/*.read").catch((e: Error) => e.message)
    expect(patientSystem).to.match(/token 400: invalid_scope/)
  })

  it("create, read, vread, update, search, consent across hospitals, $everything, Consent and AuditEvent search", async () => {
    const subject = `Patient/${patient.id}`
    const writerA = client(servers[0]!, await token(servers[0]!, providerA, "system/*.read system/*.write"))
    const obs = observation("obs-1", subject)
    const created = checked((await writerA.create({resourceType: "Observation", body: obs, options: {headers: await anchorHeaders(providerA, obs, patient)}})) as FhirResource)
    expect((created.meta as {versionId: string}).versionId).to.equal("1")

    // Providers read with consent, also at the custodian: the patient consents to hospital A's staff.
    await grant({kind: "hospital", hospital: "hosp-a"})
    const read = checked((await writerA.read({resourceType: "Observation", id: "obs-1"})) as FhirResource)
    expect((read.valueQuantity as {value: number}).value).to.equal(7.2)

    // Version 2 through PUT; vread still returns version 1.
    const v1Hash = (await loadRecordVersions(chain.state, "obs-1"))[0]!.contentHash
    const obs2 = observation("obs-1", subject, 6.9)
    const updated = checked((await writerA.update({resourceType: "Observation", id: "obs-1", body: obs2, options: {headers: await anchorHeaders(providerA, obs2, patient, 2, v1Hash)}})) as FhirResource)
    expect((updated.meta as {versionId: string}).versionId).to.equal("2")
    const old = checked((await writerA.vread({resourceType: "Observation", id: "obs-1", version: "1"})) as FhirResource)
    expect((old.valueQuantity as {value: number}).value).to.equal(7.2)

    // A resource about another patient than the anchor names is refused.
    const wrong = observation("obs-2", `Patient/${otherPatient.id}`)
    const refused = await failure(writerA.create({resourceType: "Observation", body: wrong, options: {headers: await anchorHeaders(providerA, wrong, patient)}}))
    expect(refused.status).to.equal(422)
    expect(JSON.stringify(refused.data)).to.contain("Observation.subject")

    // Validation names the element.
    const bogus = {...observation("obs-3", subject), status: "bogus"}
    const invalid = await failure(writerA.create({resourceType: "Observation", body: bogus, options: {headers: await anchorHeaders(providerA, bogus, patient)}}))
    expect(invalid.status).to.equal(400)
    expect((invalid.data.issue as {expression: string[]}[])[0]!.expression).to.deep.equal(["Observation.status"])

    // Size: a resource over the stored-resource limit is refused by name, a body over the body limit with 413.
    const huge = {resourceType: "DocumentReference", id: "doc-huge", status: "current", subject: {reference: subject}, content: [{attachment: {contentType: "application/pdf", data: Buffer.alloc(6 * 1024 * 1024).toString("base64")}}]}
    const tooBig = await failure(writerA.create({resourceType: "DocumentReference", body: huge, options: {headers: await anchorHeaders(providerA, huge, patient)}}))
    expect(tooBig.status).to.equal(400)
    expect(JSON.stringify(tooBig.data)).to.contain(`exceeds ${MAX_RESOURCE_BYTES}`)
    expect(await loadRecord(chain.state, "doc-huge")).to.equal(undefined)
    const unauthenticated = await fetch(`${servers[0]!.url}/DocumentReference`, {method: "POST", body: "{}"})
    expect(unauthenticated.status).to.equal(401)
    const overBody = await fetch(`${servers[0]!.url}/DocumentReference`, {
      method: "POST",
      headers: {authorization: `Bearer ${await token(servers[0]!, providerA, "system/*.write")}`},
      body: Buffer.alloc(11 * 1024 * 1024, 32),
    })
    expect(overBody.status).to.equal(413)
    expect(((await overBody.json()) as FhirResource).resourceType).to.equal("OperationOutcome")

    // B's provider, through B's node, without consent: 403 OperationOutcome, and the refusal is on the patient's trail.
    const readerB = client(servers[1]!, await token(servers[1]!, providerB, "system/*.read"))
    const denied = await failure(readerB.read({resourceType: "Observation", id: "obs-1"}))
    expect(denied.status).to.equal(403)
    expect(denied.data.resourceType).to.equal("OperationOutcome")

    // With consent, B reads through B's node: fetched from A with the reader's own assertion, hash checked.
    await grant({kind: "person", key: providerB.publicKey})
    const fetched = checked((await readerB.read({resourceType: "Observation", id: "obs-1"})) as FhirResource)
    expect((fetched.valueQuantity as {value: number}).value).to.equal(6.9)
    const fetchedV1 = checked((await readerB.vread({resourceType: "Observation", id: "obs-1", version: "1"})) as FhirResource)
    expect((fetchedV1.meta as {versionId: string}).versionId).to.equal("1")

    // Search by patient at the custodian, paged.
    const obs4 = observation("obs-4", subject, 5.5)
    await writerA.create({resourceType: "Observation", body: obs4, options: {headers: await anchorHeaders(providerA, obs4, patient)}})
    const page1 = checked((await writerA.search({resourceType: "Observation", searchParams: {patient: patient.id, _count: 1}})) as FhirResource)
    expect(page1.type).to.equal("searchset")
    expect((page1.entry as unknown[]).length).to.equal(1)
    const next = (page1.link as {relation: string; url: string}[]).find((l) => l.relation === "next")
    expect(next).to.not.equal(undefined)
    const page2 = checked((await writerA.nextPage({bundle: page1 as never})) as FhirResource)
    expect((page2.entry as {resource: {id: string}}[]).map((e) => e.resource.id)).to.deep.equal(["obs-4"])
    const none = checked((await writerA.search({resourceType: "Observation", searchParams: {patient: patient.id, _lastUpdated: "gt2999-01-01"}})) as FhirResource)
    expect(none.entry ?? []).to.deep.equal([])
    const unsupported = await failure(writerA.search({resourceType: "Observation", searchParams: {code: "x"}}))
    expect(unsupported.status).to.equal(400)

    // The patient: $everything, own Consent and AuditEvent (the refusal and the releases are there).
    const self = client(servers[0]!, await token(servers[0]!, patient, "patient/*.read"))
    // A record of the same patient held by hospital B: $everything at A fetches it from B.
    const writerB = client(servers[1]!, await token(servers[1]!, providerB, "system/*.write"))
    const atB = observation("obs-b1", subject, 8.1)
    await writerB.create({resourceType: "Observation", body: atB, options: {headers: await anchorHeaders(providerB, atB, patient)}})
    const everything = checked((await self.operation({name: "$everything", resourceType: "Patient", id: patient.id, method: "GET"})) as FhirResource)
    expect((everything.entry as {resource: {id: string}}[]).map((e) => e.resource.id).sort()).to.deep.equal(["obs-1", "obs-4", "obs-b1"])
    const consents = checked((await self.search({resourceType: "Consent", searchParams: {patient: patient.id}})) as FhirResource)
    expect(consents.total).to.equal(2)
    const audit = checked((await self.search({resourceType: "AuditEvent", searchParams: {patient: patient.id, _count: 100}})) as FhirResource)
    const outcomes = (audit.entry as {resource: {outcome: string}}[]).map((e) => e.resource.outcome)
    expect(outcomes).to.include("4")
    expect(outcomes).to.include("0")
    // BALP: the patient and the record as entities, user/client/server agents, the custodian as site.
    type Event = {
      outcome: string
      agent: {type: {coding: {code: string}[]}; who: {identifier?: {system: string; value: string}; display?: string}; requestor: boolean}[]
      source: {site?: string; type: {code: string}[]; observer: {identifier: {system: string; value: string}}}
      entity: {what: {reference?: string}; type: {code: string}; role: {code: string}}[]
    }
    const refusal = (audit.entry as {resource: Event}[]).map((e) => e.resource).find((r) => r.outcome === "4")!
    expect(refusal.agent.map((a) => a.type.coding[0]!.code)).to.deep.equal(["IRCP", "110153", "110152"])
    expect(refusal.agent[0]!.who.identifier!.system).to.equal("urn:ietf:rfc:3986")
    expect(refusal.agent[0]!.who.identifier!.value).to.match(/^did:key:z6Mk/)
    expect(refusal.agent[1]!.who.display).to.equal("hospital hosp-b")
    expect(refusal.source.site).to.equal("hosp-a")
    expect(refusal.source.type[0]!.code).to.equal("4")
    expect(refusal.entity[0]).to.deep.include({what: {reference: `Patient/${patient.id}`}})
    expect([refusal.entity[0]!.type.code, refusal.entity[0]!.role.code]).to.deep.equal(["1", "1"])
    expect(refusal.entity[1]!.what.reference).to.equal("Observation/obs-1")
    expect([refusal.entity[1]!.type.code, refusal.entity[1]!.role.code]).to.deep.equal(["2", "4"])
    // Creates, updates and consent grants are on the trail too, with the author as agent.
    type Fact = {action: string; subtype: {code: string}[]; agent: {type: {coding: {code: string}[]}}[]; entity: {what: {reference?: string}}[]}
    const facts = (audit.entry as {resource: Fact}[]).map((e) => e.resource)
    const createEvent = facts.find((f) => f.action === "C" && f.entity[1]?.what.reference === "Observation/obs-1/_history/1")!
    expect(createEvent.subtype[0]!.code).to.equal("create")
    expect(createEvent.agent[0]!.type.coding[0]!.code).to.equal("AUT")
    expect(facts.some((f) => f.action === "U" && f.entity[1]?.what.reference === "Observation/obs-1/_history/2")).to.equal(true)
    expect(facts.filter((f) => f.action === "C" && f.entity[1]?.what.reference?.startsWith("Consent/") === true)).to.have.length(2)
    // Consent export: when, who signed, what action, for which period.
    const consent = (consents.entry as {resource: Record<string, unknown>}[])[0]!.resource as {
      dateTime: string
      performer: {reference: string}[]
      organization: {display: string}[]
      provision: {action: {coding: {code: string}[]}[]; period: {start: string; end: string}}
    }
    expect(Date.parse(consent.dateTime)).to.be.a("number").and.not.NaN
    expect(consent.performer).to.deep.equal([{reference: `Patient/${patient.id}`}])
    expect(consent.organization).to.deep.equal([{display: "hospital hosp-a"}])
    expect(consent.provision.action[0]!.coding[0]!.code).to.equal("access")
    expect(Date.parse(consent.provision.period.end)).to.be.greaterThan(Date.parse(consent.provision.period.start))
    // Another patient's data is not for this token.
    expect((await failure(self.search({resourceType: "AuditEvent", searchParams: {patient: otherPatient.id}}))).status).to.equal(403)

    // A revocation shows as an inactive Consent whose permitted period ends at the revocation.
    const revokedId = (consents.entry as {resource: {id: string}}[])[0]!.resource.id
    await chain.submit(buildConsentRevoke({chainId: chain.genesis.chainId, nonce: await getNextNonce(chain.state, patient.id), consentId: revokedId}, patient))
    const after = checked((await self.search({resourceType: "Consent", searchParams: {patient: patient.id}})) as FhirResource)
    const revoked = (after.entry as {resource: {id: string; status: string; provision: {period: {end: string}}}}[]).find((e) => e.resource.id === revokedId)!.resource
    expect(revoked.status).to.equal("inactive")
    expect(Date.parse(revoked.provision.period.end)).to.equal(chain.blocks.at(-1)!.header.timestamp)
  })
})
