import {expect} from "chai"
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {Purpose} from "@careledger/core"
import {Vault} from "../../src/health/vault.js"
import {InteractionJournal, type InteractionFacts} from "../../src/health/interactions.js"

const facts = (patient: string | null, kind: InteractionFacts["kind"] = "search"): InteractionFacts => ({
  kind,
  interaction: "search-type",
  resourceType: "Observation",
  recordId: null,
  patient,
  client: "c".repeat(64),
  role: "provider",
  purpose: Purpose.Treatment,
  breakGlass: false,
  query: `Observation?patient=${patient ?? ""}`,
  reason: null,
})

describe("health/interactions (the node's journal of FHIR searches, exports and scope refusals)", () => {
  let dir: string
  let vault: Vault
  let height = 7

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-interactions-"))
    vault = new Vault({datadir: dir})
    await vault.start()
  })

  afterEach(async () => {
    await vault.stop()
    await rm(dir, {recursive: true, force: true})
  })

  const journal = () => new InteractionJournal({vault, hospital: "hosp-a", head: () => ({height, timestamp: 0}), now: () => 1_000 + height})

  it("keeps entries by patient, newest first, hash-linked, and continues the chain after a restart", async () => {
    const p = "a".repeat(64)
    const q = "b".repeat(64)
    const first = journal()
    const one = await first.append(facts(p))
    const two = await first.append(facts(q, "export"))
    height = 9
    const three = await first.append(facts(p, "refused"))
    await first.append(facts(null))
    expect([one.seq, two.seq, three.seq]).to.deep.equal([1, 2, 3])
    expect(two.prev).to.equal(one.id)
    expect(three.height).to.equal(9)
    expect((await first.of(p)).map((e) => e.seq)).to.deep.equal([3, 1])
    expect((await first.of(q)).map((e) => e.kind)).to.deep.equal(["export"])

    // The vault closes and opens again (a restart): the sequence and the hash chain go on from disk.
    await vault.stop()
    await vault.start()
    const again = journal()
    const five = await again.append(facts(p))
    expect(five.seq).to.equal(5)
    expect(await again.verify()).to.deep.equal({entries: 5, brokenAt: null})
    expect((await again.of(p)).map((e) => e.seq)).to.deep.equal([5, 3, 1])
  })

  it("appends concurrently without forking the sequence", async () => {
    const j = journal()
    const entries = await Promise.all(Array.from({length: 20}, (_, i) => j.append(facts(i % 2 === 0 ? "a".repeat(64) : null))))
    expect(entries.map((e) => e.seq)).to.deep.equal(Array.from({length: 20}, (_, i) => i + 1))
    expect(await j.verify()).to.deep.equal({entries: 20, brokenAt: null})
  })

  it("reports an entry altered on disk", async () => {
    const j = journal()
    await j.append(facts("a".repeat(64)))
    const two = await j.append(facts("a".repeat(64)))
    await j.append(facts("a".repeat(64)))
    // Someone rewrites entry 2 to hide what was asked.
    await vault.putInteraction(2, "a".repeat(64), Buffer.from(JSON.stringify({...two, query: "Observation?patient=nobody"})))
    expect(await j.verify()).to.deep.equal({entries: 2, brokenAt: 2})
  })
})
