/**
 * What the FHIR port answers before any FHIR runs: the RPC's Host allow-list and Origin check (a
 * DNS-rebinding page or another site's page gets nothing), and HTTPS with a configured certificate.
 */
import {expect} from "chai"
import {chmodSync, mkdtempSync, readFileSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {PrivateKey, Role} from "@careledger/core"
import {buildClientAssertion, tokenRequestBody} from "@careledger/client"
import {NodeConfigErrorCode} from "../../src/config/index.js"
import {HealthService} from "../../src/health/service.js"
import {Vault} from "../../src/health/vault.js"
import {FhirServer, type FhirServerOptions} from "../../src/fhir/index.js"
import {LocalChain, makeGenesis} from "../health/harness.js"
import {selfSignedCertificate, send} from "../http.js"

describe("fhir/server transport: Host allow-list, Origin, TLS", function () {
  this.timeout(60_000)

  let dir: string
  let chain: LocalChain
  let health: HealthService
  const servers: FhirServer[] = []
  const nodeKey = PrivateKey.generate()

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "careledger-fhir-transport-"))
    chain = new LocalChain(makeGenesis([{id: "hosp-a", key: nodeKey}]))
    health = new HealthService({hospital: "hosp-a"}, {...chain.deps(), vault: new Vault({datadir: join(dir, "vault")}), nodeKey})
    await health.start()
  })

  afterEach(async () => {
    try {
      for (const s of servers.splice(0)) await s.stop()
      await health?.stop()
    } finally {
      // Even when setting up failed half way, the temp dir goes.
      rmSync(dir, {recursive: true, force: true})
    }
  })

  async function start(options: Partial<FhirServerOptions>): Promise<FhirServer> {
    const server = new FhirServer(
      {port: 0, ...options},
      {health, chain: chain.deps().chain, blockTime: async () => undefined},
    )
    await server.start()
    servers.push(server)
    return server
  }

  it("refuses a foreign Host (DNS rebinding) and another site's Origin with a 403 OperationOutcome, as the RPC does", async () => {
    const server = await start({})
    const metadata = `${server.url}/metadata`
    const port = new URL(metadata).port
    const ok = await send(metadata, {method: "GET", headers: {host: `localhost:${port}`}})
    expect(ok.status).to.equal(200)
    expect(JSON.parse(ok.body).resourceType).to.equal("CapabilityStatement")
    const rebound = await send(metadata, {method: "GET", headers: {host: `evil.example:${port}`}})
    expect(rebound.status).to.equal(403)
    const outcome = JSON.parse(rebound.body) as {resourceType: string; issue: {code: string; diagnostics: string}[]}
    expect(outcome.resourceType).to.equal("OperationOutcome")
    expect(outcome.issue[0]!.code).to.equal("security")
    expect(outcome.issue[0]!.diagnostics).to.match(/evil\.example.*FHIR host allow-list/)
    // The token endpoint is behind the same check: no token for a rebinding page.
    const token = await send(`${server.url}/auth/token`, {headers: {host: "evil.example", "content-type": "application/x-www-form-urlencoded"}, body: "grant_type=client_credentials"})
    expect(token.status).to.equal(403)
    const fromPage = await send(metadata, {method: "GET", headers: {host: `127.0.0.1:${port}`, origin: "https://evil.example"}})
    expect(fromPage.status).to.equal(403)
    expect(fromPage.headers["access-control-allow-origin"]).to.equal(undefined)
    // An operator's allow-list replaces the default, as --rpc-allowed-hosts does.
    const named = await start({allowedHosts: ["fhir.hosp-a.example"]})
    expect((await send(`${named.url}/metadata`, {method: "GET", headers: {host: "fhir.hosp-a.example"}})).status).to.equal(200)
    expect((await send(`${named.url}/metadata`, {method: "GET", headers: {host: "localhost"}})).status).to.equal(403)
  })

  it("serves HTTPS with a configured certificate and key, tokens included", async () => {
    const {cert, key} = selfSignedCertificate(dir, "fhir")
    const ca = readFileSync(cert)
    const server = await start({tlsCert: cert, tlsKey: key})
    expect(server.url).to.match(/^https:\/\/127\.0\.0\.1:\d+\/fhir$/)
    const metadata = await send(`${server.url}/metadata`, {method: "GET", ca})
    expect(metadata.status).to.equal(200)
    expect(JSON.parse(metadata.body).fhirVersion).to.equal("4.0.1")
    // The token audience is the https URL.
    const provider = await chain.enrol(nodeKey, Role.Provider)
    const tokenUrl = `${server.url}/auth/token`
    const answer = await send(tokenUrl, {
      headers: {"content-type": "application/x-www-form-urlencoded"},
      body: tokenRequestBody(buildClientAssertion(provider, {tokenUrl, purposeOfUse: "TREAT"}), "system/*.read"),
      ca,
    })
    expect(answer.status).to.equal(200)
    expect(JSON.parse(answer.body).token_type).to.equal("Bearer")
    // Plain HTTP on the TLS port gets no FHIR answer.
    const plain = await send(server.url!.replace("https:", "http:") + "/metadata", {method: "GET"}).catch((err: Error) => err)
    expect(plain instanceof Error || plain.status === 400).to.equal(true)
    // Half a TLS setup, or a key others may read, stops the server before it opens.
    expect(() => new FhirServer({port: 0, tlsCert: cert}, {} as never)).to.throw(/--fhir-tls-key/).with.property("code", NodeConfigErrorCode.BAD_VALUE)
    chmodSync(key, 0o644)
    expect(() => new FhirServer({port: 0, tlsCert: cert, tlsKey: key}, {} as never)).to.throw().with.property("code", NodeConfigErrorCode.FILE_TOO_OPEN)
  })
})
