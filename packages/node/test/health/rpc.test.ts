import {expect} from "chai"
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {PrivateKey, Purpose, Role, getNextNonce, healthRoutes, loadRecord} from "@careledger/core"
import {CareLedgerClient, HealthClient, RpcError, RpcErrorCodes, readRequestToJson, signReadRequest, type FhirResource} from "@careledger/client"
import {HealthService} from "../../src/health/service.js"
import {Vault} from "../../src/health/vault.js"
import {RpcServer, defaultRpcServerOptions, joinNamespaces, method, p, params, HeadFeed} from "../../src/rpc/index.js"
import {recordNamespace} from "../../src/rpc/record.js"
import {consentNamespace} from "../../src/rpc/consent.js"
import {auditNamespace} from "../../src/rpc/audit.js"
import {trialNamespace} from "../../src/rpc/trial.js"
import {txMethods} from "../../src/rpc/tx.js"
import {silentLogger} from "../../src/logger/index.js"
import {healthCommand} from "../../src/cli/commands/health.js"
import {writeKeyFile} from "../../src/keystore/index.js"
import {writeFile} from "node:fs/promises"
import {DirectExchange, LocalChain, makeGenesis} from "./harness.js"
import {observation} from "./fixtures.js"

async function rpcFailure(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p
  } catch (err) {
    expect(err).to.be.instanceOf(RpcError)
    return err as RpcError
  }
  throw new Error("expected an RPC error")
}

