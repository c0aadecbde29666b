/**
 * A consortium of hospitals for the fault suite, set up the way an operator does it: each host's
 * key with `careledger keys generate`, one `careledger genesis`, `careledger init` per data dir
 * (listening on the host's own address, bootstrapping to every other host, RPC on that address
 * behind a tokens file), and `careledger start` run inside the host's namespace.
 */
import {spawn, type ChildProcess} from "node:child_process"
import {randomBytes} from "node:crypto"
import {closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync} from "node:fs"
import {join} from "node:path"
import {fileURLToPath} from "node:url"
import {CareLedgerClient} from "@careledger/client"
import {CLI_PATH} from "@careledger/node"
import {sh, type HostNetwork} from "./netns.js"

const P2P_PORT = 30400
/** In proxied mode the node listens here on its loopback and the delay proxy takes P2P_PORT. */
const PROXIED_NODE_PORT = 30401
const RPC_PORT = 8545
const PROXY_PATH = fileURLToPath(new URL("./proxy.js", import.meta.url))

/** Where Debian's libfaketime package puts the library (the multiarch directory varies). */
export function libfaketime(): string {
  for (const dir of readdirSync("/usr/lib")) {
    const path = join("/usr/lib", dir, "faketime", "libfaketime.so.1")
    if (existsSync(path)) return path
  }
  throw new Error("libfaketime.so.1 not found under /usr/lib/*/faketime (apt-get install faketime)")
}

export interface ConsortiumOptions {
  /** Hosts 0..validators-1 are the genesis validators; the rest have keys but are not in genesis. */
  validators: number
  chainId: string
  /** Every host's p2p port sits behind a delay proxy (see proxy.ts). */
  proxied?: boolean
  blockIntervalMs?: number
}

export interface Host {
  index: number
  hospital: string
  name: string
  dir: string
  dataDir: string
  keyFile: string
  publicKey: string
  peerId: string
  token: string
  rpcUrl: string
  logFile: string
}

export class Consortium {
  readonly hosts: Host[] = []
  readonly processes = new Map<number, ChildProcess>()
  private readonly proxies: ChildProcess[] = []
  private genesisFile = ""

  constructor(
    readonly net: HostNetwork,
    readonly dir: string,
    readonly options: ConsortiumOptions,
  ) {}

  get size(): number {
    return this.net.hosts.length
  }

  get delayFile(): string {
    return join(this.dir, "delay-ms")
  }

  private cli(args: string[]): Promise<string> {
    return sh(process.execPath, [CLI_PATH, ...args])
  }

  /** keys generate for every host, one genesis of the validators, init of every data dir. */
  async prepare(): Promise<void> {
    // The CLI runs once per host and step (as each hospital's operator would); the hosts in parallel.
    const hosts = await Promise.all(Array.from({length: this.size}, (_, i) => this.generateKey(i)))
    this.hosts.push(...hosts)
    this.genesisFile = join(this.dir, "genesis.json")
    const hospitals = this.hosts.slice(0, this.options.validators).flatMap((h) => ["--hospital", `${h.hospital}:${h.name}:${h.publicKey}`])
    await this.cli(["genesis", "--chain-id", this.options.chainId, ...hospitals, "--block-interval", String(this.options.blockIntervalMs ?? 1000), "--out", this.genesisFile])
    writeFileSync(this.delayFile, "0\n")
    await Promise.all(this.hosts.map((host) => this.init(host)))
  }

  private async generateKey(i: number): Promise<Host> {
    const dir = join(this.dir, `h${i}`)
    mkdirSync(dir, {recursive: true})
    const keyFile = join(dir, "node.key")
    const out = await this.cli(["keys", "generate", "--out", keyFile])
    const publicKey = /publicKey: ([0-9a-f]+)/.exec(out)?.[1]
    const peerId = /peerId: (\S+)/.exec(out)?.[1]
    if (publicKey === undefined || peerId === undefined) throw new Error(`unexpected output of keys generate: ${out}`)
    const token = randomBytes(24).toString("hex")
    writeFileSync(join(dir, "tokens.json"), JSON.stringify({tokens: [{name: "fault-suite", token, permission: "admin"}]}), {mode: 0o600})
    return {
      index: i,
      hospital: `hosp-${i}`,
      name: `Hospital ${i}`,
      dir,
      dataDir: join(dir, "data"),
      keyFile,
      publicKey,
      peerId,
      token,
      rpcUrl: `http://${this.net.address(i)}:${RPC_PORT}`,
      logFile: join(dir, "node.log"),
    }
  }

