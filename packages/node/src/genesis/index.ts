import {existsSync, readFileSync, writeFileSync, mkdirSync} from "node:fs"
import {dirname} from "node:path"
import {DEFAULT_CONSENSUS_PARAMS, GenesisError, parseGenesis, type Genesis, type GenesisHospital} from "@careledger/core"
import {NodeConfigError, NodeConfigErrorCode} from "../config/errors.js"

export interface GenesisSpec {
  chainId: string
  hospitals: GenesisHospital[]
  blockIntervalMs?: number
  roundTimeoutMs?: number
  emptyBlocks?: boolean
  timestamp?: number
}

function bad(message: string): never {
  throw new NodeConfigError(NodeConfigErrorCode.BAD_GENESIS, message)
}

/** Builds a genesis document; consensus parameters left out take the chain's defaults. */
export function buildGenesis(spec: GenesisSpec): Genesis {
  return checkGenesis({
    chainId: spec.chainId,
    timestamp: spec.timestamp ?? Date.now(),
    hospitals: spec.hospitals.map((h) => ({...h, key: h.key.toLowerCase()})),
    consensus: {
      blockIntervalMs: spec.blockIntervalMs ?? DEFAULT_CONSENSUS_PARAMS.blockIntervalMs,
      roundTimeoutMs: spec.roundTimeoutMs ?? DEFAULT_CONSENSUS_PARAMS.roundTimeoutMs,
      emptyBlocks: spec.emptyBlocks ?? DEFAULT_CONSENSUS_PARAMS.emptyBlocks,
    },
  })
}

/**
 * Checks a genesis document with the state machine's own rules (the ones every node applies at
 * height 0) and reports a failure as a configuration error an operator can act on.
 */
export function checkGenesis(raw: unknown): Genesis {
  try {
    return parseGenesis(raw)
  } catch (err) {
    if (err instanceof GenesisError) bad(`${err.message} (${err.code})`)
    throw err
  }
}

/** Parses `id:name:keyhex[:observer]` as the CLI takes hospitals. */
/**
 * Parses `id:name:keyhex[:observer]`. The id and key never hold a colon, so the name is whatever lies
 * between them, colons included ("St. Mary's: Cardiology").
 */
export function parseHospitalArg(arg: string): GenesisHospital {
  const parts = arg.split(":")
  const observer = parts.length >= 4 && parts[parts.length - 1] === "observer"
  if (observer) parts.pop()
  if (parts.length < 3) bad(`--hospital ${JSON.stringify(arg)} must be id:name:keyhex or id:name:keyhex:observer`)
  const id = parts[0]!
  const key = parts[parts.length - 1]!
  const name = parts.slice(1, -1).join(":")
  return {id, name, key: key.toLowerCase(), validator: !observer}
}

export function readGenesisFile(path: string): Genesis {
  if (!existsSync(path)) bad(`no genesis file at ${path}`)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, "utf8"))
  } catch (err) {
    bad(`${path}: ${(err as Error).message}`)
  }
  return checkGenesis(raw)
}

export function writeGenesisFile(path: string, genesis: Genesis): void {
  mkdirSync(dirname(path), {recursive: true})
  writeFileSync(path, `${JSON.stringify(genesis, null, 2)}\n`)
}
