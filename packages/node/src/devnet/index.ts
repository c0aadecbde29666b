import {spawn, type ChildProcess} from "node:child_process"
import {createServer} from "node:net"
import {existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync} from "node:fs"
import {join, resolve} from "node:path"
import {fileURLToPath} from "node:url"
import {CareLedgerClient} from "@careledger/client"
import {buildGenesis, writeGenesisFile} from "../genesis/index.js"
import {loadOrCreateNodeKey} from "../keystore/index.js"
import {CONFIG_FILE} from "../config/options.js"

/** The CLI entry point, for spawning nodes as separate processes. */
export const CLI_PATH = fileURLToPath(new URL("../cli/main.js", import.meta.url))

export interface DevnetNodeSpec {
  index: number
  hospital: string
  dataDir: string
  key: string
  peerId: string
  validator: boolean
  p2pPort: number
  rpcPort: number
  metricsPort: number
  fhirPort: number
  rpcUrl: string
  metricsUrl: string
  fhirUrl: string
  multiaddr: string
}

export interface DevnetPlan {
  dir: string
  chainId: string
  nodes: DevnetNodeSpec[]
}

export interface PrepareOptions {
  /** Validators. */
  nodes: number
  /** Extra non-validator hospitals (observers). */
  observers?: number
  /** Wipe the directory first. */
  fresh?: boolean
  chainId?: string
  blockIntervalMs?: number
  roundTimeoutMs?: number
  /** Propose empty blocks when idle (default true). */
  emptyBlocks?: boolean
}

/** Ports this process has handed out, so two nodes of one devnet never get the same one (bounded). */
const handedOut = new Set<number>()
const MAX_HANDED_OUT = 4096
const PORT_TRIES = 256

/**
 * The kernel's ephemeral range. Outgoing connections take their local port from it, so a port
 * reserved there could be taken by any dial (a node dialing a peer that is not up yet) before the
 * node that was given it binds it.
 */
export function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number)
    if (Number.isInteger(low) && Number.isInteger(high) && low! <= high!) return [low!, high!]
  } catch {
    // Not Linux: fall through to the Linux default.
  }
  return [32768, 60999]
}

/**
 * A free loopback port outside the ephemeral range, not handed out before by this process. It is
 * checked free and released at once, so the node can bind it; being outside the ephemeral range,
 * no outgoing connection can take it in between.
 */
export async function freePort(): Promise<number> {
  const [low, high] = ephemeralPortRange()
  // The larger of the two ranges outside the ephemeral one (above 10000, clear of common services).
  const below: [number, number] = [10_000, low - 1]
  const above: [number, number] = [high + 1, 65_535]
  const [from, to] = below[1] - below[0] >= above[1] - above[0] ? below : above
  for (let attempt = 0; attempt < PORT_TRIES; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from + 1))
    if (handedOut.has(port) || !(await portFree(port))) continue
    if (handedOut.size >= MAX_HANDED_OUT) handedOut.delete(handedOut.values().next().value!)
    handedOut.add(port)
    return port
  }
  throw new Error(`no free loopback port in ${from}-${to} after ${PORT_TRIES} tries`)
}

/** Whether `port` can be bound on loopback right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer()
    server.once("error", () => resolvePort(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolvePort(true)))
  })
}

/** The ports a node used last time (from its config.json), when all four are still free. */
async function previousPorts(dataDir: string): Promise<[number, number, number, number] | undefined> {
  const path = join(dataDir, CONFIG_FILE)
  if (!existsSync(path)) return undefined
  try {
    const config = JSON.parse(readFileSync(path, "utf8")) as {listen?: string[]; rpcPort?: unknown; metricsPort?: unknown; fhirPort?: unknown}
    const p2p = Number(/\/tcp\/(\d+)/.exec(config.listen?.[0] ?? "")?.[1])
    const ports = [p2p, Number(config.rpcPort), Number(config.metricsPort), Number(config.fhirPort)] as [number, number, number, number]
    if (!ports.every((port) => Number.isInteger(port) && port > 0 && port < 65536)) return undefined
    for (const port of ports) if (!(await portFree(port))) return undefined
    return ports
  } catch {
    return undefined
  }
}

/**
 * Prepares (or reuses) a devnet directory: one data dir per hospital with its key, one genesis,
 * and loopback ports written to each node's config.json. Keys, chains and ports survive restarts,
 * so printed URLs and Prometheus scrape targets stay valid; a node whose old ports are taken gets
 * fresh ones rather than failing to start.
 */
