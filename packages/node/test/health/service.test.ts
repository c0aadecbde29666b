import {expect} from "chai"
import {mkdtemp, readFile, rm, writeFile} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {PrivateKey, Purpose, Role, TxType, decode, encode, toHex, type Encodable} from "@careledger/core"
import {
  auditRequestToJson,
  buildConsentGrant,
  buildConsentRevoke,
  buildRecordAnchor,
  buildRecordErase,
  buildTrialAmend,
  buildTrialRegister,
  buildTrialResult,
  readRequestToJson,
  signAuditRequest,
  signReadRequest,
  type FhirResource,
} from "@careledger/client"
import {HealthService} from "../../src/health/service.js"
import {Vault} from "../../src/health/vault.js"
import {validateFhirResource} from "../../src/health/fhir.js"
import {HealthErrorCode, RequestErrorCode, VaultErrorCode, FhirErrorCode} from "../../src/health/errors.js"
import {DirectExchange, LocalChain, makeGenesis} from "./harness.js"
import {condition, observation} from "./fixtures.js"

async function failure(p: Promise<unknown>): Promise<{code: string; message: string; details: Record<string, unknown>}> {
  try {
    await p
  } catch (err) {
    const e = err as {code?: string; message: string; details?: Record<string, unknown>}
    expect(e.code, e.message).to.be.a("string")
    return {code: e.code as string, message: e.message, details: e.details ?? {}}
  }
  throw new Error("expected the call to fail")
}

