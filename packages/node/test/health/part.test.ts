/**
 * The health part inside a node that is stopping: the node's one stop signal ends what the part
 * waits for (a transaction's finality, another hospital's answer), so stop() is not held up.
 */
import {expect} from "chai"
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {PrivateKey, Purpose, Role, TxType, readRequestToJson, sha256, signReadRequest, utf8, type CareLedgerError} from "@careledger/core"
import {HealthPart} from "../../src/health/part.js"
import {afterReady, joinNamespaces} from "../../src/rpc/index.js"
import {healthNamespaces} from "../../src/rpc/health.js"
import {LocalChain, makeGenesis, partNode} from "./harness.js"

describe("health/part (inside a stopping node)", function () {
  this.timeout(60_000)
  const keyA = PrivateKey.generate()
  const keyB = PrivateKey.generate()
  let dir: string
  let chain: LocalChain
  let abort: AbortController
  let part: HealthPart
  /** The signal each request to another hospital was given, and a wake-up for the test when one is made. */
  let requestSignals: AbortSignal[]
  let requested: Promise<void>

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-health-part-"))
    chain = new LocalChain(makeGenesis([{id: "hosp-a", key: keyA}, {id: "hosp-b", key: keyB}]))
    abort = new AbortController()
    requestSignals = []
    let onRequest = (): void => undefined
    requested = new Promise((resolve) => (onRequest = resolve))
    // Nothing this node submits becomes final: its calls wait until the node stops.
    const node = partNode(chain, keyA, [{id: "hosp-a", key: keyA.id}, {id: "hosp-b", key: keyB.id}], {
      // The other hospital never answers: only the signal ends the request.
      network: {
        requestRecord: (_peerId, _request, signal) =>
          new Promise((_resolve, reject) => {
            requestSignals.push(signal!)
            onRequest()
            signal!.addEventListener("abort", () => reject(new Error("aborted")), {once: true})
          }),
      },
      signal: abort.signal,
    })
    // Ten minutes: a wait that ignored the signal would outlast the test.
    part = new HealthPart({dataDir: dir, finalityTimeoutMs: 10 * 60_000}, {})
    const methods = joinNamespaces(...healthNamespaces(part.attach(node)).map((ns) => afterReady(ns, () => part.ready())))
    call = (name, params) => methods.get(name)!.invoke(params, {permission: "admin", clientAddress: "test"})
  })

  let call: (name: string, params: unknown) => Promise<unknown>

  afterEach(async () => {
    abort.abort()
    await part.stop()
    await rm(dir, {recursive: true, force: true})
  })

  async function anchor(recordId: string, custodian: string, provider: PrivateKey, patient: PrivateKey): Promise<void> {
    await chain.send(provider, TxType.RecordAnchor, {
      recordId,
      patient: patient.publicKey,
      resourceType: "Observation",
      custodian,
      contentHash: sha256(utf8(recordId)),
      version: 1,
      previous: null,
    })
  }

  const failure = (p: Promise<unknown>): Promise<CareLedgerError> =>
    p.then(
      () => expect.fail("expected the call to fail"),
      (err: CareLedgerError) => err,
    )

  it("answers a custodian erasure waiting for finality with NOT_FINAL once the node's signal aborts", async () => {
    const provider = await chain.enrol(keyA, Role.Provider)
    const patient = await chain.enrol(keyA, Role.Patient)
    await anchor("rec-a", "hosp-a", provider, patient)
    const erasure = failure(call("record_erase", {recordId: "rec-a", legalBasis: "court order", wait: true}))
    abort.abort()
    expect((await erasure).code).to.equal("HEALTH_ERROR_NOT_FINAL")
  })

  it("gives up a read from another hospital that does not answer once the node's signal aborts", async () => {
    const reader = await chain.enrol(keyA, Role.Provider)
    const providerB = await chain.enrol(keyB, Role.Provider)
    const patient = await chain.enrol(keyB, Role.Patient)
    await anchor("rec-b", "hosp-b", providerB, patient)
    const request = readRequestToJson(signReadRequest({chainId: chain.genesis.chainId, recordId: "rec-b", custodian: "hosp-b", purpose: Purpose.Treatment}, reader))
    const read = failure(call("record_get", {request}))
    await requested
    expect(requestSignals).to.have.length(1)
    expect(requestSignals[0]!.aborted).to.equal(false)
    abort.abort()
    expect(requestSignals[0]!.aborted).to.equal(true)
    expect((await read).code).to.equal("HEALTH_ERROR_CUSTODIAN_UNAVAILABLE")
  })
})