  private async init(host: Host): Promise<void> {
    const bootstrap = this.hosts
      .filter((h) => h.index !== host.index)
      .flatMap((h) => ["--bootstrap", `/ip4/${this.net.address(h.index)}/tcp/${P2P_PORT}/p2p/${h.peerId}`])
    const address = this.net.address(host.index)
    await this.cli([
      "init",
      "--datadir", host.dataDir,
      "--genesis", this.genesisFile,
      "--key", host.keyFile,
      "--chain-id", this.options.chainId,
      "--listen", `/ip4/${address}/tcp/${P2P_PORT}`,
      ...bootstrap,
      "--rpc-host", address,
      "--rpc-port", String(RPC_PORT),
      "--rpc-tokens", join(host.dir, "tokens.json"),
      "--log-format", "json",
    ])
  }

  /** The operator's restore after a lost disk: an empty data dir, `init` again with the same key and flags. */
  async wipe(i: number): Promise<void> {
    if (this.processes.has(i)) throw new Error(`host ${i} is still running`)
    rmSync(this.hosts[i]!.dataDir, {recursive: true, force: true})
    await this.init(this.hosts[i]!)
  }

  /** `careledger start` inside host i's namespace; `clockOffset` (e.g. "+30s") runs it under libfaketime. */
  start(i: number, options: {clockOffset?: string} = {}): void {
    const host = this.hosts[i]!
    const argv = [process.execPath, CLI_PATH, "start", "--datadir", host.dataDir]
    // Behind the proxy the node announces the proxy's address, as a node behind NAT announces its public one.
    if (this.options.proxied) argv.push("--listen", `/ip4/127.0.0.1/tcp/${PROXIED_NODE_PORT}`, "--announce", `/ip4/${this.net.address(i)}/tcp/${P2P_PORT}`)
    // libfaketime is preloaded into the node itself rather than run through the `faketime` wrapper,
    // which forks and would leave the node behind when signalled. Timers run on the monotonic
    // clock, which stays real; only the wall clock (block timestamps, checks against them) moves.
    const clock = options.clockOffset === undefined ? {} : {LD_PRELOAD: libfaketime(), FAKETIME: options.clockOffset, FAKETIME_DONT_FAKE_MONOTONIC: "1"}
    const log = openSync(host.logFile, "a")
    const child = spawn("ip", this.net.execArgs(i, argv), {stdio: ["ignore", log, log], env: {...process.env, ...clock}})
    closeSync(log)
    this.processes.set(i, child)
    child.on("exit", () => {
      if (this.processes.get(i) === child) this.processes.delete(i)
    })
    if (this.options.proxied && !this.proxies[i]) {
      const address = this.net.address(i)
      const proxy = spawn("ip", this.net.execArgs(i, [process.execPath, PROXY_PATH, address, String(P2P_PORT), "127.0.0.1", String(PROXIED_NODE_PORT), this.delayFile]), {
        stdio: ["ignore", "ignore", "inherit"],
      })
      this.proxies[i] = proxy
    }
  }

  setDelay(ms: number): void {
    writeFileSync(this.delayFile, `${ms}\n`)
  }

  private async signal(i: number, signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = this.processes.get(i)
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    child.kill(signal)
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs)
    await exited
    clearTimeout(timer)
    this.processes.delete(i)
  }

  /** SIGKILL: no shutdown code runs, as when the machine loses power. */
  kill(i: number): Promise<void> {
    return this.signal(i, "SIGKILL", 0)
  }

  stop(i: number): Promise<void> {
    return this.signal(i, "SIGTERM", 10_000)
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.processes.keys()].map((i) => this.stop(i)))
    for (const proxy of this.proxies) {
      if (proxy !== undefined && proxy.exitCode === null) {
        const exited = new Promise<void>((resolve) => proxy.once("exit", () => resolve()))
        proxy.kill("SIGTERM")
        await exited
      }
    }
    this.proxies.length = 0
  }

  client(i: number, timeoutMs = 5000): CareLedgerClient {
    const host = this.hosts[i]!
    return new CareLedgerClient({url: host.rpcUrl, token: host.token, timeoutMs})
  }
}
