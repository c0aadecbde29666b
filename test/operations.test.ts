/**
 * docs/operations.md "Adding and removing a hospital", followed as an operator would: every step is
 * a `careledger` command (keys, genesis, init with a config file elsewhere, start, rpc), the nodes are
 * separate processes bootstrapped by HOSPITAL@HOST:PORT, and what the procedure says to watch
 * (pending votes, validator set, /ready, metrics) is what the test checks.
 *
 * About a minute of four node processes, so it is opt-in (outside the default `npm test`):
 *   npm run test:operations          (= CARELEDGER_OPERATIONS_TEST=1 mocha ... test/dist/operations.test.js)
 */
import {expect} from "chai"
import {spawn, spawnSync, type ChildProcess} from "node:child_process"
import {closeSync, openSync, readFileSync} from "node:fs"
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {CareLedgerClient, type PendingValidatorVote, type ValidatorInfo} from "@careledger/client"
import {freePort, waitForRpc} from "@careledger/node"
import {eventually} from "./helpers/cluster.js"
import {BIN} from "./helpers/cli.js"

function careledger(...args: string[]): string {
  const run = spawnSync(process.execPath, [BIN, ...args], {encoding: "utf8", timeout: 60_000})
  if (run.status !== 0) throw new Error(`careledger ${args.join(" ")} exited ${run.status}: ${run.stderr}`)
  return run.stdout
}

interface Hospital {
  id: string
  keyFile: string
  publicKey: string
  config: string
  p2p: number
  rpc: string
  metrics: string
  fhirPort: number
  child?: ChildProcess
  exited?: Promise<unknown>
}

const ENABLED = process.env.CARELEDGER_OPERATIONS_TEST === "1"

