import {chownSync, existsSync, mkdirSync, readdirSync, writeFileSync} from "node:fs"
import {randomBytes} from "node:crypto"
import {join, relative, resolve} from "node:path"
import {parseArgs} from "node:util"
import {CareLedgerError, PrivateKey} from "@careledger/core"
import {buildGenesis, writeGenesisFile} from "../genesis/index.js"
import {nodeKeyPath, writeKeyFile} from "../keystore/index.js"
import {CONFIG_FILE} from "../config/options.js"
import {intArg, UsageError, type CliIo} from "./io.js"

export enum ComposeErrorCode {
  OUT_EXISTS = "COMPOSE_ERROR_OUT_EXISTS",
  BAD_OPTION = "COMPOSE_ERROR_BAD_OPTION",
}

export class ComposeError extends CareLedgerError<ComposeErrorCode> {}

/** Ports every container uses inside its own network namespace (see docker/Dockerfile EXPOSE). */
export const CONTAINER_PORTS = {p2p: 30400, rpc: 8545, metrics: 9464} as const
/** The unprivileged user of the image (scripts/docker-base-image.sh). */
export const IMAGE_UID = 10001
export const COMPOSE_FILE = "docker-compose.yml"
/** Per-node file docker compose passes to the container's environment (the operator's RPC token). */
export const RPC_ENV_FILE = "rpc.env"
export const TOKENS_FILE = "tokens.json"

export interface ComposeOptions {
  /** Validator hospitals, 1..16. */
  nodes: number
  /** Directory that receives docker-compose.yml, .env, genesis.json and one data dir per hospital. */
  outDir: string
  chainId?: string
  image?: string
  blockIntervalMs?: number
  /** Name of the compose network (internal: no route out of it). */
  network?: string
  /**
   * Owner of the files the containers read and write. Default: the image's user when run as root
   * (the files are chowned to it), otherwise the caller, whom the containers then run as.
   */
  owner?: {uid: number; gid: number}
}

export interface ComposeToken {
  name: string
  token: string
  permission: "read" | "submit" | "admin"
}

export interface ComposeService {
  /** Compose service name, also its DNS name on the network. */
  service: string
  /** Hospital id in the genesis. */
  hospital: string
  /** Host directory mounted as the container's /data. */
  dataDir: string
  /** Hex Ed25519 public key (validator key and peer identity). */
  key: string
  peerId: string
  /** How the other nodes dial it: by service DNS name on the compose network. */
  multiaddr: string
  bootstrap: string[]
  tokens: ComposeToken[]
}

export interface ComposePlan {
  dir: string
  chainId: string
  image: string
  network: string
  owner: {uid: number; gid: number}
  composeFile: string
  genesisFile: string
  services: ComposeService[]
}

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9_.\-/:@]{0,254}$/

/**
 * Writes a docker-compose network of N validator hospitals: keys, genesis, one data dir per node
 * (key, genesis copy, config.json, RPC tokens), a `.env` with the container user and the compose
 * file. Nodes find each other by service DNS name on an `internal: true` network, so nothing is
 * published on the host; operators reach RPC with `docker compose exec hospital-N careledger rpc`.
 * An existing network in `outDir` is refused rather than overwritten (its keys are its identity).
 */
