import {expect} from "chai"
import {mkdtempSync, readFileSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {runCli} from "../../src/cli/run.js"
import type {CliIo} from "../../src/cli/io.js"

function captureIo(): CliIo & {lines: string[]; errors: string[]} {
  const lines: string[] = []
  const errors: string[] = []
  return {lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), env: {}, isTty: false}
}

describe("cli", () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "careledger-cli-"))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it("generates keys, writes a genesis from them and initialises a data dir", async () => {
    const keys: string[] = []
    for (const name of ["a", "b"]) {
      const io = captureIo()
      expect(await runCli(["keys", "generate", "--out", join(dir, `${name}.key`), "--json"], io)).to.equal(0)
      keys.push((JSON.parse(io.lines[0]!) as {publicKey: string}).publicKey)
    }
    const genesisPath = join(dir, "genesis.json")
    const io = captureIo()
    const code = await runCli(
      ["genesis", "--chain-id", "test-chain", "--hospital", `hosp-a:Alpha:${keys[0]}`, "--hospital", `hosp-b:Beta:${keys[1]}:observer`, "--out", genesisPath],
      io,
    )
    expect(code).to.equal(0)
    const genesis = JSON.parse(readFileSync(genesisPath, "utf8")) as {chainId: string; hospitals: {validator: boolean}[]}
    expect(genesis.chainId).to.equal("test-chain")
    expect(genesis.hospitals.map((h) => h.validator)).to.deep.equal([true, false])

    const init = captureIo()
    const dataDir = join(dir, "node-a")
    expect(await runCli(["init", "--datadir", dataDir, "--genesis", genesisPath, "--key", join(dir, "a.key"), "--rpc-port", "9000"], init)).to.equal(0)
    expect(init.lines.join("\n")).to.contain(keys[0]).and.to.contain("hospital hosp-a (validator)")
    expect(JSON.parse(readFileSync(join(dataDir, "config.json"), "utf8"))).to.deep.equal({genesis: "genesis.json", rpcPort: 9000})
  })

  it("refuses a bad genesis argument with a usage message and exit code 2", async () => {
    const io = captureIo()
    expect(await runCli(["genesis", "--chain-id", "x", "--out", join(dir, "g.json")], io)).to.equal(2)
    expect(io.errors.join("\n")).to.contain("--hospital")
    const bad = captureIo()
    expect(await runCli(["genesis", "--chain-id", "x", "--hospital", "HOSP:Name:zz", "--out", join(dir, "g.json")], bad)).to.equal(1)
    expect(bad.errors.join("\n")).to.contain("CONFIG_ERROR_BAD_GENESIS")
  })
})
