import {existsSync, readFileSync, writeFileSync, mkdirSync} from "node:fs"
import {dirname} from "node:path"
import {publicKeyFromAccountId, type Genesis, type GenesisHospital} from "@careledger/core"
import {NodeConfigError, NodeConfigErrorCode} from "../config/errors.js"

export interface GenesisSpec {
  chainId: string
  hospitals: GenesisHospital[]
  blockIntervalMs?: number
  roundTimeoutMs?: number
  emptyBlocks?: boolean
  timestamp?: number
}

const HOSPITAL_ID = /^[a-z0-9-]{1,32}$/
const CHAIN_ID = /^[A-Za-z0-9._-]{1,64}$/

function bad(message: string): never {
  throw new NodeConfigError(NodeConfigErrorCode.BAD_GENESIS, message)
}

/** Builds a genesis document and checks what an operator could get wrong on the command line. */
export function buildGenesis(spec: GenesisSpec): Genesis {
  const blockIntervalMs = spec.blockIntervalMs ?? 1000
  const genesis: Genesis = {
    chainId: spec.chainId,
    timestamp: spec.timestamp ?? Date.now(),
    hospitals: spec.hospitals.map((h) => ({...h, key: h.key.toLowerCase()})),
    consensus: {
      blockIntervalMs,
      // A round must outlast a block interval plus gossip; bounded so a silent proposer costs one slot.
      roundTimeoutMs: spec.roundTimeoutMs ?? Math.max(2000, blockIntervalMs * 3),
      emptyBlocks: spec.emptyBlocks ?? true,
    },
  }
  checkGenesis(genesis)
  return genesis
}

/** Shape checks shared by `careledger genesis` and `start`; the state machine applies its own rules too. */
export function checkGenesis(genesis: Genesis): void {
  if (typeof genesis.chainId !== "string" || !CHAIN_ID.test(genesis.chainId)) bad("chain id must be 1..64 of [A-Za-z0-9._-]")
  if (!Number.isSafeInteger(genesis.timestamp) || genesis.timestamp < 0) bad("timestamp must be unix milliseconds")
  if (!Array.isArray(genesis.hospitals) || genesis.hospitals.length === 0) bad("genesis needs at least one hospital")
  const ids = new Set<string>()
  const keys = new Set<string>()
  for (const h of genesis.hospitals) {
    if (typeof h.id !== "string" || !HOSPITAL_ID.test(h.id)) bad(`hospital id ${JSON.stringify(h.id)} must be 1..32 of [a-z0-9-]`)
    if (typeof h.name !== "string" || h.name.length === 0 || h.name.length > 128) bad(`hospital ${h.id}: name must be 1..128 characters`)
    if (typeof h.key !== "string" || publicKeyFromAccountId(h.key) === undefined) bad(`hospital ${h.id}: key must be 64 hex characters`)
    if (typeof h.validator !== "boolean") bad(`hospital ${h.id}: validator must be true or false`)
    if (ids.has(h.id)) bad(`hospital id ${h.id} appears twice`)
    if (keys.has(h.key)) bad(`hospital key ${h.key} appears twice`)
    ids.add(h.id)
    keys.add(h.key)
  }
  if (!genesis.hospitals.some((h) => h.validator)) bad("genesis needs at least one validator")
  const c = genesis.consensus
  if (c === null || typeof c !== "object") bad("consensus parameters are missing")
  if (!Number.isSafeInteger(c.blockIntervalMs) || c.blockIntervalMs < 200) bad("blockIntervalMs must be an integer >= 200")
  if (!Number.isSafeInteger(c.roundTimeoutMs) || c.roundTimeoutMs < c.blockIntervalMs) bad("roundTimeoutMs must be an integer >= blockIntervalMs")
  if (typeof c.emptyBlocks !== "boolean") bad("emptyBlocks must be true or false")
}

/** Parses `id:name:keyhex[:observer]` as the CLI takes hospitals. */
export function parseHospitalArg(arg: string): GenesisHospital {
  const parts = arg.split(":")
  if (parts.length < 3 || parts.length > 4 || (parts.length === 4 && parts[3] !== "observer")) {
    bad(`--hospital ${JSON.stringify(arg)} must be id:name:keyhex or id:name:keyhex:observer`)
  }
  const [id, name, key] = parts as [string, string, string]
  return {id, name, key: key.toLowerCase(), validator: parts.length === 3}
}

export function readGenesisFile(path: string): Genesis {
  if (!existsSync(path)) bad(`no genesis file at ${path}`)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, "utf8"))
  } catch (err) {
    bad(`${path}: ${(err as Error).message}`)
  }
  const genesis = raw as Genesis
  checkGenesis(genesis)
  return genesis
}

export function writeGenesisFile(path: string, genesis: Genesis): void {
  mkdirSync(dirname(path), {recursive: true})
  writeFileSync(path, `${JSON.stringify(genesis, null, 2)}\n`)
}