describe("health/service", function () {
  this.timeout(30_000)

  let dir: string
  let chain: LocalChain
  const keyA = PrivateKey.generate()
  const keyB = PrivateKey.generate()
  let serviceA: HealthService
  let serviceB: HealthService
  let vaultA: Vault
  let vaultB: Vault
  let exchangeB: DirectExchange
  let providerA: PrivateKey
  let providerB: PrivateKey
  let researcherB: PrivateKey
  let patient: PrivateKey

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-health-"))
    chain = new LocalChain(makeGenesis([{id: "hosp-a", key: keyA}, {id: "hosp-b", key: keyB}]))
    vaultA = new Vault({datadir: join(dir, "a")})
    vaultB = new Vault({datadir: join(dir, "b")})
    const exchangeA = new DirectExchange("hosp-a")
    exchangeB = new DirectExchange("hosp-b")
    serviceA = new HealthService({hospital: "hosp-a"}, {...chain.deps(), vault: vaultA, nodeKey: keyA, exchange: exchangeA})
    serviceB = new HealthService({hospital: "hosp-b"}, {...chain.deps(), vault: vaultB, nodeKey: keyB, exchange: exchangeB})
    for (const ex of [exchangeA, exchangeB]) {
      ex.services.set("hosp-a", serviceA)
      ex.services.set("hosp-b", serviceB)
    }
    chain.onFinalized((block) => serviceA.onFinalizedBlock(block))
    chain.onFinalized((block) => serviceB.onFinalizedBlock(block))
    await serviceA.start()
    await serviceB.start()
    providerA = await chain.enrol(keyA, Role.Provider)
    patient = await chain.enrol(keyA, Role.Patient)
    providerB = await chain.enrol(keyB, Role.Provider)
    researcherB = await chain.enrol(keyB, Role.Researcher)
  })

  afterEach(async () => {
    await serviceA.stop()
    await serviceB.stop()
    await rm(dir, {recursive: true, force: true})
  })

  async function put(recordId: string, resource: FhirResource, version = 1, previous: Uint8Array | null = null): Promise<{salt: Uint8Array}> {
    const {tx, salt} = buildRecordAnchor(
      {chainId: chain.genesis.chainId, nonce: await chain.nonce(providerA), recordId, patient: patient.publicKey, custodian: "hosp-a", resource, version, previous},
      providerA,
    )
    await serviceA.put({resource, salt: toHex(salt), anchorTx: toHex(tx.serialize()), wait: true})
    return {salt}
  }

  const read = (service: HealthService, reader: PrivateKey, recordId: string, purpose = Purpose.Treatment, breakGlass = false) =>
    service.get(
      readRequestToJson(signReadRequest({chainId: chain.genesis.chainId, recordId, custodian: "hosp-a", purpose, ...(breakGlass ? {breakGlassReason: "collapsed in the ED"} : {})}, reader)),
    )

  const trail = async (service: HealthService) =>
    (await service.auditTrail({request: auditRequestToJson(signAuditRequest({chainId: chain.genesis.chainId}, patient))})).entries

  async function grant(purposes: Purpose[]): Promise<string> {
    const tx = buildConsentGrant(
      {
        chainId: chain.genesis.chainId,
        nonce: await chain.nonce(patient),
        grantee: {kind: "person", key: providerB.publicKey},
        scope: {kind: "resource-types", resourceTypes: ["Observation"]},
        purposes,
        expiresAt: Date.now() + 3_600_000,
      },
      patient,
    )
    // Sent as any transaction is (tx_send on a node); its id is the grant's hash.
    await chain.submit(tx)
    return tx.hashHex()
  }

  it("runs the whole story: refuse, consent, exchange, revoke, break-glass, erase", async () => {
    const resource = observation(7.2, patient.id)
    const {salt} = await put("obs-1", resource)

    // B's provider has no consent: refused, and the refusal is in the patient's trail.
    const denied = await failure(read(serviceB, providerB, "obs-1"))
    expect(denied.code).to.equal(HealthErrorCode.ACCESS_DENIED)
    expect(denied.details.reason).to.equal("NO_CONSENT")
    let entries = await trail(serviceB)
    expect(entries).to.have.length(1)
    expect(entries[0]).to.include({recordId: "obs-1", reader: providerB.id, decision: "deny", reason: "NO_CONSENT", via: "hosp-b", loggedBy: keyA.id})

    // Consent for treatment of Observations: B's node fetches from A, checks the anchor, caches.
    const consentId = await grant([Purpose.Treatment])
    const got = await read(serviceB, providerB, "obs-1")
    expect(got.resource).to.deep.equal(resource)
    expect(got).to.include({source: "custodian", decision: "release", consentId, custodian: "hosp-a", version: 1})
    // B's node keeps no copy of what it fetched.
    expect(await vaultB.recordIds()).to.deep.equal([])

    // The wrong purpose is refused even with a treatment consent; a purpose the role may not claim, too.
    expect((await failure(read(serviceB, providerB, "obs-1", Purpose.Operations))).details.reason).to.equal("PURPOSE_MISMATCH")
    expect((await failure(read(serviceB, providerB, "obs-1", Purpose.Research))).details.reason).to.equal("PURPOSE_NOT_PERMITTED")

    // Revoked: refused again.
    const revoke = buildConsentRevoke({chainId: chain.genesis.chainId, nonce: await chain.nonce(patient), consentId}, patient)
    await chain.submit(revoke)
    expect((await failure(read(serviceB, providerB, "obs-1"))).details.reason).to.equal("CONSENT_REVOKED")
    expect((await trail(serviceA))[0]).to.include({decision: "deny", reason: "CONSENT_REVOKED", consentId})

    // Break-glass: released and flagged.
    const glass = await read(serviceB, providerB, "obs-1", Purpose.Treatment, true)
    expect(glass.decision).to.equal("break-glass")
    entries = await trail(serviceA)
    expect(entries.map((e) => e.decision)).to.deep.equal(["break-glass", "deny", "deny", "deny", "release", "deny"])
    expect(entries[0]).to.include({note: "collapsed in the ED"})

    // The patient erases: custody and every cached copy go; reads say erased; the anchor still verifies.
    const erase = buildRecordErase({chainId: chain.genesis.chainId, nonce: await chain.nonce(patient), recordId: "obs-1"}, patient)
    await chain.submit(erase)
    expect(await vaultA.has("obs-1")).to.equal(false)
    expect(await vaultA.versions("obs-1")).to.deep.equal([])
    expect((await failure(read(serviceB, providerB, "obs-1", Purpose.Treatment, true))).code).to.equal(HealthErrorCode.RECORD_ERASED)
    // The erasure and the refused read after it are in the patient's trail.
    expect((await trail(serviceA)).slice(0, 2).map((e) => [e.decision, e.reason])).to.deep.equal([
      ["deny", "RECORD_ERASED"],
      ["erase", "PATIENT_REQUEST"],
    ])
    expect((await failure(read(serviceA, patient, "obs-1"))).code).to.equal(HealthErrorCode.RECORD_ERASED)
    const verified = await serviceB.verify({recordId: "obs-1", resource, salt: toHex(salt)})
    expect(verified).to.include({valid: true, erased: true})
    expect((await serviceB.verify({recordId: "obs-1", resource: observation(9.9, patient.id), salt: toHex(salt)})).valid).to.equal(false)
    expect((await serviceA.history("obs-1")).erased).to.equal(true)

    // Nothing identifying reached the chain.
    const chainBytes = Buffer.concat(chain.blocks.map((b) => Buffer.from(b.serialize())))
    for (const phi of ["Zebulon", "Quixotic", "Hemoglobin", "4548-4", "HbA1c", "2026-11-20"]) {
      expect(chainBytes.includes(Buffer.from(phi)), phi).to.equal(false)
    }
  })

  it("lets the patient read their own record and export consents and audit as valid FHIR", async () => {
    await put("obs-2", observation(7.2, patient.id))
    const own = await read(serviceA, patient, "obs-2")
    expect(own).to.include({decision: "release", source: "vault"})
    await grant([Purpose.Treatment, Purpose.Operations])
    await read(serviceB, providerB, "obs-2")
    const consents = await serviceA.listConsents({patient: patient.id})
    expect(consents).to.have.length(1)
    expect(consents[0]).to.include({active: true, revoked: false})
    expect(await serviceA.listConsents({grantee: providerB.id})).to.have.length(1)
    const check = await serviceA.checkConsent({recordId: "obs-2", reader: researcherB.id, purpose: "research"})
    expect(check).to.include({allowed: false, reason: "NO_CONSENT"})
    expect((await serviceA.checkConsent({recordId: "obs-2", reader: providerB.id, purpose: "operations"})).allowed).to.equal(true)

    const bundle = (await serviceA.auditExport({request: auditRequestToJson(signAuditRequest({chainId: chain.genesis.chainId}, patient))})) as FhirResource
    validateFhirResource(bundle)
    const types = (bundle.entry as {resource: FhirResource}[]).map((e) => e.resource.resourceType)
    expect(types).to.deep.equal(["Consent", "AuditEvent", "AuditEvent"])
  })

  it("refuses bad puts and changes nothing", async () => {
    const resource = observation(7.2, patient.id)
    const nonce = await chain.nonce(providerA)
    const base = {chainId: chain.genesis.chainId, nonce, recordId: "obs-3", patient: patient.publicKey, custodian: "hosp-a", resource}
    const {tx, salt} = buildRecordAnchor(base, providerA)

    const invalid = await failure(serviceA.put({resource: {resourceType: "Observation", code: {text: "x"}}, salt: toHex(salt), anchorTx: toHex(tx.serialize())}))
    expect(invalid.code).to.equal(FhirErrorCode.INVALID)
    expect(invalid.message).to.contain("Missing required property")
    const mismatch = await failure(serviceA.put({resource: observation(8.1, patient.id), salt: toHex(salt), anchorTx: toHex(tx.serialize())}))
    expect(mismatch.code).to.equal(HealthErrorCode.BAD_ANCHOR)
    const elsewhere = buildRecordAnchor({...base, custodian: "hosp-b"}, providerA)
    const wrongCustodian = await failure(serviceA.put({resource, salt: toHex(elsewhere.salt), anchorTx: toHex(elsewhere.tx.serialize())}))
    expect(wrongCustodian.code).to.equal(HealthErrorCode.BAD_ANCHOR)
    // Signed by B's provider for A: the chain refuses, and the vault drops what it had written.
    const foreign = buildRecordAnchor({...base, nonce: await chain.nonce(providerB)}, providerB)
    const refused = await failure(serviceA.put({resource, salt: toHex(foreign.salt), anchorTx: toHex(foreign.tx.serialize())}))
    expect(refused.code).to.equal("TX_ERROR_UNAUTHORIZED")
    expect(await vaultA.versions("obs-3")).to.deep.equal([])
    expect(await vaultA.has("obs-3")).to.equal(false)
    const consentTx = buildConsentRevoke({chainId: chain.genesis.chainId, nonce: 0, consentId: "00".repeat(32)}, patient)
    expect((await failure(serviceA.put({resource, salt: toHex(salt), anchorTx: toHex(consentTx.serialize())}))).code).to.equal(HealthErrorCode.WRONG_TX_TYPE)

    // The good one still goes through afterwards, and a second version links to the first.
    await serviceA.put({resource, salt: toHex(salt), anchorTx: toHex(tx.serialize()), wait: true})
    const v1 = (await serviceA.history("obs-3")).versions[0]!
    const amended = observation(6.4, patient.id)
    await put("obs-3", amended, 2, Buffer.from(v1.contentHash, "hex"))
    const history = await serviceA.history("obs-3")
    expect(history.versions.map((v) => [v.version, v.previous, v.provider])).to.deep.equal([
      [1, null, providerA.id],
      [2, v1.contentHash, providerA.id],
    ])
    expect((await read(serviceA, patient, "obs-3")).resource).to.deep.equal(amended)
  })

  it("refuses wrongly signed, replayed and stale requests", async () => {
    await put("obs-4", observation(7.2, patient.id))
    await grant([Purpose.Treatment])
    const forged = {...readRequestToJson(signReadRequest({chainId: chain.genesis.chainId, recordId: "obs-4", custodian: "hosp-a", purpose: Purpose.Treatment}, researcherB)), reader: providerB.id}
    expect((await failure(serviceB.get(forged))).code).to.equal(RequestErrorCode.BAD_SIGNATURE)
    const request = readRequestToJson(signReadRequest({chainId: chain.genesis.chainId, recordId: "obs-4", custodian: "hosp-a", purpose: Purpose.Treatment}, providerB))
    await serviceB.get(request)
    expect((await failure(serviceB.get(request))).code).to.equal(RequestErrorCode.REPLAYED)
    const stale = readRequestToJson(signReadRequest({chainId: chain.genesis.chainId, recordId: "obs-4", custodian: "hosp-a", purpose: Purpose.Treatment, time: Date.now() - 600_000}, providerB))
    expect((await failure(serviceB.get(stale))).code).to.equal(RequestErrorCode.STALE)
    // A request B's node already used cannot be replayed to the custodian directly either.
    const raw = signReadRequest({chainId: chain.genesis.chainId, recordId: "obs-4", custodian: "hosp-a", purpose: Purpose.Treatment}, providerB)
    await serviceB.get(readRequestToJson(raw))
    const {encodeReadRequest} = await import("@careledger/client")
    const replayed = decode(await serviceA.handleExchange(encodeReadRequest(raw), "hosp-b")) as {ok: boolean; code: string}
    expect(replayed).to.include({ok: false, code: RequestErrorCode.REPLAYED})
  })

  it("detects tampered ciphertext at the custodian and substituted content from it", async () => {
    await put("obs-5", observation(7.2, patient.id))
    await grant([Purpose.Treatment])
    // A dishonest or compromised custodian answers with other content: B refuses it.
    exchangeB.rewrite = (bytes) => {
      const answer = decode(bytes) as {[k: string]: Encodable}
      return encode({...answer, resource: new TextEncoder().encode(JSON.stringify(condition()))})
    }
    expect((await failure(read(serviceB, providerB, "obs-5"))).code).to.equal(HealthErrorCode.CONTENT_MISMATCH)
    exchangeB.rewrite = undefined

    const path = vaultA.blobPath("custody", "obs-5", 1)
    const bytes = await readFile(path)
    bytes[bytes.length - 5] ^= 0xff
    await writeFile(path, bytes)
    expect((await failure(read(serviceA, patient, "obs-5"))).code).to.equal(VaultErrorCode.TAMPERED)
    const viaB = await failure(read(serviceB, providerB, "obs-5"))
    expect(viaB.details.custodianCode).to.equal(VaultErrorCode.TAMPERED)
  })

  it("registers, amends and verifies a trial before its results", async () => {
    const protocol = "Protocol v1: HbA1c outcomes under drug X, n=200, primary endpoint at 24 weeks"
    const amended = "Protocol v2: adds a secondary endpoint at 52 weeks"
    const results = "Results: primary endpoint met"
    const send = (tx: Parameters<LocalChain["submit"]>[0]) => chain.submit(tx)
    await send(buildTrialRegister({chainId: chain.genesis.chainId, nonce: await chain.nonce(researcherB), trialId: "NCT-0001", protocol}, researcherB))
    await send(buildTrialAmend({chainId: chain.genesis.chainId, nonce: await chain.nonce(researcherB), trialId: "NCT-0001", protocol: amended}, researcherB))
    await send(buildTrialResult({chainId: chain.genesis.chainId, nonce: await chain.nonce(researcherB), trialId: "NCT-0001", results, dataset: "csv,data"}, researcherB))
    const verified = await serviceA.verifyTrial({trialId: "NCT-0001", protocol: amended, results, dataset: "csv,data"})
    expect(verified).to.include({registered: true, protocolVersion: 2, resultsMatch: true, datasetMatch: true, registeredBeforeResults: true})
    expect((await serviceA.verifyTrial({trialId: "NCT-0001", protocol})).protocolVersion).to.equal(1)
    expect((await serviceA.verifyTrial({trialId: "NCT-0001", protocol: "something else", results: "other"})).resultsMatch).to.equal(false)
    expect((await serviceA.verifyTrial({trialId: "NCT-9999"})).registered).to.equal(false)
  })

  it("drops records erased while the node was down when it starts again", async () => {
    const {salt} = await put("obs-6", observation(7.2, patient.id))
    await grant([Purpose.Treatment])
    await read(serviceB, providerB, "obs-6")
    expect((await failure(serviceB.eraseAsCustodian({recordId: "obs-6", legalBasis: "court order 2026/17"}))).code).to.equal(HealthErrorCode.BAD_PARAMS)
    await serviceA.stop()
    // A is down when the erase finalizes (signed by its key elsewhere); it reconciles with the chain when it starts.
    await chain.send(keyA, TxType.RecordErase, {recordId: "obs-6", legalBasis: "court order 2026/17"})
    await serviceA.start()
    expect(await vaultA.has("obs-6")).to.equal(false)
    expect((await trail(serviceA))[0]).to.include({decision: "erase", reason: "CUSTODIAN_LEGAL_BASIS", note: "court order 2026/17"})
    expect((await serviceB.verify({recordId: "obs-6", resource: observation(7.2, patient.id), salt: toHex(salt)})).valid).to.equal(true)
  })

  it("reads an older version when asked, and refuses stored content that is not the anchored one", async () => {
    const first = observation(7.2, patient.id)
    await put("obs-7", first)
    const v1 = (await serviceA.history("obs-7")).versions[0]!
    const second = observation(6.1, patient.id)
    await put("obs-7", second, 2, Buffer.from(v1.contentHash, "hex"))
    const ask = (version?: number) =>
      serviceA.get(readRequestToJson(signReadRequest({chainId: chain.genesis.chainId, recordId: "obs-7", custodian: "hosp-a", purpose: Purpose.Treatment, version}, patient)))
    expect((await ask()).resource).to.deep.equal(second)
    expect(await ask(1)).to.include({version: 1})
    expect((await ask(1)).resource).to.deep.equal(first)
    expect((await failure(ask(3))).code).to.equal(HealthErrorCode.RECORD_NOT_FOUND)
    // Content stored under version 1 that does not hash to its anchor (what a lost put race left behind) is not released.
    await vaultA.removeVersion("obs-7", 1)
    await vaultA.putNew("obs-7", 1, {salt: new Uint8Array(32).fill(1), resource: new TextEncoder().encode(JSON.stringify(condition()))})
    expect((await failure(ask(1))).code).to.equal(HealthErrorCode.CONTENT_MISMATCH)
  })

  it("removes a stored version whose anchor never finalized, and keeps anchored ones", async () => {
    await put("obs-8", observation(7.2, patient.id))
    await vaultA.putNew("obs-8", 2, {salt: new Uint8Array(32), resource: new TextEncoder().encode("{}")})
    await vaultA.putNew("obs-9", 1, {salt: new Uint8Array(32), resource: new TextEncoder().encode("{}")})
    await serviceA.stop()
    serviceA = new HealthService({hospital: "hosp-a", unanchoredGraceMs: 0}, {...chain.deps(), vault: vaultA, nodeKey: keyA})
    await serviceA.start()
    expect(await vaultA.versions("obs-8")).to.deep.equal([1])
    expect(await vaultA.versions("obs-9")).to.deep.equal([])
  })
})
