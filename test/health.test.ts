/**
 * The health-data story across two hospitals of a 4-node network, each node its own process with
 * real libp2p on loopback, real LevelDB and real HTTP JSON-RPC.
 */
import {expect} from "chai"
import {existsSync} from "node:fs"
import {mkdtemp, readFile, readdir, rm, writeFile} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {PrivateKey, Purpose, Role, fromHex, toHex, utf8} from "@careledger/core"
import {
  CareLedgerClient,
  HealthClient,
  TxSender,
  readRequestToJson,
  signReadRequest,
  type AuditEntryJson,
  type FhirResource,
} from "@careledger/client"
import {prepareDevnet, readKeyFile, spawnNode, stopNode, waitForRpc, type DevnetPlan, type RunningNode} from "@careledger/node"
import {rpcFailure} from "./helpers/cluster.js"

const PHI = ["Zebulon", "Quixotic", "Hemoglobin", "4548-4", "HbA1c", "pseudo-7f3a", "2026-11-20T09:30"]

function observation(): FhirResource {
  return {
    resourceType: "Observation",
    status: "final",
    code: {coding: [{system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood"}], text: "HbA1c"},
    subject: {reference: "Patient/pseudo-7f3a", display: "Zebulon Quixotic-Fairweather"},
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
    const senderA = new TxSender(rpcA, hospitalA, {chainId})
    const senderB = new TxSender(rpcB, hospitalB, {chainId})
    providerA = await enrol(rpcA, senderA, Role.Provider)
    patient = await enrol(rpcA, senderA, Role.Patient)
    providerB = await enrol(rpcB, senderB, Role.Provider)
  })

  after(async () => {
    await Promise.all(running.map((node) => stopNode(node)))
    await rm(dir, {recursive: true, force: true})
  })

  const trailHas = (predicate: (e: AuditEntryJson) => boolean, what: string) =>
    eventually(async () => (await healthA.auditTrail(patient)).find(predicate), what)

  it("refuses, grants, exchanges, revokes, breaks the glass, erases, and keeps PHI off chain", async () => {
    const hospitalA = plan.nodes[0]!.hospital
    const hospitalB = plan.nodes[1]!.hospital
    const resource = observation()
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
    const cacheDir = join(plan.nodes[1]!.dataDir, "vault", "cache", toHex(utf8("obs-story")))
    expect(existsSync(join(cacheDir, "1.bin"))).to.equal(true)

    // Wrong purpose, wrong key, replay: refused.
    expect((await rpcFailure(healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Research}))).data?.reason).to.equal("PURPOSE_MISMATCH")
    const impostor = PrivateKey.generate()
    const forged = {...readRequestToJson(signReadRequest({chainId, recordId: "obs-story", purpose: Purpose.Treatment}, impostor)), reader: providerB.id}
    expect((await rpcFailure(rpcB.request("record_get", {request: forged}))).domainCode).to.equal("REQUEST_ERROR_BAD_SIGNATURE")
    const once = readRequestToJson(signReadRequest({chainId, recordId: "obs-story", purpose: Purpose.Treatment}, providerB))
    await rpcB.request("record_get", {request: once})
    expect((await rpcFailure(rpcB.request("record_get", {request: once}))).domainCode).to.equal("REQUEST_ERROR_REPLAYED")

    // 3. P revokes: B refused again.
    await healthA.revokeConsent(patient, {consentId: grant.consentId})
    expect((await rpcFailure(healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Treatment}))).data?.reason).to.equal("CONSENT_REVOKED")

    // 4. Break-glass by B: allowed and flagged in the trail.
    const glass = await healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Treatment, breakGlass: true})
    expect(glass.decision).to.equal("break-glass")
    await trailHas((e) => e.decision === "break-glass" && e.reader === providerB.id && e.via === hospitalB, "the break-glass entry")

    // 5. P erases: A's vault and B's cache drop it, reads say erased, the anchor still verifies.
    const custodyDir = join(plan.nodes[0]!.dataDir, "vault", "blobs", toHex(utf8("obs-story")))
    expect(existsSync(custodyDir)).to.equal(true)
    await healthA.eraseRecord(patient, {recordId: "obs-story"})
    await eventually(async () => (!existsSync(custodyDir) && !existsSync(cacheDir) ? true : undefined), "custody and cache to be shredded")
    expect((await rpcFailure(healthB.readRecord(providerB, {recordId: "obs-story", purpose: Purpose.Treatment, breakGlass: true}))).domainCode).to.equal(
      "HEALTH_ERROR_RECORD_ERASED",
    )
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

  it("detects ciphertext tampered at the custodian on read", async () => {
    const hospitalA = plan.nodes[0]!.hospital
    await healthA.putRecord(providerA, {recordId: "obs-tamper", patient: patient.publicKey, custodian: hospitalA, resource: observation()})
    expect((await healthA.readRecord(patient, {recordId: "obs-tamper", purpose: Purpose.Treatment})).resource).to.deep.equal(observation())
    const blob = join(plan.nodes[0]!.dataDir, "vault", "blobs", toHex(utf8("obs-tamper")), "1.bin")
    const bytes = await readFile(blob)
    bytes[bytes.length - 7] ^= 0x40
    await writeFile(blob, bytes)
    const err = await rpcFailure(healthA.readRecord(patient, {recordId: "obs-tamper", purpose: Purpose.Treatment}))
    expect(err.domainCode).to.equal("VAULT_ERROR_TAMPERED")
  })
})