describe("operations: adding and removing a hospital (multi-process, docs/operations.md)", function () {
  this.timeout(600_000)
  before(function () {
    if (!ENABLED) this.skip()
  })
  let dir: string
  const hospitals: Hospital[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-ops-"))
  })
  afterEach(function () {
    // A failure shows the end of each node's log.
    if (this.currentTest?.state !== "failed") return
    for (const h of hospitals) console.error(`--- ${h.id}\n${readFileSync(join(dir, `${h.id}.log`), "utf8").split("\n").slice(-15).join("\n")}`)
  })
  after(async () => {
    for (const h of hospitals) {
      if (h.child !== undefined && h.child.exitCode === null) {
        h.child.kill("SIGTERM")
        const timer = setTimeout(() => h.child!.kill("SIGKILL"), 10_000)
        await h.exited
        clearTimeout(timer)
      }
    }
    // Skipped (not opted in): the before hook that makes the directory never ran.
    if (dir !== undefined) await rm(dir, {recursive: true, force: true})
  })

  async function hospital(id: string): Promise<Hospital> {
    const keyFile = join(dir, `${id}.key`)
    const info = JSON.parse(careledger("keys", "generate", "--out", keyFile, "--json")) as {publicKey: string}
    const [p2p, rpc, metrics, fhir] = [await freePort(), await freePort(), await freePort(), await freePort()]
    const h = {id, keyFile, publicKey: info.publicKey, config: join(dir, "etc", `${id}.json`), p2p, rpc: `http://127.0.0.1:${rpc}`, metrics: `http://127.0.0.1:${metrics}`, fhirPort: fhir}
    hospitals.push(h)
    return h
  }

  function init(h: Hospital, genesis: string, peers: Hospital[]): void {
    const bootstrap = peers.flatMap((peer) => ["--bootstrap", `${peer.id}@127.0.0.1:${peer.p2p}`])
    careledger(
      "init", "--datadir", join(dir, "data", h.id), "--config", h.config, "--genesis", genesis, "--key", h.keyFile,
      "--listen", `/ip4/127.0.0.1/tcp/${h.p2p}`, "--announce", `/ip4/127.0.0.1/tcp/${h.p2p}`, ...bootstrap,
      "--rpc-port", h.rpc.split(":")[2]!, "--metrics-port", h.metrics.split(":")[2]!, "--fhir-port", String(h.fhirPort), "--log-format", "json",
    )
  }

  function start(h: Hospital): void {
    const log = openSync(join(dir, `${h.id}.log`), "a")
    h.child = spawn(process.execPath, [BIN, "start", "--config", h.config], {stdio: ["ignore", log, log]})
    closeSync(log)
    h.exited = new Promise((r) => h.child!.once("exit", r))
  }

  const rpc = (h: Hospital) => new CareLedgerClient(h.rpc)
  const validators = async (h: Hospital) => (await rpc(h).request("validator_list", {})) as ValidatorInfo[]
  const pending = async (h: Hospital) => (await rpc(h).request("validator_getPendingVotes", {})) as PendingValidatorVote[]
  const metric = async (h: Hospital, name: string) => {
    const text = await (await fetch(`${h.metrics}/metrics`)).text()
    const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text)
    return match === null ? undefined : Number(match[1])
  }
  const finalizedAbove = async (h: Hospital, height: number) => {
    const head = await rpc(h).head()
    return head.finalizedHeight > height ? head.finalizedHeight : undefined
  }

  it("starts three hospitals on three configs, votes a fourth in, then votes it out", async () => {
    const [a, b, c] = [await hospital("hosp-a"), await hospital("hosp-b"), await hospital("hosp-c")]
    const genesis = join(dir, "genesis.json")
    careledger(
      "genesis", "--chain-id", "ops-test", "--block-interval", "300",
      "--hospital", `hosp-a:General Hospital A:${a.publicKey}`, "--hospital", `hosp-b:Clinic B:${b.publicKey}`,
      "--hospital", `hosp-c:University Hospital C:${c.publicKey}`, "--out", genesis,
    )
    for (const h of [a, b, c]) init(h, genesis, [a, b, c].filter((p) => p !== h))
    for (const h of [a, b, c]) start(h)
    for (const h of [a, b, c]) await waitForRpc(h.rpc, 120_000)
    await eventually(() => finalizedAbove(c, 2), "three hospitals finalizing", 120_000)

    // The new hospital: its own key, the same genesis, bootstrap to the members by host:port.
    const d = await hospital("hosp-d")
    init(d, genesis, [a, b, c])
    start(d)
    await waitForRpc(d.rpc, 120_000)
    expect(await metric(d, "careledger_is_validator")).to.equal(0)

    // hosp-a votes; the tally shows 1 of the 2 needed. It withdraws, and the proposal is gone.
    const add = {action: "add", hospital: "hosp-d", key: d.publicKey, name: "Lab D"}
    careledger("rpc", "validator_propose", JSON.stringify(add), "--url", a.rpc)
    const tally = await eventually(async () => (await pending(b)).find((v) => v.hospital === "hosp-d"), "hosp-a's vote in the tally")
    expect(tally).to.include({action: "add", votes: 1, needed: 2, validators: 3})
    expect(tally.voters.map((v) => v.hospital)).to.deep.equal(["hosp-a"])
    careledger("rpc", "validator_discardVote", JSON.stringify({action: "add", hospital: "hosp-d", key: d.publicKey}), "--url", a.rpc)
    await eventually(async () => ((await pending(b)).length === 0 ? true : undefined), "the withdrawn proposal gone")

    // More than half of the three validators (two) add it.
    const before = (await rpc(a).head()).finalizedHeight
    careledger("rpc", "validator_propose", JSON.stringify(add), "--url", a.rpc)
    careledger("rpc", "validator_propose", JSON.stringify(add), "--url", b.rpc)
    await eventually(async () => ((await validators(c)).length === 4 ? true : undefined), "hosp-d in the validator set")
    expect((await validators(a)).map((v) => v.hospital)).to.deep.equal(["hosp-a", "hosp-b", "hosp-c", "hosp-d"])
    const atBefore = (await rpc(a).request("validator_getValidatorsByHeight", {height: before})) as ValidatorInfo[]
    expect(atBefore.map((v) => v.hospital)).to.deep.equal(["hosp-a", "hosp-b", "hosp-c"])

    // What the procedure says to watch on the new hospital: it syncs, is ready, votes, has its peers.
    await eventually(async () => ((await metric(d, "careledger_is_validator")) === 1 ? true : undefined), "hosp-d voting", 120_000)
    await eventually(async () => ((await fetch(`${d.metrics}/ready?minPeers=3&maxBlocksBehind=2`)).status === 200 ? true : undefined), "hosp-d ready", 120_000)
    expect(await metric(a, "careledger_validators")).to.equal(4)
    const height = (await rpc(d).head()).finalizedHeight
    await eventually(() => finalizedAbove(a, height + 3), "four validators finalizing", 120_000)

    // Removal: more than half of four (three) vote; the set shrinks and the chain goes on.
    const remove = JSON.stringify({action: "remove", hospital: "hosp-d", key: d.publicKey})
    for (const h of [a, b]) careledger("rpc", "validator_propose", remove, "--url", h.rpc)
    const removal = await eventually(async () => (await pending(c)).find((v) => v.action === "remove" && v.votes === 2), "two removal votes")
    expect(removal).to.include({needed: 3, validators: 4})
    careledger("rpc", "validator_propose", remove, "--url", c.rpc)
    await eventually(async () => ((await validators(a)).length === 3 ? true : undefined), "hosp-d out of the validator set")
    await eventually(async () => ((await metric(d, "careledger_is_validator")) === 0 ? true : undefined), "hosp-d no longer voting", 120_000)
    const after = (await rpc(a).head()).finalizedHeight
    await eventually(() => finalizedAbove(b, after + 3), "three validators finalizing after the removal", 120_000)
  })
})
