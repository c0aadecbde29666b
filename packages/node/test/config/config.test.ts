import {expect} from "chai"
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {NodeConfigErrorCode, resolveConfig} from "../../src/config/index.js"

describe("config", () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "careledger-config-"))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it("uses safe defaults: RPC and metrics on loopback, genesis in the data dir", () => {
    const config = resolveConfig({flags: {dataDir: dir}})
    expect(config.rpcHost).to.equal("127.0.0.1")
    expect(config.metricsHost).to.equal("127.0.0.1")
    expect(config.rpcPort).to.equal(8545)
    expect(config.genesis).to.equal(join(dir, "genesis.json"))
    expect(config.observer).to.equal(false)
  })

  it("layers config file < environment < flags", () => {
    writeFileSync(join(dir, "config.json"), JSON.stringify({rpcPort: 9000, metricsPort: 9100, logLevel: "debug", bootstrap: ["/ip4/127.0.0.1/tcp/1"]}))
    const config = resolveConfig({
      env: {CARELEDGER_DATADIR: dir, CARELEDGER_RPC_PORT: "9001", CARELEDGER_METRICS_PORT: "9101", CARELEDGER_OBSERVER: "true"},
      flags: {rpcPort: "9002"},
    })
    expect(config.dataDir).to.equal(dir)
    expect(config.rpcPort).to.equal(9002)
    expect(config.metricsPort).to.equal(9101)
    expect(config.logLevel).to.equal("debug")
    expect(config.observer).to.equal(true)
    expect(config.bootstrap).to.deep.equal(["/ip4/127.0.0.1/tcp/1"])
  })

  it("reads comma-separated lists from the environment and resolves relative paths against the data dir", () => {
    const config = resolveConfig({
      env: {CARELEDGER_LISTEN: "/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/tcp/2", CARELEDGER_RPC_TOKENS: "tokens.json"},
      flags: {dataDir: dir},
    })
    expect(config.listen).to.deep.equal(["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2"])
    expect(config.rpcTokens).to.equal(join(dir, "tokens.json"))
  })

  it("names the setting and source of a bad value, and refuses unknown file keys", () => {
    expect(() => resolveConfig({flags: {dataDir: dir}, env: {CARELEDGER_RPC_PORT: "eighty"}}))
      .to.throw(/rpcPort from environment/)
      .with.property("code", NodeConfigErrorCode.BAD_VALUE)
    writeFileSync(join(dir, "config.json"), JSON.stringify({rpcPrt: 1}))
    expect(() => resolveConfig({flags: {dataDir: dir}})).to.throw(/unknown setting rpcPrt/)
  })
})

describe("config file anywhere (--config PATH)", () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "careledger-config-path-"))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it("reads the named file instead of <datadir>/config.json, and takes the data dir from it", () => {
    const dataDir = join(dir, "data")
    const path = join(dir, "etc", "node.json")
    mkdirSync(join(dir, "etc"))
    writeFileSync(path, JSON.stringify({dataDir, rpcPort: 9100, announce: ["/dns4/hosp-a.example/tcp/30400"], bootstrap: ["hosp-b@10.0.0.2:30400"]}))
    const config = resolveConfig({configPath: path})
    expect(config.dataDir).to.equal(dataDir)
    expect(config.rpcPort).to.equal(9100)
    expect(config.genesis).to.equal(join(dataDir, "genesis.json"))
    expect(config.announce).to.deep.equal(["/dns4/hosp-a.example/tcp/30400"])
    expect(config.bootstrap).to.deep.equal(["hosp-b@10.0.0.2:30400"])
    // The environment variable names it too; flags still win over the file.
    expect(resolveConfig({env: {CARELEDGER_CONFIG: path}, flags: {rpcPort: "9200"}}).rpcPort).to.equal(9200)
  })

  it("refuses a named config file that does not exist", () => {
    expect(() => resolveConfig({configPath: join(dir, "missing.json")}))
      .to.throw()
      .with.property("code", NodeConfigErrorCode.BAD_FILE)
  })
})
