import {expect} from "chai"
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {PrivateKey, Purpose, TxType, getJournalAnchor, type Transaction} from "@careledger/core"
import {HealthPart} from "../../src/health/part.js"
import {FhirServer} from "../../src/fhir/index.js"
import {afterReady, joinNamespaces, toJsonRpcError} from "../../src/rpc/index.js"
import {healthNamespaces} from "../../src/rpc/health.js"
import {HealthService} from "../../src/health/service.js"
import {Vault} from "../../src/health/vault.js"
import {InteractionJournal, type InteractionEntry, type InteractionFacts} from "../../src/health/interactions.js"

import {HealthErrorCode} from "../../src/health/errors.js"
import {LocalChain, makeGenesis, partNode} from "./harness.js"

const facts = (query: string): InteractionFacts => ({
  kind: "search",
  interaction: "search-type",
  resourceType: "Observation",
  recordId: null,
  patient: "a".repeat(64),
  client: "c".repeat(64),
  role: "provider",
  purpose: Purpose.Treatment,
  breakGlass: false,
  query,
  reason: null,
})

async function failure(p: Promise<unknown>): Promise<{code: string; message: string}> {
  try {
    await p
  } catch (err) {
    const e = err as {code?: string; message: string}
    return {code: e.code ?? "", message: e.message}
  }
  throw new Error("expected the call to fail")
}

/** A consistent journal of `queries` written in a scratch vault: what an operator rewriting the journal would produce. */
async function forgedJournal(dir: string, queries: string[]): Promise<InteractionEntry[]> {
  const vault = new Vault({datadir: dir})
  await vault.start()
  try {
    const journal = new InteractionJournal({vault, hospital: "hosp-a", head: () => ({height: 1, timestamp: 0}), now: () => 1_000})
    const entries: InteractionEntry[] = []
    for (const query of queries) entries.push(await journal.append(facts(query)))
    return entries
  } finally {
    await vault.stop()
  }
}

/** Polls until `ready` holds (each finalized block or timer turn), bounded by the test's timeout. */
async function until(ready: () => Promise<boolean>): Promise<void> {
  while (!(await ready())) await new Promise((resolve) => setTimeout(resolve, 5))
}

