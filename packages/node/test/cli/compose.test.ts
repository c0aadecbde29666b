import {expect} from "chai"
import {existsSync, mkdtempSync, readFileSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {parse} from "yaml"
import {parsePeerAddress} from "@careledger/network"
import {runCli} from "../../src/cli/run.js"
import type {CliIo} from "../../src/cli/io.js"
import {readKeyFile} from "../../src/keystore/index.js"
import {resolveConfig} from "../../src/config/index.js"
import {TokenStore} from "../../src/rpc/auth.js"
import {readGenesisFile} from "../../src/genesis/index.js"

function captureIo(): CliIo & {lines: string[]; errors: string[]} {
  const lines: string[] = []
  const errors: string[] = []
  return {lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), env: {}, isTty: false}
}

interface ComposeService {
  image: string
  command: string[]
  volumes: string[]
  env_file: string[]
  networks: string[]
  ports?: unknown
}

interface ComposeFile {
  services: Record<string, ComposeService>
  networks: Record<string, {internal?: boolean}>
}

describe("cli compose", () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "careledger-compose-"))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it("writes N hospitals on an internal network, each bootstrapping to every other by DNS name, keys matching the genesis, RPC behind tokens", async () => {
    const out = join(dir, "net")
    const io = captureIo()
    expect(await runCli(["compose", "--nodes", "4", "--out", out, "--chain-id", "compose-test", "--image", "careledger:test"], io)).to.equal(0)
    expect(io.lines.join("\n")).to.contain("exec hospital-0 careledger rpc chain_head")

    const compose = parse(readFileSync(join(out, "docker-compose.yml"), "utf8")) as ComposeFile
    const names = Object.keys(compose.services)
    expect(names).to.deep.equal(["hospital-0", "hospital-1", "hospital-2", "hospital-3"])
    expect(Object.values(compose.networks).map((n) => n.internal)).to.deep.equal([true])
    const genesis = readGenesisFile(join(out, "genesis.json"))
    expect(genesis.chainId).to.equal("compose-test")
    expect(genesis.hospitals).to.have.length(4)

    const peerIds = new Map<string, string>()
    for (const name of names) {
      const service = compose.services[name]!
      expect(service.image).to.equal("careledger:test")
      // Nothing is published: an internal network cannot publish ports, and RPC must stay off the host.
      expect(service.ports).to.equal(undefined)
      expect(service.volumes).to.deep.equal([`./${name}:/data`])
      expect(service.networks).to.deep.equal(Object.keys(compose.networks))
      expect(service.command).to.deep.equal(["start", "--datadir", "/data"])
      const key = readKeyFile(join(out, name, "node.key"))
      const member = genesis.hospitals.find((h) => h.key === key.id)
      expect(member, `${name}'s key is a genesis validator`).to.not.equal(undefined)
      expect(member!.validator).to.equal(true)
      expect(readGenesisFile(join(out, name, "genesis.json"))).to.deep.equal(genesis)
      peerIds.set(name, key.peerId)
    }
    expect(new Set(peerIds.values()).size).to.equal(4)

    for (const name of names) {
      const dataDir = join(out, name)
      // The node itself must accept the generated config (unknown keys or bad values are refused).
      const config = resolveConfig({flags: {dataDir}})
      expect(config.chainId).to.equal("compose-test")
      expect(config.rpcHost).to.equal("0.0.0.0")
      const expected = names.filter((other) => other !== name).map((other) => `/dns4/${other}/tcp/30400/p2p/${peerIds.get(other)}`)
      expect(config.bootstrap).to.have.members(expected)
      for (const address of config.bootstrap) expect(parsePeerAddress(address).peerId.toString()).to.be.oneOf([...peerIds.values()])

      expect(config.rpcTokens).to.equal(join(dataDir, "tokens.json"))
      const tokens = TokenStore.fromFile(config.rpcTokens!)
      const env = Object.fromEntries(
        readFileSync(join(out, compose.services[name]!.env_file[0]!), "utf8")
          .trim()
          .split("\n")
          .map((line) => line.split("=", 2) as [string, string]),
      )
      expect(env.CARELEDGER_RPC_URL).to.equal("http://127.0.0.1:8545")
      expect(tokens.lookup(env.CARELEDGER_RPC_TOKEN!)?.permission).to.equal("admin")
      // A token starting with "-" would not pass as a --token argument.
      expect(env.CARELEDGER_RPC_TOKEN).to.match(/^[0-9a-f]{48}$/)
      expect(readFileSync(join(dataDir, "node.key")).length).to.be.greaterThan(0)
    }
    // Each hospital has its own tokens.
    const operatorTokens = names.map((name) => readFileSync(join(out, name, "rpc.env"), "utf8"))
    expect(new Set(operatorTokens).size).to.equal(4)
  })

  it("refuses a directory that already holds a network and changes nothing in it", async () => {
    const out = join(dir, "net")
    expect(await runCli(["compose", "--nodes", "2", "--out", out], captureIo())).to.equal(0)
    const genesisBefore = readFileSync(join(out, "genesis.json"), "utf8")
    const keyBefore = readFileSync(join(out, "hospital-0", "node.key"))
    const io = captureIo()
    expect(await runCli(["compose", "--nodes", "3", "--out", out], io)).to.equal(1)
    expect(io.errors.join("\n")).to.contain("COMPOSE_ERROR_OUT_EXISTS")
    expect(readFileSync(join(out, "genesis.json"), "utf8")).to.equal(genesisBefore)
    expect(readFileSync(join(out, "hospital-0", "node.key"))).to.deep.equal(keyBefore)
    expect(existsSync(join(out, "hospital-2"))).to.equal(false)
  })

  it("refuses bad options before writing anything", async () => {
    const out = join(dir, "net")
    const usage = captureIo()
    expect(await runCli(["compose", "--nodes", "0", "--out", out], usage)).to.equal(2)
    expect(usage.errors.join("\n")).to.contain("--nodes must be 1..16")
    const image = captureIo()
    expect(await runCli(["compose", "--out", out, "--image", "not an image"], image)).to.equal(1)
    expect(image.errors.join("\n")).to.contain("COMPOSE_ERROR_BAD_OPTION")
    const chain = captureIo()
    expect(await runCli(["compose", "--out", out, "--chain-id", "bad chain id"], chain)).to.equal(1)
    expect(chain.errors.join("\n")).to.contain("CONFIG_ERROR_BAD_GENESIS")
    expect(existsSync(out)).to.equal(false)
  })
})
