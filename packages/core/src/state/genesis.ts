import {publicKeyFromAccountId} from "../crypto/keys.js"
import {Block, validatorsHashOf} from "../block/block.js"
import {MAX_CHAIN_ID_LENGTH} from "../tx/transaction.js"
import {HOSPITAL_ID_PATTERN, ID_PATTERN, MAX_HOSPITAL_ID_LENGTH, MAX_NAME_LENGTH} from "../tx/payload.js"
import type {BlockExecution, ConsensusParams, Genesis, GenesisHospital} from "./types.js"
import {GenesisError, GenesisErrorCode} from "./errors.js"
import {MapWriter} from "./overlay.js"
import {EMPTY_STATE_ROOT, computeStateRoot} from "./execute.js"
import {putChainMeta, putHospital, putValidatorSet, validatorKeys} from "./repository.js"

export const MAX_GENESIS_HOSPITALS = 128
export const MIN_BLOCK_INTERVAL_MS = 200
export const MIN_ROUND_TIMEOUT_MS = 500
export const MAX_ROUND_TIMEOUT_MS = 60_000
export const DEFAULT_CONSENSUS_PARAMS: Readonly<ConsensusParams> = Object.freeze({
  blockIntervalMs: 1000,
  // A silent proposer costs the block interval plus this; rounds after the first wait longer (bounded).
  roundTimeoutMs: 1000,
  emptyBlocks: true,
})

const GENESIS_KEYS = ["chainId", "timestamp", "hospitals", "consensus"]
const HOSPITAL_KEYS = ["id", "name", "key", "validator"]
const CONSENSUS_KEYS = ["blockIntervalMs", "roundTimeoutMs", "emptyBlocks"]

function fail(code: GenesisErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new GenesisError(code, message, details)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
}

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(GenesisErrorCode.MALFORMED, `${where}: unknown field ${JSON.stringify(key)}`, {field: key})
  }
}

/**
 * Validates a parsed genesis file (JSON) and returns it typed. Consensus parameters may be left
 * out (defaults apply); everything else is required. StateKeys are lowercase-hex Ed25519 public keys.
 */
export function parseGenesis(json: unknown): Genesis {
  if (!isPlainObject(json)) fail(GenesisErrorCode.MALFORMED, "genesis must be a JSON object")
  checkKeys(json, GENESIS_KEYS, "genesis")
  const {chainId, timestamp, hospitals, consensus} = json
  if (typeof chainId !== "string" || chainId.length === 0 || chainId.length > MAX_CHAIN_ID_LENGTH || !ID_PATTERN.test(chainId)) {
    fail(GenesisErrorCode.BAD_CHAIN_ID, `chainId must be 1..${MAX_CHAIN_ID_LENGTH} characters of [A-Za-z0-9._-]`)
  }
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    fail(GenesisErrorCode.BAD_TIMESTAMP, "timestamp must be a non-negative integer (unix ms)")
  }
  if (!Array.isArray(hospitals) || hospitals.length === 0) fail(GenesisErrorCode.BAD_HOSPITAL, "hospitals must be a non-empty list")
  if (hospitals.length > MAX_GENESIS_HOSPITALS) fail(GenesisErrorCode.BAD_HOSPITAL, `at most ${MAX_GENESIS_HOSPITALS} hospitals`)
  const ids = new Set<string>()
  const keys = new Set<string>()
  const parsed = hospitals.map((raw: unknown, index: number) => {
    const hospital = parseHospital(raw, index)
    if (ids.has(hospital.id)) fail(GenesisErrorCode.DUPLICATE_HOSPITAL, `hospital id ${hospital.id} appears twice`, {id: hospital.id})
    if (keys.has(hospital.key)) fail(GenesisErrorCode.DUPLICATE_HOSPITAL, `hospital key ${hospital.key} appears twice`, {key: hospital.key})
    ids.add(hospital.id)
    keys.add(hospital.key)
    return hospital
  })
  if (!parsed.some((h) => h.validator)) fail(GenesisErrorCode.NO_VALIDATORS, "at least one hospital must be a validator")
  return {chainId, timestamp, hospitals: parsed, consensus: parseConsensus(consensus)}
}