describe("health/anchoring: the node pins its interaction journal on chain and holds it to the pin", function () {
  this.timeout(30_000)

  let dir: string
  let chain: LocalChain
  const keyA = PrivateKey.generate()
  const services: HealthService[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-anchoring-"))
    chain = new LocalChain(makeGenesis([{id: "hosp-a", key: keyA}]))
    chain.onFinalized(async (block) => {
      for (const service of services) await service.onFinalizedBlock(block)
    })
  })

  afterEach(async () => {
    for (const service of services.splice(0)) await service.stop()
    await rm(dir, {recursive: true, force: true})
  })

  const vaults = new Map<HealthService, Vault>()

  function service(): HealthService {
    const vault = new Vault({datadir: join(dir, "a")})
    const s = new HealthService({hospital: "hosp-a", anchorIntervalMs: 10}, {...chain.deps(), vault, nodeKey: keyA})
    services.push(s)
    vaults.set(s, vault)
    return s
  }

  const vault = (s: HealthService): Vault => vaults.get(s)!

  async function stop(s: HealthService): Promise<void> {
    await s.stop()
    services.splice(services.indexOf(s), 1)
  }

  const anchoredAt = async (): Promise<number> => (await getJournalAnchor(chain.state, "hosp-a"))?.sequence ?? 0
  const anchorTxs = () => chain.blocks.flatMap((b) => b.txs).filter((tx) => tx.type === TxType.AuditAnchor) as Transaction<TxType.AuditAnchor>[]

  it("anchors the journal after appends, one anchor at a time, each further along, up to the newest entry", async () => {
    const s = service()
    await s.start()
    expect(anchorTxs()).to.have.length(0)
    const entries = await Promise.all(Array.from({length: 12}, (_, i) => s.interactions.append(facts(`Observation?patient=${i}`))))
    await until(async () => (await anchoredAt()) === 12)
    const anchor = await getJournalAnchor(chain.state, "hosp-a")
    expect(anchor).to.include({sequence: 12, head: entries[11]!.id})
    const sequences = anchorTxs().map((tx) => tx.payload.sequence)
    expect(sequences.length).to.be.within(1, 12)
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).to.be.greaterThan(sequences[i - 1]!)
    expect(anchorTxs().every((tx) => tx.senderId === keyA.id)).to.equal(true)
  })

  it("anchors at start a journal that is ahead of its last finalized anchor (entries written, node down before it anchored)", async () => {
    const vault = new Vault({datadir: join(dir, "a")})
    await vault.start()
    const bare = new InteractionJournal({vault, hospital: "hosp-a", head: () => ({height: 1, timestamp: 0}), now: () => 1_000})
    await bare.append(facts("Observation?patient=a"))
    const two = await bare.append(facts("Observation?patient=b"))
    await vault.stop()
    expect(await anchoredAt()).to.equal(0)

    await service().start()
    await until(async () => (await anchoredAt()) === 2)
    expect(await getJournalAnchor(chain.state, "hosp-a")).to.include({head: two.id})
  })

  /** Three entries anchored on chain, then the journal rewritten by its operator into another consistent hash chain of three. */
  async function anchorThenRewrite(): Promise<void> {
    const first = service()
    await first.start()
    await first.interactions.append(facts("Observation?patient=a"))
    await first.interactions.append(facts("Observation?patient=b"))
    const three = await first.interactions.append(facts("Observation?patient=c"))
    await until(async () => (await anchoredAt()) === 3)
    expect(await getJournalAnchor(chain.state, "hosp-a")).to.include({sequence: 3, head: three.id})
    await stop(first)

    const vault = new Vault({datadir: join(dir, "a")})
    await vault.start()
    const forged = await forgedJournal(join(dir, "forged"), ["Observation?patient=x", "Observation?patient=y", "Observation?patient=z"])
    for (const entry of forged) await vault.putInteraction(entry.seq, entry.patient, Buffer.from(JSON.stringify(entry), "utf8"))
    const bare = new InteractionJournal({vault, hospital: "hosp-a", head: () => ({height: 1, timestamp: 0}), now: () => 1_000})
    expect(await bare.verify()).to.deep.equal({entries: 3, brokenAt: null})
    await vault.stop()
  }

  it("refuses to start when the journal was rewritten consistently after an anchor finalized", async () => {
    await anchorThenRewrite()
    const again = service()
    const err = await failure(again.start())
    expect(err.code).to.equal(HealthErrorCode.JOURNAL_NOT_ANCHORED)
    expect(err.message).to.match(/entry 3 /)
    // Nothing is anchored from a journal that failed its check.
    const before = anchorTxs().length
    await failure(again.interactions.append(facts("Observation?patient=w")))
    expect(anchorTxs()).to.have.length(before)
  })

  it("stops the node's health part: its RPC calls fail with the journal's code (-32016), its FHIR endpoint with 503", async () => {
    await anchorThenRewrite()
    const node = partNode(chain, keyA, [{id: "hosp-a", key: keyA.id}])
    const part = new HealthPart({dataDir: join(dir, "a")}, {})
    try {
      const methods = joinNamespaces(...healthNamespaces(part.attach(node)).map((ns) => afterReady(ns, () => part.ready())))
      let thrown: unknown
      await methods.get("trial_verify")!.invoke({trialId: "NCT-1"}, {permission: "admin", clientAddress: "test"}).catch((err: unknown) => (thrown = err))
      expect((thrown as {code?: string}).code).to.equal(HealthErrorCode.JOURNAL_NOT_ANCHORED)
      expect(toJsonRpcError(thrown).code).to.equal(-32016)

      // The FHIR endpoint answers 503 with an OperationOutcome naming the code.
      const fhir = new FhirServer({port: 0}, part.fhirDeps())
      await fhir.start()
      try {
        const res = await fetch(`${fhir.url}/metadata`)
        expect(res.status).to.equal(503)
        const outcome = (await res.json()) as {resourceType: string; issue: {code: string; diagnostics?: string}[]}
        expect(outcome.resourceType).to.equal("OperationOutcome")
        expect(outcome.issue[0]!.code).to.equal("exception")
        expect(JSON.stringify(outcome)).to.match(/entry 3 /)
      } finally {
        await fhir.stop()
      }
    } finally {
      await part.stop()
    }
  })

  it("fails a running journal once it no longer holds the entry its finalized anchor pins", async () => {
    const s = service()
    await s.start()
    await s.interactions.append(facts("Observation?patient=a"))
    await s.interactions.append(facts("Observation?patient=b"))
    await until(async () => (await anchoredAt()) === 2)
    // While the node runs, its operator rewrites both entries into another consistent chain.
    const forged = await forgedJournal(join(dir, "forged"), ["Observation?patient=x", "Observation?patient=y"])
    for (const entry of forged) await vault(s).putInteraction(entry.seq, entry.patient, Buffer.from(JSON.stringify(entry), "utf8"))
    // The next append asks for an anchor, which first holds the journal to the one on chain.
    await s.interactions.append(facts("Observation?patient=c"))
    let err: {code: string} | undefined
    await until(async () => {
      err = await s.interactions.of("a".repeat(64)).then(
        () => undefined,
        (e: {code: string}) => e,
      )
      return err !== undefined
    })
    expect(err!.code).to.equal(HealthErrorCode.JOURNAL_NOT_ANCHORED)
    expect((await failure(s.interactions.append(facts("Observation?patient=d")))).code).to.equal(HealthErrorCode.JOURNAL_NOT_ANCHORED)
    expect(await anchoredAt()).to.equal(2)
  })

  it("refuses a journal cut short below its anchor, and one whose hash chain is broken", async () => {
    const pins = (pin: {sequence: number; head: string}) => ({latest: async () => pin, start: () => undefined, request: () => undefined, stop: async () => undefined})
    const entries = await forgedJournal(join(dir, "short"), ["Observation?patient=x", "Observation?patient=y"])
    const vault = new Vault({datadir: join(dir, "short")})
    await vault.start()
    try {
      const journal = (pin: {sequence: number; head: string}) =>
        new InteractionJournal({vault, hospital: "hosp-a", head: () => ({height: 1, timestamp: 0}), now: () => 1_000, pins: pins(pin)})
      await journal({sequence: 2, head: entries[1]!.id}).start()
      const short = await failure(journal({sequence: 3, head: "f".repeat(64)}).start())
      expect(short.code).to.equal(HealthErrorCode.JOURNAL_NOT_ANCHORED)
      expect(short.message).to.match(/has 2 entries/)

      await vault.putInteraction(1, entries[0]!.patient, Buffer.from(JSON.stringify({...entries[0]!, query: "Observation?patient=nobody"}), "utf8"))
      const broken = await failure(journal({sequence: 1, head: entries[0]!.id}).start())
      expect(broken.code).to.equal(HealthErrorCode.JOURNAL_BROKEN)
    } finally {
      await vault.stop()
    }
  })
})