export function prepareComposeNetwork(options: ComposeOptions): ComposePlan {
  if (!Number.isSafeInteger(options.nodes) || options.nodes < 1 || options.nodes > 16) {
    throw new ComposeError(ComposeErrorCode.BAD_OPTION, "--nodes must be 1..16", {nodes: options.nodes})
  }
  const image = options.image ?? "careledger:local"
  if (!IMAGE.test(image)) throw new ComposeError(ComposeErrorCode.BAD_OPTION, `--image ${JSON.stringify(image)} is not an image reference`)
  const network = options.network ?? "careledger"
  if (!NAME.test(network)) throw new ComposeError(ComposeErrorCode.BAD_OPTION, `--network ${JSON.stringify(network)} must be lowercase [a-z0-9_.-]`)
  const chainId = options.chainId ?? "careledger-docker"
  const dir = resolve(options.outDir)
  const services = Array.from({length: options.nodes}, (_, i) => `hospital-${i}`)
  const taken = [join(dir, "genesis.json"), ...services.map((s) => join(dir, s))].filter((p) => existsSync(p))
  if (taken.length > 0) {
    throw new ComposeError(ComposeErrorCode.OUT_EXISTS, `${dir} already holds a network (${taken.map((p) => relative(dir, p)).join(", ")}); remove it or choose another --out`, {
      dir,
    })
  }
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0
  const owner = options.owner ?? (isRoot ? {uid: IMAGE_UID, gid: IMAGE_UID} : {uid: process.getuid?.() ?? IMAGE_UID, gid: process.getgid?.() ?? IMAGE_UID})

  const keys = services.map(() => PrivateKey.generate())
  // The genesis is checked (chain id, block interval) before anything is written.
  const genesis = buildGenesis({
    chainId,
    hospitals: keys.map((key, i) => ({id: `hosp-${i}`, name: `Docker Hospital ${i}`, key: key.id, validator: true})),
    ...(options.blockIntervalMs === undefined ? {} : {blockIntervalMs: options.blockIntervalMs}),
  })
  mkdirSync(dir, {recursive: true})
  const genesisFile = join(dir, "genesis.json")
  writeGenesisFile(genesisFile, genesis)

  const addressOf = (i: number): string => `/dns4/${services[i]}/tcp/${CONTAINER_PORTS.p2p}/p2p/${keys[i]!.peerId}`
  const plan: ComposePlan = {
    dir,
    chainId,
    image,
    network,
    owner,
    composeFile: join(dir, COMPOSE_FILE),
    genesisFile,
    services: services.map((service, i) => ({
      service,
      hospital: genesis.hospitals[i]!.id,
      dataDir: join(dir, service),
      key: keys[i]!.id,
      peerId: keys[i]!.peerId,
      multiaddr: addressOf(i),
      bootstrap: services.flatMap((_, j) => (j === i ? [] : [addressOf(j)])),
      // Each hospital has its own tokens: one operator's token opens no other hospital's node.
      tokens: [
        {name: "operator", token: newToken(), permission: "admin"},
        {name: "monitoring", token: newToken(), permission: "read"},
      ],
    })),
  }

  for (const [i, node] of plan.services.entries()) {
    mkdirSync(node.dataDir, {mode: 0o700})
    writeKeyFile(nodeKeyPath(node.dataDir), keys[i]!)
    writeGenesisFile(join(node.dataDir, "genesis.json"), genesis)
    writeFileSync(join(node.dataDir, TOKENS_FILE), `${JSON.stringify({tokens: node.tokens}, null, 2)}\n`, {mode: 0o600})
    const operator = node.tokens.find((t) => t.permission === "admin")!
    // `careledger rpc` inside the container picks these up, so `exec hospital-N careledger rpc M` just works.
    writeFileSync(join(node.dataDir, RPC_ENV_FILE), `CARELEDGER_RPC_URL=http://127.0.0.1:${CONTAINER_PORTS.rpc}\nCARELEDGER_RPC_TOKEN=${operator.token}\n`, {mode: 0o600})
    const config = {
      genesis: "genesis.json",
      chainId,
      listen: [`/ip4/0.0.0.0/tcp/${CONTAINER_PORTS.p2p}`],
      bootstrap: node.bootstrap,
      // RPC and metrics listen on every interface of the container: only the internal network reaches them.
      rpcHost: "0.0.0.0",
      rpcPort: CONTAINER_PORTS.rpc,
      rpcTokens: TOKENS_FILE,
      metricsHost: "0.0.0.0",
      metricsPort: CONTAINER_PORTS.metrics,
      logFormat: "json",
    }
    writeFileSync(join(node.dataDir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`, {mode: 0o600})
    if (isRoot) chownTree(node.dataDir, owner.uid, owner.gid)
  }
  writeFileSync(join(dir, ".env"), `# user the containers run as: owner of ${services.map((s) => `${s}/`).join(", ")}\nCARELEDGER_UID=${owner.uid}\nCARELEDGER_GID=${owner.gid}\n`)
  writeFileSync(plan.composeFile, renderCompose(plan))
  return plan
}

/** Hex, so a token never starts with "-" and passes as a `--token` argument. */
function newToken(): string {
  return randomBytes(24).toString("hex")
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid)
  for (const entry of readdirSync(path, {withFileTypes: true})) {
    const child = join(path, entry.name)
    if (entry.isDirectory()) chownTree(child, uid, gid)
    else chownSync(child, uid, gid)
  }
}

/** The compose document as data; `renderCompose` prints it. It holds no secrets (those stay in the data dirs). */
export function composeDocument(plan: Pick<ComposePlan, "image" | "network" | "services">): Record<string, unknown> {
  const services: Record<string, unknown> = {}
  for (const node of plan.services) {
    services[node.service] = {
      image: plan.image,
      hostname: node.service,
      user: "${CARELEDGER_UID:-10001}:${CARELEDGER_GID:-10001}",
      command: ["start", "--datadir", "/data"],
      env_file: [`./${node.service}/${RPC_ENV_FILE}`],
      volumes: [`./${node.service}:/data`],
      networks: [plan.network],
      expose: [String(CONTAINER_PORTS.p2p), String(CONTAINER_PORTS.rpc), String(CONTAINER_PORTS.metrics)],
      restart: "unless-stopped",
      // The node stops its parts in reverse order on SIGTERM; give it time before SIGKILL.
      stop_grace_period: "20s",
    }
  }
  return {
    version: "3.8",
    services,
    networks: {[plan.network]: {internal: true}},
  }
}

export function renderCompose(plan: Pick<ComposePlan, "image" | "network" | "services" | "chainId">): string {
  const header = [
    `# CareLedger: ${plan.services.length} hospitals of chain ${plan.chainId}, written by \`careledger compose --nodes ${plan.services.length}\`.`,
    "# Keys, genesis, config and RPC tokens live in ./hospital-N/ (each mounted as that node's /data).",
    "# The network is internal (no route out, no published ports): use",
    "#   docker compose exec hospital-0 careledger rpc chain_head",
    "",
  ]
  return `${header.join("\n")}${toYaml(composeDocument(plan), 0)}`
}

/** A small YAML printer for the compose document: block maps and lists, every string double-quoted. */
function toYaml(value: unknown, depth: number): string {
  const pad = "  ".repeat(depth)
  if (Array.isArray(value)) {
    return value.map((item) => `${pad}- ${scalar(item)}\n`).join("")
  }
  let out = ""
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const name = /^[A-Za-z0-9_.-]+$/.test(key) ? key : JSON.stringify(key)
    if (item !== null && typeof item === "object") out += `${pad}${name}:\n${toYaml(item, depth + 1)}`
    else out += `${pad}${name}: ${scalar(item)}\n`
  }
  return out
}

function scalar(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "boolean") return String(value)
  throw new ComposeError(ComposeErrorCode.BAD_OPTION, `cannot print ${typeof value} in the compose file`)
}