export async function prepareDevnet(dir: string, options: PrepareOptions): Promise<DevnetPlan> {
  const root = resolve(dir)
  if (options.fresh === true) rmSync(root, {recursive: true, force: true})
  mkdirSync(root, {recursive: true})
  const total = options.nodes + (options.observers ?? 0)
  const genesisPath = join(root, "genesis.json")
  const keys = Array.from({length: total}, (_, i) => {
    const dataDir = join(root, `node-${i}`)
    mkdirSync(dataDir, {recursive: true, mode: 0o700})
    return {dataDir, key: loadOrCreateNodeKey(dataDir).key}
  })
  if (!existsSync(genesisPath)) {
    const genesis = buildGenesis({
      chainId: options.chainId ?? "careledger-devnet",
      hospitals: keys.map(({key}, i) => ({id: `hosp-${i}`, name: `Devnet Hospital ${i}`, key: key.id, validator: i < options.nodes})),
      ...(options.blockIntervalMs === undefined ? {} : {blockIntervalMs: options.blockIntervalMs}),
      ...(options.roundTimeoutMs === undefined ? {} : {roundTimeoutMs: options.roundTimeoutMs}),
      ...(options.emptyBlocks === undefined ? {} : {emptyBlocks: options.emptyBlocks}),
    })
    writeGenesisFile(genesisPath, genesis)
  }
  const genesis = JSON.parse(readFileSync(genesisPath, "utf8")) as {chainId: string; hospitals: {id: string; key: string; validator: boolean}[]}
  const nodes: DevnetNodeSpec[] = []
  for (const [i, {dataDir, key}] of keys.entries()) {
    const member = genesis.hospitals.find((h) => h.key === key.id)
    const taken = new Set(nodes.flatMap((n) => [n.p2pPort, n.rpcPort, n.metricsPort, n.fhirPort]))
    const previous = await previousPorts(dataDir)
    const [p2pPort, rpcPort, metricsPort, fhirPort] =
      previous !== undefined && !previous.some((port) => taken.has(port)) ? previous : [await freePort(), await freePort(), await freePort(), await freePort()]
    nodes.push({
      index: i,
      hospital: member?.id ?? `node-${i}`,
      dataDir,
      key: key.id,
      peerId: key.peerId,
      validator: member?.validator ?? false,
      p2pPort,
      rpcPort,
      metricsPort,
      rpcUrl: `http://127.0.0.1:${rpcPort}`,
      metricsUrl: `http://127.0.0.1:${metricsPort}`,
      fhirPort,
      fhirUrl: `http://127.0.0.1:${fhirPort}/fhir`,
      multiaddr: `/ip4/127.0.0.1/tcp/${p2pPort}/p2p/${key.peerId}`,
    })
  }
  for (const node of nodes) {
    const config = {
      genesis: genesisPath,
      listen: [`/ip4/127.0.0.1/tcp/${node.p2pPort}`],
      bootstrap: nodes.filter((other) => other !== node).map((other) => other.multiaddr),
      rpcHost: "127.0.0.1",
      rpcPort: node.rpcPort,
      metricsHost: "127.0.0.1",
      metricsPort: node.metricsPort,
      fhirHost: "127.0.0.1",
      fhirPort: node.fhirPort,
      logFormat: "json",
    }
    writeFileSync(join(node.dataDir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`)
  }
  return {dir: root, chainId: genesis.chainId, nodes}
}

export interface RunningNode {
  spec: DevnetNodeSpec
  child: ChildProcess
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>
}

/**
 * Starts one node as its own process, logging (JSON) to `<dataDir>/node.log`. The caller passes
 * the environment (the CLI hands down its own, so CARELEDGER_* settings reach the nodes) and may
 * pass flags for Node itself (`--cpu-prof`, which NODE_OPTIONS does not carry).
 */
export function spawnNode(
  spec: DevnetNodeSpec,
  extraArgs: string[] = [],
  env: Readonly<Record<string, string | undefined>> = {},
  nodeArgs: readonly string[] = [],
): RunningNode {
  const logFd = openSync(join(spec.dataDir, "node.log"), "a")
  const child = spawn(process.execPath, [...nodeArgs, CLI_PATH, "start", "--datadir", spec.dataDir, ...extraArgs], {
    stdio: ["ignore", logFd, logFd],
    env: {...env, CARELEDGER_LOG_FORMAT: "json"},
  })
  closeSync(logFd)
  const exited = new Promise<number | string>((resolveExit) => child.once("exit", (code, signal) => resolveExit(code ?? signal ?? "unknown")))
  return {spec, child, exited}
}

/** Polls until the node's RPC answers chain_head, or the deadline passes. */
export async function waitForRpc(url: string, timeoutMs = 30_000, token?: string): Promise<void> {
  const client = new CareLedgerClient({url, timeoutMs: 2000, ...(token === undefined ? {} : {token})})
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await client.head()
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

/** Sends SIGTERM, then SIGKILL if the node has not exited within `graceMs`. */
export async function stopNode(node: RunningNode, graceMs = 10_000): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return
  node.child.kill("SIGTERM")
  const timer = setTimeout(() => node.child.kill("SIGKILL"), graceMs)
  await node.exited
  clearTimeout(timer)
}
