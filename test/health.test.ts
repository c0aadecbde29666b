/**
 * The health-data story across two hospitals of a 4-node network, each node its own process with
 * real libp2p on loopback, real LevelDB and real HTTP JSON-RPC.
 */
import {expect} from "chai"
import {existsSync} from "node:fs"
import {mkdtemp, readFile, readdir, rm, writeFile} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {AccessDecisionKind, PrivateKey, Purpose, Role, TxType, fromHex, toHex, utf8} from "@careledger/core"
import {
  CareLedgerClient,
  HealthClient,
  RpcError,
  TxSender,
  buildRecordAnchor,
  readRequestToJson,
  signReadRequest,
  type AuditEntryJson,
  type FhirResource,
} from "@careledger/client"
import {prepareDevnet, readKeyFile, spawnNode, stopNode, waitForRpc, type DevnetPlan, type RunningNode} from "@careledger/node"
import {rpcFailure} from "./helpers/cluster.js"

const PHI = ["Zebulon", "Quixotic", "Hemoglobin", "4548-4", "HbA1c", "2026-11-20T09:30"]

/** An Observation about `patient` (its enrolled key): the custodian refuses one about another patient than the anchor names. */
function observation(patient: string): FhirResource {
  return {
    resourceType: "Observation",
    status: "final",
    code: {coding: [{system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood"}], text: "HbA1c"},
    subject: {reference: `Patient/${patient}`, display: "Zebulon Quixotic-Fairweather"},
    effectiveDateTime: "2026-11-20T09:30:00Z",
    valueQuantity: {value: 7.2, unit: "%", system: "http://unitsofmeasure.org", code: "%"},
  }
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` until it returns a value (bounded: the access log is final a block or two later). */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, attempts = 100): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe()
    if (value !== undefined) return value
    await sleep(200)
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe("health data across hospitals (4 nodes, multi-process)", function () {
  this.timeout(240_000)

  let dir: string
  let plan: DevnetPlan
  let running: RunningNode[] = []
  let chainId: string
  let rpcA: CareLedgerClient
  let rpcB: CareLedgerClient
  let healthA: HealthClient
  let healthB: HealthClient
  let providerA: PrivateKey
  let providerB: PrivateKey
  let patient: PrivateKey
  let otherPatient: PrivateKey
  let researcherB: PrivateKey
  /** A provider of its own, so the hand-built anchors of the race share no nonce counter with the others. */
  let racer: PrivateKey
  let nodeKeyA: PrivateKey
  let senderA: TxSender
  let senderB: TxSender

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-health-story-"))
    plan = await prepareDevnet(dir, {nodes: 4, fresh: true, chainId: "health-story", blockIntervalMs: 300})
    running = plan.nodes.map((spec) => spawnNode(spec))
    await Promise.all(running.map((node) => waitForRpc(node.spec.rpcUrl, 60_000)))
    chainId = plan.chainId
    rpcA = new CareLedgerClient({url: plan.nodes[0]!.rpcUrl, timeoutMs: 60_000})
    rpcB = new CareLedgerClient({url: plan.nodes[1]!.rpcUrl, timeoutMs: 60_000})
    healthA = new HealthClient(rpcA, chainId)
    healthB = new HealthClient(rpcB, chainId)
    const hospitalA = readKeyFile(join(plan.nodes[0]!.dataDir, "node.key"))
    const hospitalB = readKeyFile(join(plan.nodes[1]!.dataDir, "node.key"))
    const enrol = async (client: CareLedgerClient, sender: TxSender, role: Role): Promise<PrivateKey> => {
      const key = PrivateKey.generate()
      await client.waitForTx((await sender.registerIdentity(key.publicKey, role)).hash, {timeoutMs: 60_000})
      return key
    }
    nodeKeyA = hospitalA
    senderA = new TxSender(rpcA, hospitalA, {chainId})
    senderB = new TxSender(rpcB, hospitalB, {chainId})
    providerA = await enrol(rpcA, senderA, Role.Provider)
    patient = await enrol(rpcA, senderA, Role.Patient)
    otherPatient = await enrol(rpcA, senderA, Role.Patient)
    providerB = await enrol(rpcB, senderB, Role.Provider)
    researcherB = await enrol(rpcB, senderB, Role.Researcher)
    racer = await enrol(rpcA, senderA, Role.Provider)
  })

  after(async () => {
    await Promise.all(running.map((node) => stopNode(node)))
    await rm(dir, {recursive: true, force: true})
  })

  const trailHas = (predicate: (e: AuditEntryJson) => boolean, what: string) =>
    eventually(async () => (await healthA.auditTrail(patient)).entries.find(predicate), what)

  it("refuses, grants, exchanges, revokes, breaks the glass, erases, and keeps PHI off chain", async () => {
    const hospitalA = plan.nodes[0]!.hospital
    const hospitalB = plan.nodes[1]!.hospital
    const resource = observation(patient.id)
    const put = await healthA.putRecord(providerA, {recordId: "obs-story", patient: patient.publicKey, custodian: hospitalA, resource})
    expect(put.final).to.equal(true)
    // Final on A; B's node commits the same block a moment later at most.
    await eventually(async () => (await healthB.recordHistory("obs-story").catch(() => undefined))?.versions.length, "B to see the anchor")

    // 1. B's provider, through B's node: refused by A, and the refusal is in P's trail.
    const denied = await rpcFailure(healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Treatment}))
    expect(denied.domainCode).to.equal("HEALTH_ERROR_ACCESS_DENIED")
    expect(denied.data?.reason).to.equal("NO_CONSENT")
    const refusal = await trailHas((e) => e.decision === "deny" && e.reader === providerB.id, "the refusal in the audit trail")
    expect(refusal).to.include({recordId: "obs-story", via: hospitalB, purpose: "treatment"})

    // 2. P grants B's provider treatment access to Observations; B reads it through B's node.
    const grant = await healthA.grantConsent(patient, {
      grantee: {kind: "person", key: providerB.publicKey},
      scope: {kind: "resource-types", resourceTypes: ["Observation"]},
      purposes: [Purpose.Treatment],
      expiresAt: Date.now() + 3_600_000,
    })
    const released = await healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Treatment})
    expect(released.resource).to.deep.equal(resource)
    expect(released).to.include({source: "custodian", decision: "release", consentId: grant.consentId, custodian: hospitalA})
    // B's node hands the record to its reader and keeps no copy.
    expect(existsSync(join(plan.nodes[1]!.dataDir, "vault", "blobs", toHex(utf8("obs-story"))))).to.equal(false)

    // Wrong purpose, wrong key, replay: refused.
    expect((await rpcFailure(healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Operations}))).data?.reason).to.equal("PURPOSE_MISMATCH")
    const impostor = PrivateKey.generate()
    const forged = {...readRequestToJson(signReadRequest({chainId, recordId: "obs-story", custodian: hospitalA, purpose: Purpose.Treatment}, impostor)), reader: providerB.id}
    expect((await rpcFailure(rpcB.request("record_get", {request: forged}))).domainCode).to.equal("REQUEST_ERROR_BAD_SIGNATURE")
    const once = readRequestToJson(signReadRequest({chainId, recordId: "obs-story", custodian: hospitalA, purpose: Purpose.Treatment}, providerB))
    await rpcB.request("record_get", {request: once})
    expect((await rpcFailure(rpcB.request("record_get", {request: once}))).domainCode).to.equal("REQUEST_ERROR_REPLAYED")
    // The replay flood: requests from throwaway keys are refused before they take room in the replay
    // cache (which refuses rather than forgets when full), and the captured request stays refused.
    for (let i = 0; i < 60; i++) {
      const junk = readRequestToJson(signReadRequest({chainId, recordId: "obs-story", custodian: hospitalA, purpose: Purpose.Treatment}, PrivateKey.generate()))
      expect((await rpcFailure(rpcB.request("record_get", {request: junk}))).domainCode).to.equal("REQUEST_ERROR_UNKNOWN_READER")
    }
    expect((await rpcFailure(rpcB.request("record_get", {request: once}))).domainCode).to.equal("REQUEST_ERROR_REPLAYED")
    // A request signed for the custodian cannot be presented as one for another hospital.
    const redirected = {...readRequestToJson(signReadRequest({chainId, recordId: "obs-story", custodian: hospitalA, purpose: Purpose.Treatment}, providerB)), custodian: hospitalB}
    expect((await rpcFailure(rpcB.request("record_get", {request: redirected}))).domainCode).to.equal("REQUEST_ERROR_BAD_SIGNATURE")

    // 3. P revokes: B refused again.
    await healthA.revokeConsent(patient, {consentId: grant.consentId})
    expect((await rpcFailure(healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Treatment}))).data?.reason).to.equal("CONSENT_REVOKED")

    // 4. Break-glass by B: allowed and flagged in the trail.
    const glass = await healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Treatment, breakGlassReason: "unresponsive on arrival"})
    expect(glass.decision).to.equal("break-glass")
    const glassEntry = await trailHas((e) => e.decision === "break-glass" && e.reader === providerB.id && e.via === hospitalB, "the break-glass entry")
    expect(glassEntry.note).to.equal("unresponsive on arrival")

    // 5. P erases: A's vault and B's cache drop it, reads say erased, the anchor still verifies.
    const custodyDir = join(plan.nodes[0]!.dataDir, "vault", "blobs", toHex(utf8("obs-story")))
    expect(existsSync(custodyDir)).to.equal(true)
    await healthA.eraseRecord(patient, {recordId: "obs-story"})
    await eventually(async () => (!existsSync(custodyDir) ? true : undefined), "custody to be shredded")
    expect((await rpcFailure(healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Treatment, breakGlassReason: "again"}))).domainCode).to.equal(
      "HEALTH_ERROR_RECORD_ERASED",
    )
    // The erasure, and the read refused after it, are in the patient's trail.
    await trailHas((e) => e.decision === "erase" && e.recordId === "obs-story" && e.reason === "PATIENT_REQUEST", "the erasure in the trail")
    await trailHas((e) => e.decision === "deny" && e.reason === "RECORD_ERASED" && e.reader === providerB.id, "the read of the erased record")
    expect((await rpcFailure(healthA.readRecord(patient, {recordId: "obs-story", purpose: Purpose.Treatment}))).domainCode).to.equal(
      "HEALTH_ERROR_RECORD_ERASED",
    )
    const verified = await healthB.verifyRecord({recordId: "obs-story", resource, salt: put.salt})
    expect(verified).to.include({valid: true, erased: true})
    expect((await healthA.recordHistory("obs-story")).erased).to.equal(true)

    // 6. No PHI in any block, on any node's chain.
    const head = await rpcA.head()
    for (let height = 1; height <= head.finalizedHeight; height++) {
      const block = await rpcA.getBlock(height)
      const bytes = Buffer.concat((block?.txs ?? []).map((tx) => Buffer.from(fromHex(tx.raw) ?? new Uint8Array())))
      for (const phi of PHI) expect(bytes.includes(Buffer.from(phi)), `${phi} in block ${height}`).to.equal(false)
    }
    for (const node of plan.nodes) {
      for (const entry of await readdir(join(node.dataDir, "chain"), {recursive: true, withFileTypes: true})) {
        if (!entry.isFile()) continue
        const bytes = await readFile(join(entry.parentPath, entry.name))
        for (const phi of PHI) expect(bytes.includes(Buffer.from(phi)), `${phi} in ${node.hospital}'s ${entry.name}`).to.equal(false)
      }
    }
  })

  it("the chain refuses a forged access.log and checks roles, grantees and proxies", async () => {
    const hospitalA = plan.nodes[0]!.hospital
    const hospitalB = plan.nodes[1]!.hospital
    await healthA.putRecord(providerA, {recordId: "obs-rules", patient: patient.publicKey, custodian: hospitalA, resource: observation(patient.id)})
    // A custodian logs a release nobody consented to: every validator refuses it.
    const head = await rpcA.head()
    const block = await rpcA.getBlock(head.finalizedHeight)
    const forged = await new TxSender(rpcA, nodeKeyA, {chainId}).send(TxType.AccessLog, {
      recordId: "obs-rules",
      reader: providerB.publicKey,
      purpose: Purpose.Treatment,
      decision: AccessDecisionKind.Release,
      reason: "CONSENT_OK",
      consentId: "ab".repeat(32),
      height: head.finalizedHeight,
      at: block!.header.timestamp,
      via: hospitalB,
      breakGlassReason: null,
    }).catch((err: unknown) => err)
    expect(forged).to.be.instanceOf(RpcError)
    expect((forged as RpcError).domainCode).to.equal("TX_ERROR_CONFLICT")

    // A hospital-wide treatment grant does not let B's researcher claim treatment.
    await healthA.grantConsent(patient, {
      grantee: {kind: "hospital", hospital: hospitalB},
      scope: {kind: "records", recordIds: ["obs-rules"]},
      purposes: [Purpose.Treatment],
      expiresAt: Date.now() + 3_600_000,
    })
    const researcher = await rpcFailure(healthB.readRecord(researcherB, {recordId: "obs-rules", purpose: Purpose.Treatment}))
    expect(researcher.data?.reason).to.equal("PURPOSE_NOT_PERMITTED")
    expect((await healthB.readRecord(providerB, {recordId: "obs-rules", purpose: Purpose.Treatment})).resource).to.deep.equal(observation(patient.id))

    // A grant to another patient is refused; a guardian enrolled as the patient's proxy is granted and reads.
    const toPatient = await rpcFailure(
      healthA.grantConsent(patient, {
        grantee: {kind: "person", key: otherPatient.publicKey},
        scope: {kind: "records", recordIds: ["obs-rules"]},
        purposes: [Purpose.Treatment],
        expiresAt: Date.now() + 3_600_000,
      }),
    )
    expect(toPatient.domainCode).to.equal("TX_ERROR_UNAUTHORIZED")
    const guardian = PrivateKey.generate()
    await rpcB.waitForTx((await senderB.registerIdentity(guardian.publicKey, Role.Proxy, patient.publicKey)).hash, {timeoutMs: 60_000})
    await healthA.grantConsent(patient, {
      grantee: {kind: "person", key: guardian.publicKey},
      scope: {kind: "records", recordIds: ["obs-rules"]},
      purposes: [Purpose.Treatment],
      expiresAt: Date.now() + 3_600_000,
    })
    const proxyRead = await healthB.readRecord(guardian, {recordId: "obs-rules", purpose: Purpose.Treatment})
    expect(proxyRead).to.include({decision: "release", source: "custodian"})
    await trailHas((e) => e.reader === guardian.id && e.decision === "release", "the proxy's read in the trail")
  })

  it("of concurrent puts of one record version exactly one is stored, and every hospital can read it", async () => {
    const hospitalA = plan.nodes[0]!.hospital
    const nonce = await rpcA.getNonce(racer.id)
    const puts = [observation(patient.id), {...observation(patient.id), valueQuantity: {value: 9.1, unit: "%", system: "http://unitsofmeasure.org", code: "%"}}].map((resource) => {
      const {tx, salt} = buildRecordAnchor({chainId, nonce, recordId: "obs-race", patient: patient.publicKey, custodian: hospitalA, resource}, racer)
      return rpcA.request("record_put", {resource, salt: toHex(salt), anchorTx: toHex(tx.serialize()), wait: true}).then(
        () => "stored",
        (err: RpcError) => err.domainCode,
      )
    })
    const outcomes = await Promise.all(puts)
    expect(outcomes.filter((o) => o === "stored")).to.have.length(1)
    await healthA.grantConsent(patient, {
      grantee: {kind: "hospital", hospital: plan.nodes[1]!.hospital},
      scope: {kind: "records", recordIds: ["obs-race"]},
      purposes: [Purpose.Treatment],
      expiresAt: Date.now() + 3_600_000,
    })
    for (const [client, reader] of [[healthA, patient], [healthB, providerB]] as const) {
      const got = await eventually(async () => client.readRecord(reader, {recordId: "obs-race", purpose: Purpose.Treatment}).catch(() => undefined), "the raced record to be readable")
      expect(got.version).to.equal(1)
    }
  })

  it("detects ciphertext tampered at the custodian on read", async () => {
    const hospitalA = plan.nodes[0]!.hospital
    await healthA.putRecord(providerA, {recordId: "obs-tamper", patient: patient.publicKey, custodian: hospitalA, resource: observation(patient.id)})
    expect((await healthA.readRecord(patient, {recordId: "obs-tamper", purpose: Purpose.Treatment})).resource).to.deep.equal(observation(patient.id))
    const blob = join(plan.nodes[0]!.dataDir, "vault", "blobs", toHex(utf8("obs-tamper")), "1.bin")
    const bytes = await readFile(blob)
    bytes[bytes.length - 7] ^= 0x40
    await writeFile(blob, bytes)
    const err = await rpcFailure(healthA.readRecord(patient, {recordId: "obs-tamper", purpose: Purpose.Treatment}))
    expect(err.domainCode).to.equal("VAULT_ERROR_TAMPERED")
  })

  it("an access log is durable before the data leaves: the custodian killed right after a release logs it after restart", async () => {
    const hospitalA = plan.nodes[0]!.hospital
    await healthA.putRecord(providerA, {recordId: "obs-durable", patient: patient.publicKey, custodian: hospitalA, resource: observation(patient.id)})
    // With the other three hospitals down nothing finalizes and A's log entry reaches no one else.
    await Promise.all(running.slice(1).map((node) => stopNode(node)))
    const released = await healthA.readRecord(providerA, {recordId: "obs-durable", purpose: Purpose.Treatment, custodian: hospitalA, breakGlassReason: "cardiac arrest"})
    expect(released.decision).to.equal("break-glass")
    running[0]!.child.kill("SIGKILL")
    await running[0]!.exited
    running = plan.nodes.map((spec) => spawnNode(spec))
    await Promise.all(running.map((node) => waitForRpc(node.spec.rpcUrl, 60_000)))
    const entry = await eventually(
      async () => (await healthA.auditTrail(patient)).entries.find((e) => e.recordId === "obs-durable" && e.decision === "break-glass" && e.reader === providerA.id),
      "the journalled entry to finalize",
      600,
    )
    expect(entry).to.include({note: "cardiac arrest", via: hospitalA})
  })
})
