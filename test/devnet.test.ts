/**
 * `careledger devnet` as a user runs it: a separate process that starts the nodes, prints their
 * URLs, keeps its data across restarts and stops every node on SIGTERM.
 */
import {expect} from "chai"
import {spawn, type ChildProcess} from "node:child_process"
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {CareLedgerClient, ClientError} from "@careledger/client"
import {CLI_PATH} from "@careledger/node"
import {eventually} from "./helpers/cluster.js"

interface Devnet {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

function startDevnet(dir: string, extra: string[] = []): Devnet {
  const child = spawn(process.execPath, [CLI_PATH, "devnet", "--nodes", "4", "--dir", dir, "--block-interval", "500", ...extra], {stdio: ["ignore", "pipe", "pipe"]})
  let text = ""
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (text += chunk.toString()))
  return {child, output: () => text, exited: new Promise((resolve) => child.once("exit", (code) => resolve(code)))}
}

describe("careledger devnet (multi-process)", function () {
  this.timeout(180_000)
  let dir: string
  let current: Devnet | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-devnet-"))
  })
  after(async () => {
    if (current !== undefined && current.child.exitCode === null) {
      current.child.kill("SIGTERM")
      await current.exited
    }
    await rm(dir, {recursive: true, force: true})
  })

  async function runUntil(minHeight: number, extra: string[] = []): Promise<{urls: string[]; height: number}> {
    current = startDevnet(join(dir, "net"), extra)
    const devnet = current
    const urls = await eventually(async () => {
      const found = [...devnet.output().matchAll(/rpc (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!)
      return found.length === 4 ? found : undefined
    }, "four RPC URLs printed").catch((err: Error) => {
      throw new Error(`${err.message}; the devnet printed:\n${devnet.output().slice(-4000)}`)
    })
    // Each node's FHIR base URL is printed beside its RPC URL and answers its CapabilityStatement.
    const fhirUrls = [...devnet.output().matchAll(/fhir (http:\/\/127\.0\.0\.1:\d+\/fhir)/g)].map((m) => m[1]!)
    expect(fhirUrls).to.have.length(4)
    for (const url of fhirUrls) {
      const statement = await eventually(async () => {
        const res = await fetch(`${url}/metadata`).catch(() => undefined)
        return res?.ok === true ? ((await res.json()) as {resourceType: string}) : undefined
      }, `the FHIR endpoint at ${url}`)
      expect(statement.resourceType).to.equal("CapabilityStatement")
    }
    const client = new CareLedgerClient(urls[0]!)
    const height = await eventually(async () => {
      const head = await client.head()
      return head.finalizedHeight >= minHeight ? head.finalizedHeight : undefined
    }, `height ${minHeight}`)
    // What the README tells a user to try: the CLI's rpc command against a printed URL.
    const rpc = spawn(process.execPath, [CLI_PATH, "rpc", "chain_head", "--url", urls[1]!], {stdio: ["ignore", "pipe", "inherit"]})
    let printed = ""
    rpc.stdout!.on("data", (chunk: Buffer) => (printed += chunk.toString()))
    expect(await new Promise((resolve) => rpc.once("exit", resolve))).to.equal(0)
    expect((JSON.parse(printed) as {finalizedHeight: number}).finalizedHeight).to.be.at.least(minHeight)
    devnet.child.kill("SIGTERM")
    expect(await devnet.exited).to.equal(0)
    expect(devnet.output()).to.contain("devnet stopped")
    // Every node it started is gone: none of them answers any more.
    for (const url of urls) {
      const err = await new CareLedgerClient({url, timeoutMs: 2000}).head().catch((e: unknown) => e)
      expect(err).to.be.instanceOf(ClientError)
    }
    return {urls, height}
  }

  it("starts four validators that finalize, stops them all on SIGTERM, and keeps the chain for the next run", async () => {
    const first = await runUntil(2)
    const second = await runUntil(first.height + 1)
    expect(second.height).to.be.greaterThan(first.height)
    // A restart keeps every node's ports, so printed URLs and scrape targets stay valid.
    expect(second.urls).to.deep.equal(first.urls)
    const fresh = await runUntil(1, ["--fresh"])
    expect(fresh.height).to.be.lessThan(second.height + 1)
  })
})