/** `careledger compose`: writes the network and says how to run it. */
export async function composeCommand(args: string[], io: CliIo): Promise<number> {
  const {values} = parseArgs({
    args,
    options: {
      nodes: {type: "string", default: "4"},
      out: {type: "string"},
      // Accepted for the earlier commands/compose.ts spelling.
      dir: {type: "string"},
      "chain-id": {type: "string"},
      image: {type: "string"},
      "block-interval": {type: "string"},
      network: {type: "string"},
    },
    strict: true,
  })
  const nodes = intArg("--nodes", values.nodes)
  if (nodes < 1 || nodes > 16) throw new UsageError("--nodes must be 1..16")
  const plan = prepareComposeNetwork({
    nodes,
    outDir: values.out ?? values.dir ?? "careledger-compose",
    ...(values["chain-id"] === undefined ? {} : {chainId: values["chain-id"]}),
    ...(values.image === undefined ? {} : {image: values.image}),
    ...(values["block-interval"] === undefined ? {} : {blockIntervalMs: intArg("--block-interval", values["block-interval"])}),
    ...(values.network === undefined ? {} : {network: values.network}),
  })
  io.out(`wrote ${plan.composeFile}: chain ${plan.chainId}, ${plan.services.length} hospitals, image ${plan.image}, internal network ${plan.network}`)
  for (const node of plan.services) io.out(`  ${node.service.padEnd(12)} ${node.hospital.padEnd(8)} ${node.peerId}  data ${node.dataDir}`)
  io.out(`containers run as uid ${plan.owner.uid}:${plan.owner.gid} (${join(plan.dir, ".env")}), which owns the data dirs`)
  io.out(`start:  docker compose -f ${plan.composeFile} up -d      (or docker-compose)`)
  io.out(`query:  docker compose -f ${plan.composeFile} exec hospital-0 careledger rpc chain_head`)
  io.out("RPC tokens: hospital-N/tokens.json (operator = admin, monitoring = read); nothing is published on the host")
  return 0
}
