import {expect} from "chai"
import {spawnSync} from "node:child_process"
import {createServer, type Server} from "node:http"
import type {AddressInfo} from "node:net"
import {existsSync, mkdtempSync, readFileSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join, resolve} from "node:path"
import {fileURLToPath} from "node:url"
import {runCli} from "../../src/cli/run.js"
import type {CliIo} from "../../src/cli/io.js"

const REPO = resolve(fileURLToPath(new URL("../../../../..", import.meta.url)))

function captureIo(env: Record<string, string> = {}): CliIo & {lines: string[]; errors: string[]} {
  const lines: string[] = []
  const errors: string[] = []
  return {lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), env, isTty: false}
}

/** A JSON-RPC look-alike that counts what reaches it, so a test can tell whether the CLI called out. */
async function countingServer(): Promise<{server: Server; url: string; hits: () => number}> {
  let hits = 0
  const server = createServer((req, res) => {
    hits++
    req.resume()
    req.on("end", () => res.writeHead(200, {"content-type": "application/json"}).end(JSON.stringify({jsonrpc: "2.0", id: 1, result: {chainId: "x"}})))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return {server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits}
}

const COMMANDS = ["keys", "genesis", "init", "start", "devnet", "compose", "rpc", "health"]
const SUBCOMMANDS: Record<string, string[]> = {
  keys: ["generate", "show"],
  health: ["put", "read", "grant", "revoke", "erase", "audit", "export", "history", "verify", "trial-register", "trial-amend", "trial-result", "trial-verify"],
}

describe("cli as an operator meets it", () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "careledger-cli-op-"))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it("answers --help for every command and subcommand with its flags and an example, exit 0", async () => {
    for (const name of COMMANDS) {
      for (const sub of [undefined, ...(SUBCOMMANDS[name] ?? [])]) {
        const io = captureIo()
        const argv = sub === undefined ? [name, "--help"] : [name, sub, "--help"]
        const code = await runCli(argv, io)
        const text = io.lines.join("\n")
        expect(code, `${argv.join(" ")}: ${io.errors.join("\n")}`).to.equal(0)
        expect(text, argv.join(" ")).to.match(/^usage: careledger /m)
        expect(text, argv.join(" ")).to.match(/^example/im)
        expect(text, argv.join(" ")).to.contain(`careledger ${name}`)
        if (sub !== undefined) expect(text, argv.join(" ")).to.contain(`careledger ${name} ${sub}`)
        expect(io.errors, argv.join(" ")).to.deep.equal([])
      }
    }
    const read = captureIo()
    await runCli(["health", "read", "--help"], read)
    expect(read.lines.join("\n")).to.contain("--record-id").and.to.contain("--purpose").and.to.contain("--break-glass")
    const start = captureIo()
    await runCli(["start", "--help"], start)
    expect(start.lines.join("\n")).to.contain("--rpc-port").and.to.contain("--bootstrap").and.to.contain("--config")
  })

  it("uses exit 2 for usage errors and prints usage without reaching a node", async () => {
    const {server, url, hits} = await countingServer()
    try {
      const env = {CARELEDGER_RPC_URL: url}
      for (const argv of [[], ["bogus"], ["health"], ["health", "bogus"], ["keys"], ["rpc"], ["rpc", "chain_getBlock", "{height: 1}"], ["rpc", "--nope"]]) {
        const io = captureIo(env)
        expect(await runCli(argv, io), argv.join(" ")).to.equal(2)
        expect(io.errors.join("\n"), argv.join(" ")).to.contain("usage: careledger")
      }
      expect(hits()).to.equal(0)
      // A well-formed call that the node refuses (or cannot be reached) is a runtime error: exit 1.
      const io = captureIo({CARELEDGER_RPC_URL: "http://127.0.0.1:1"})
      expect(await runCli(["rpc", "chain_head"], io)).to.equal(1)
    } finally {
      server.close()
    }
  })

  it("keys generate --json prints one JSON object with the private key when there is no --out", async () => {
    const io = captureIo()
    expect(await runCli(["keys", "generate", "--json"], io)).to.equal(0)
    const info = JSON.parse(io.lines.join("\n")) as {publicKey: string; peerId: string; privateKey: string}
    expect(info.publicKey).to.match(/^[0-9a-f]{64}$/)
    expect(info.peerId).to.match(/^12D3KooW/)
    expect(info.privateKey).to.match(/^[0-9a-f]+$/)
  })

  it("keeps hospital names with colons and says a key was imported", async () => {
    const keyFile = join(dir, "a.key")
    const gen = captureIo()
    expect(await runCli(["keys", "generate", "--out", keyFile, "--json"], gen)).to.equal(0)
    const key = (JSON.parse(gen.lines[0]!) as {publicKey: string}).publicKey
    const genesisPath = join(dir, "genesis.json")
    const name = "St. Mary's: Cardiology 2:3"
    expect(await runCli(["genesis", "--chain-id", "c", "--hospital", `hosp-a:${name}:${key}`, "--out", genesisPath], captureIo())).to.equal(0)
    const genesis = JSON.parse(readFileSync(genesisPath, "utf8")) as {hospitals: {name: string; key: string; validator: boolean}[]}
    expect(genesis.hospitals[0]).to.include({name, key, validator: true})
    const other = captureIo()
    expect(await runCli(["keys", "generate", "--json"], other)).to.equal(0)
    const otherKey = (JSON.parse(other.lines[0]!) as {publicKey: string}).publicKey
    const observerGenesis = join(dir, "observer-genesis.json")
    const args = ["--hospital", `hosp-b:B:${otherKey}`, "--hospital", `hosp-a:${name}:${key}:observer`, "--out", observerGenesis]
    expect(await runCli(["genesis", "--chain-id", "c", ...args], captureIo())).to.equal(0)
    expect((JSON.parse(readFileSync(observerGenesis, "utf8")) as typeof genesis).hospitals[1]).to.include({name, validator: false})

    const init = captureIo()
    expect(await runCli(["init", "--datadir", join(dir, "data"), "--genesis", genesisPath, "--key", keyFile], init)).to.equal(0)
    expect(init.lines.join("\n")).to.match(/node key: imported/)
    const again = captureIo()
    expect(await runCli(["init", "--datadir", join(dir, "data"), "--genesis", genesisPath], again)).to.equal(0)
    expect(again.lines.join("\n")).to.match(/node key: kept/)
  })

  it("npm links the careledger command at install time, before any build", function () {
    this.timeout(120_000)
    const pkg = JSON.parse(readFileSync(join(REPO, "packages/node/package.json"), "utf8")) as {bin: Record<string, string>}
    const bin = pkg.bin.careledger!
    expect(bin, "the bin must be a committed file, not build output").to.not.contain("dist/")
    expect(existsSync(join(REPO, "packages/node", bin))).to.equal(true)
    const linked = join(REPO, "node_modules/.bin/careledger")
    expect(existsSync(linked), "npm ci links node_modules/.bin/careledger").to.equal(true)
    const run = spawnSync(linked, ["--help"], {encoding: "utf8", timeout: 100_000})
    expect(run.status, run.stderr).to.equal(0)
    expect(run.stdout).to.contain("usage: careledger")
  })
})