describe("health/rpc (record_, consent_, audit_, trial_ over HTTP)", function () {
  this.timeout(30_000)
  let dir: string
  let chain: LocalChain
  const servers: RpcServer[] = []
  const services: HealthService[] = []
  const keyA = PrivateKey.generate()
  const keyB = PrivateKey.generate()
  let clientA: HealthClient
  let clientB: HealthClient
  let rawB: CareLedgerClient
  let urlA: string
  let urlB: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-health-rpc-"))
    chain = new LocalChain(makeGenesis([{id: "hosp-a", key: keyA}, {id: "hosp-b", key: keyB}]))
    const exchanges = [new DirectExchange("hosp-a"), new DirectExchange("hosp-b")]
    const ids = ["hosp-a", "hosp-b"]
    const keys = [keyA, keyB]
    const urls: string[] = []
    for (let i = 0; i < 2; i++) {
      const service = new HealthService({hospital: ids[i]!}, {...chain.deps(), vault: new Vault({datadir: join(dir, ids[i]!)}), nodeKey: keys[i]!, exchange: exchanges[i]})
      await service.start()
      services.push(service)
      chain.onFinalized((block) => service.onFinalizedBlock(block))
      // chain_getNonce belongs to the chain namespace; this test serves it straight from the state.
      const nonces = {
        chain_getNonce: method(params({account: p.hex({bytes: 32})}), {
          permission: "read",
          summary: "next nonce",
          handler: async ({account}) => ({account, nonce: await getNextNonce(chain.state, account)}),
        }),
        // This chain finalizes each transaction as it is submitted, so a known hash is final.
        chain_getTx: method(params({hash: p.hex({bytes: 32})}), {
          permission: "read",
          summary: "finality of a transaction",
          handler: async ({hash}) => (chain.isFinal(hash) ? {status: "final"} : null),
        }),
        ...txMethods({
          submitTx: async (tx) => (await chain.submit(tx), tx.hashHex()),
          submitTxs: async (txs) => {
            const out: Array<{hash: string} | {error: unknown}> = []
            for (const tx of txs) out.push(await chain.submit(tx).then(() => ({hash: tx.hashHex()}), (error: unknown) => ({error})))
            return out
          },
        }),
      }
      const server = new RpcServer(
        {...defaultRpcServerOptions, port: 0},
        {
          methods: joinNamespaces(recordNamespace(service), consentNamespace(service), auditNamespace(service), trialNamespace(service), nonces),
          logger: silentLogger(),
          feed: new HeadFeed(),
        },
      )
      await server.start()
      servers.push(server)
      urls.push(server.url)
    }
    for (const ex of exchanges) services.forEach((s, i) => ex.services.set(ids[i]!, s))
    ;[urlA, urlB] = [urls[0]!, urls[1]!]
    clientA = new HealthClient(new CareLedgerClient(urls[0]!), chain.genesis.chainId)
    rawB = new CareLedgerClient(urls[1]!)
    clientB = new HealthClient(rawB, chain.genesis.chainId)
  })

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()))
    await Promise.all(services.splice(0).map((s) => s.stop()))
    await rm(dir, {recursive: true, force: true})
  })

  it("carries the flows end to end through the client helpers", async () => {
    const provider = await chain.enrol(keyA, Role.Provider)
    const patient = await chain.enrol(keyA, Role.Patient)
    const providerB = await chain.enrol(keyB, Role.Provider)
    const researcher = await chain.enrol(keyB, Role.Researcher)

    const put = await clientA.putRecord(provider, {recordId: "obs-rpc", patient: patient.publicKey, custodian: "hosp-a", resource: observation(7.2, patient.id)})
    expect(put).to.include({recordId: "obs-rpc", version: 1, final: true})

    const denied = await rpcFailure(clientB.readRecord(providerB, {recordId: "obs-rpc", purpose: Purpose.Treatment}))
    expect(denied.domainCode).to.equal("HEALTH_ERROR_ACCESS_DENIED")
    expect(denied.data?.reason).to.equal("NO_CONSENT")

    const grant = await clientA.grantConsent(patient, {
      grantee: {kind: "hospital", hospital: "hosp-b"},
      scope: {kind: "records", recordIds: ["obs-rpc"]},
      purposes: [Purpose.Treatment],
      expiresAt: Date.now() + 86_400_000,
    })
    expect(grant.final).to.equal(true)
    const read = await clientB.readRecord(providerB, {recordId: "obs-rpc", purpose: Purpose.Treatment})
    expect(read.resource).to.deep.equal(observation(7.2, patient.id))
    expect(read.consentId).to.equal(grant.consentId)

    expect((await clientA.checkConsent({recordId: "obs-rpc", reader: researcher.publicKey, purpose: Purpose.Research})).reason).to.equal("PURPOSE_MISMATCH")
    expect(await clientA.listConsents({hospital: "hosp-b"})).to.have.length(1)
    const trail = await clientB.auditTrail(patient)
    expect(trail.entries.map((e) => e.decision)).to.deep.equal(["release", "deny"])
    expect(trail.next).to.equal(null)
    const firstPage = await clientB.auditTrail(patient, {limit: 1})
    expect(firstPage.entries.map((e) => e.decision)).to.deep.equal(["release"])
    expect((await clientB.auditTrail(patient, {limit: 1, cursor: firstPage.next!})).entries.map((e) => e.decision)).to.deep.equal(["deny"])
    // The operator (admin: loopback without tokens) reads one record's trail without the patient's signature.
    expect(((await rawB.request("audit_trail", {recordId: "obs-rpc"})) as {entries: unknown[]}).entries.length).to.equal(2)
    const bundle = (await clientA.auditExport(patient)) as {resourceType: string; entry: unknown[]}
    expect(bundle.resourceType).to.equal("Bundle")
    expect(bundle.entry).to.have.length(3)

    expect((await clientA.verifyRecord({recordId: "obs-rpc", resource: observation(7.2, patient.id), salt: put.salt})).valid).to.equal(true)
    expect((await clientA.recordHistory("obs-rpc")).versions).to.have.length(1)

    await clientA.revokeConsent(patient, {consentId: grant.consentId})
    expect((await rpcFailure(clientB.readRecord(providerB, {recordId: "obs-rpc", purpose: Purpose.Treatment}))).data?.reason).to.equal("CONSENT_REVOKED")

    await clientB.registerTrial(researcher, {trialId: "T-1", protocol: "protocol text"})
    await clientB.publishTrialResult(researcher, {trialId: "T-1", results: "results text"})
    expect(await clientA.verifyTrial({trialId: "T-1", protocol: "protocol text", results: "results text"})).to.include({
      protocolVersion: 1,
      resultsMatch: true,
      registeredBeforeResults: true,
    })

    await clientA.eraseRecord(patient, {recordId: "obs-rpc"})
    expect((await rpcFailure(clientB.readRecord(providerB, {recordId: "obs-rpc", purpose: Purpose.Treatment, breakGlassReason: "emergency"}))).domainCode).to.equal(
      "HEALTH_ERROR_RECORD_ERASED",
    )
    expect((await clientB.verifyRecord({recordId: "obs-rpc", resource: observation(7.2, patient.id), salt: put.salt})).valid).to.equal(true)
    // Signed transactions have one way in (tx_send): no method repeats it with a wait.
    for (const name of ["consent_grant", "consent_revoke", "trial_register", "trial_amend", "trial_result"]) {
      expect((await rpcFailure(rawB.request(name, {tx: "00"}))).code, name).to.equal(RpcErrorCodes.METHOD_NOT_FOUND)
    }
  })

  it("refuses malformed params before any handler runs", async () => {
    const cases: [string, unknown][] = [
      ["record_get", {request: "not an object"}],
      ["record_put", {resource: {resourceType: "Observation"}, salt: "zz", anchorTx: "00"}],
      ["record_history", {recordId: "../etc/passwd"}],
      ["consent_check", {recordId: "r", reader: "00", purpose: "treatment"}],
      ["consent_check", {recordId: "r", reader: "11".repeat(32), purpose: "curiosity"}],
      ["trial_verify", {trialId: "T", extra: 1}],
    ]
    for (const [name, args] of cases) {
      expect((await rpcFailure(rawB.request(name, args))).code, name).to.equal(RpcErrorCodes.INVALID_PARAMS)
    }
    const request = readRequestToJson(signReadRequest({chainId: "another-chain", recordId: "r", custodian: "hosp-a", purpose: Purpose.Treatment}, PrivateKey.generate()))
    expect((await rpcFailure(rawB.request("record_get", {request}))).domainCode).to.equal("REQUEST_ERROR_WRONG_CHAIN")
  })

  it("serves every health route as declared once in core: its permission, summary and params parser", async () => {
    const served = joinNamespaces(recordNamespace(services[1]!), consentNamespace(services[1]!), auditNamespace(services[1]!), trialNamespace(services[1]!))
    expect([...served.keys()].sort()).to.deep.equal(Object.keys(healthRoutes).sort())
    for (const [name, route] of Object.entries(healthRoutes)) {
      expect(served.get(name)!.permission, name).to.equal(route.permission)
      expect(served.get(name)!.summary, name).to.equal(route.summary)
    }
    // The declared parser is what refuses bad params, named by the param.
    const bad = await rpcFailure(rawB.request("record_history", {recordId: "a/b"}))
    expect(bad.code).to.equal(RpcErrorCodes.INVALID_PARAMS)
    expect(bad.data?.param).to.equal("recordId")
  })

  it("exposes the flows on the CLI, signing with key files", async () => {
    const provider = await chain.enrol(keyA, Role.Provider)
    const patient = await chain.enrol(keyA, Role.Patient)
    const providerB = await chain.enrol(keyB, Role.Provider)
    const files: Record<string, string> = {}
    for (const [name, key] of Object.entries({provider, patient, providerB})) {
      files[name] = join(dir, `${name}.key`)
      writeKeyFile(files[name], key)
    }
    const resourceFile = join(dir, "obs.json")
    await writeFile(resourceFile, JSON.stringify(observation(7.2, patient.id)))
    const cli = async (url: string, ...args: string[]): Promise<{code: number; json: Record<string, unknown> & unknown[]}> => {
      const out: string[] = []
      const err: string[] = []
      const code = await healthCommand([...args, "--url", url, "--chain-id", chain.genesis.chainId], {out: (l) => out.push(l), err: (l) => err.push(l), env: {}, isTty: false})
      return {code, json: JSON.parse(out.join("\n") || "null") as Record<string, unknown> & unknown[]}
    }
    const put = await cli(urlA, "put", "--key", files.provider!, "--record-id", "obs-cli", "--patient", patient.id, "--custodian", "hosp-a", "--resource", resourceFile)
    expect(put.json).to.include({recordId: "obs-cli", version: 1, final: true})
    const grant = await cli(urlA, "grant", "--key", files.patient!, "--grantee", providerB.id, "--types", "Observation", "--purposes", "treatment", "--days", "1")
    expect(grant.json.final).to.equal(true)
    const read = await cli(urlB, "read", "--key", files.providerB!, "--record-id", "obs-cli", "--purpose", "treatment")
    expect(read.json.resource).to.deep.equal(observation(7.2, patient.id))
    const trail = await cli(urlA, "audit", "--key", files.patient!)
    expect((trail.json as unknown as {entries: unknown[]}).entries).to.have.length(1)
    const verify = await cli(urlB, "verify", "--record-id", "obs-cli", "--resource", resourceFile, "--salt", put.json.salt as string)
    expect(verify.json.valid).to.equal(true)
    expect((await rpcFailure(cli(urlB, "read", "--key", files.providerB!, "--record-id", "obs-cli", "--purpose", "operations"))).data?.reason).to.equal(
      "PURPOSE_MISMATCH",
    )
  })

  it("record_put refuses a resource about another patient than its anchor names, and stores nothing", async () => {
    const provider = await chain.enrol(keyA, Role.Provider)
    const patient = await chain.enrol(keyA, Role.Patient)
    const other = await chain.enrol(keyA, Role.Patient)
    const put = (recordId: string, resource: FhirResource) => clientA.putRecord(provider, {recordId, patient: patient.publicKey, custodian: "hosp-a", resource})
    const aboutOther = await rpcFailure(put("obs-other", observation(7.2, other.id)))
    expect(aboutOther.domainCode).to.equal("HEALTH_ERROR_WRONG_PATIENT")
    expect(aboutOther.message).to.contain("Observation.subject names another patient")
    expect(aboutOther.data?.expressions).to.deep.equal(["Observation.subject"])
    // A patient id the chain does not know cannot be shown to be the anchored patient either.
    expect((await rpcFailure(put("obs-unknown", observation(7.2, "pseudo-7f3a")))).domainCode).to.equal("HEALTH_ERROR_WRONG_PATIENT")
    expect((await rpcFailure(put("imm-other", {resourceType: "Immunization", status: "completed", vaccineCode: {text: "MMR"}, patient: {reference: `Patient/${other.id}`}, occurrenceDateTime: "2019-04-01"}))).data?.expressions).to.deep.equal([
      "Immunization.patient",
    ])
    for (const id of ["obs-other", "obs-unknown", "imm-other"]) expect(await loadRecord(chain.state, id)).to.equal(undefined)
    expect(await services[0]!.custodyRecordIds()).to.deep.equal([])
    // The anchored patient's key, or a local Patient id anchored for that key, is accepted.
    expect(await put("obs-key", observation(7.2, patient.id))).to.include({final: true})
    await put("mrn-0042", {resourceType: "Patient", gender: "female"})
    expect(await put("obs-mrn", observation(7.2, "mrn-0042"))).to.include({final: true})
  })

  it("gives a record's trail without the patient's signature to admin tokens only", async () => {
    const provider = await chain.enrol(keyA, Role.Provider)
    const patient = await chain.enrol(keyA, Role.Patient)
    await clientA.putRecord(provider, {recordId: "obs-admin", patient: patient.publicKey, custodian: "hosp-a", resource: observation(7.2, patient.id)})
    await clientA.readRecord(patient, {recordId: "obs-admin", purpose: Purpose.Treatment})
    const tokensFile = join(dir, "tokens.json")
    await writeFile(
      tokensFile,
      JSON.stringify({tokens: [{name: "app", token: "read-token-0123456789", permission: "read"}, {name: "auditor", token: "admin-token-0123456789", permission: "admin"}]}),
      {mode: 0o600},
    )
    const server = new RpcServer({...defaultRpcServerOptions, port: 0, tokensFile}, {methods: joinNamespaces(auditNamespace(services[0]!)), logger: silentLogger(), feed: new HeadFeed()})
    await server.start()
    servers.push(server)
    const app = new CareLedgerClient({url: server.url, token: "read-token-0123456789"})
    const auditor = new CareLedgerClient({url: server.url, token: "admin-token-0123456789"})
    expect((await rpcFailure(app.request("audit_trail", {recordId: "obs-admin"}))).domainCode).to.equal("RPC_ERROR_PERMISSION")
    const trail = ((await auditor.request("audit_trail", {recordId: "obs-admin"})) as {entries: {decision: string; reason: string}[]}).entries
    expect(trail.map((e) => [e.decision, e.reason])).to.deep.equal([["release", "SELF_ACCESS"]])
    expect((await rpcFailure(auditor.request("audit_trail", {}))).code).to.equal(RpcErrorCodes.INVALID_PARAMS)
  })
})