function parseHospital(raw: unknown, index: number): GenesisHospital {
  const where = `hospitals[${index}]`
  if (!isPlainObject(raw)) fail(GenesisErrorCode.BAD_HOSPITAL, `${where} must be an object`)
  checkKeys(raw, HOSPITAL_KEYS, where)
  const {id, name, key, validator} = raw
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_HOSPITAL_ID_LENGTH || !HOSPITAL_ID_PATTERN.test(id)) {
    fail(GenesisErrorCode.BAD_HOSPITAL, `${where}.id must be 1..${MAX_HOSPITAL_ID_LENGTH} characters of [a-z0-9-]`)
  }
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) {
    fail(GenesisErrorCode.BAD_HOSPITAL, `${where}.name must be 1..${MAX_NAME_LENGTH} printable characters`)
  }
  if (typeof key !== "string" || !/^[0-9a-f]{64}$/.test(key) || publicKeyFromAccountId(key) === undefined) {
    fail(GenesisErrorCode.BAD_HOSPITAL, `${where}.key must be the lowercase hex of a 32-byte Ed25519 public key`)
  }
  if (typeof validator !== "boolean") fail(GenesisErrorCode.BAD_HOSPITAL, `${where}.validator must be true or false`)
  return {id, name, key, validator}
}

function parseConsensus(raw: unknown): ConsensusParams {
  if (raw === undefined) return {...DEFAULT_CONSENSUS_PARAMS}
  if (!isPlainObject(raw)) fail(GenesisErrorCode.BAD_CONSENSUS_PARAMS, "consensus must be an object")
  checkKeys(raw, CONSENSUS_KEYS, "consensus")
  const params = {...DEFAULT_CONSENSUS_PARAMS, ...raw}
  const {blockIntervalMs, roundTimeoutMs, emptyBlocks} = params
  if (typeof blockIntervalMs !== "number" || !Number.isSafeInteger(blockIntervalMs) || blockIntervalMs < MIN_BLOCK_INTERVAL_MS || blockIntervalMs > MAX_ROUND_TIMEOUT_MS) {
    fail(GenesisErrorCode.BAD_CONSENSUS_PARAMS, `consensus.blockIntervalMs must be an integer in ${MIN_BLOCK_INTERVAL_MS}..${MAX_ROUND_TIMEOUT_MS}`)
  }
  if (typeof roundTimeoutMs !== "number" || !Number.isSafeInteger(roundTimeoutMs) || roundTimeoutMs < MIN_ROUND_TIMEOUT_MS || roundTimeoutMs > MAX_ROUND_TIMEOUT_MS) {
    fail(GenesisErrorCode.BAD_CONSENSUS_PARAMS, `consensus.roundTimeoutMs must be an integer in ${MIN_ROUND_TIMEOUT_MS}..${MAX_ROUND_TIMEOUT_MS}`)
  }
  if (typeof emptyBlocks !== "boolean") fail(GenesisErrorCode.BAD_CONSENSUS_PARAMS, "consensus.emptyBlocks must be true or false")
  return {blockIntervalMs, roundTimeoutMs, emptyBlocks}
}

/** The state of height 0: chain metadata, the founding hospitals and the validator set in genesis order. */
export function genesisExecution(genesis: Genesis): BlockExecution {
  const writer = new MapWriter()
  putChainMeta(writer, {chainId: genesis.chainId, consensus: {...genesis.consensus}})
  for (const h of genesis.hospitals) putHospital(writer, {id: h.id, name: h.name, key: h.key, validator: h.validator, joinedAt: 0})
  const validators = genesis.hospitals.filter((h) => h.validator).map((h) => h.key)
  putValidatorSet(writer, validators)
  return {writes: writer.writes, stateRoot: computeStateRoot(EMPTY_STATE_ROOT, writer.writes), validators: validatorKeys(validators)}
}

/** Block 0: no transactions, no proposer (all zeros), no parent, no last commit. */
export function genesisBlock(genesis: Genesis, execution: BlockExecution): Block {
  return Block.create(
    {
      chainId: genesis.chainId,
      height: 0,
      round: 0,
      parentHash: new Uint8Array(32),
      timestamp: genesis.timestamp,
      proposer: new Uint8Array(32),
      stateRoot: execution.stateRoot,
      validatorsHash: validatorsHashOf(execution.validators),
      lastCommit: null,
    },
    [],
  )
}
