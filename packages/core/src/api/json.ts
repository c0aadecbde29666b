/**
 * Core values as the JSON the API carries (bytes as lowercase hex) and back: the node answers with
 * the `...ToJson` converters, the client parses answers with the `...FromJson` ones.
 */
import {fromHex, toHex} from "../encoding/index.js"
import {ApiError, ApiErrorCode} from "./errors.js"
import type {Block, BlockHeader} from "../block/block.js"
import type {CommitCertificate} from "../block/commit.js"
import type {MerkleStep} from "../block/merkle.js"
import type {Transaction} from "../tx/transaction.js"
import type {BlockJson, CommitJson, HeaderJson, JsonValue, MerkleStepJson, TxJson} from "./types.js"

/** Converts a decoded canonical value to JSON, byte strings becoming hex. */
export function toJsonValue(value: unknown): JsonValue {
  if (value === null || value === undefined) return null
  if (value instanceof Uint8Array) return toHex(value)
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value
  if (Array.isArray(value)) return value.map(toJsonValue)
  if (typeof value === "object") {
    const out: {[key: string]: JsonValue} = {}
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = toJsonValue(item)
    return out
  }
  return null
}

export function commitToJson(cert: CommitCertificate): CommitJson {
  return {
    height: cert.height,
    round: cert.round,
    blockHash: toHex(cert.blockHash),
    signatures: cert.signatures.map((s) => ({validator: toHex(s.validator), signature: toHex(s.signature)})),
  }
}

export function headerToJson(h: Readonly<BlockHeader>): HeaderJson {
  return {
    chainId: h.chainId,
    height: h.height,
    round: h.round,
    parentHash: toHex(h.parentHash),
    timestamp: h.timestamp,
    proposer: toHex(h.proposer),
    txRoot: toHex(h.txRoot),
    stateRoot: toHex(h.stateRoot),
    validatorsHash: toHex(h.validatorsHash),
    lastCommit: h.lastCommit === null ? null : commitToJson(h.lastCommit),
  }
}

export function txToJson(tx: Transaction): TxJson {
  return {
    hash: tx.hashHex(),
    chainId: tx.chainId,
    type: tx.type,
    sender: toHex(tx.sender),
    nonce: tx.nonce,
    payload: toJsonValue(tx.payload),
    signature: toHex(tx.signature),
    raw: toHex(tx.serialize()),
  }
}

export function blockToJson(block: Block, commit: CommitCertificate | null): BlockJson {
  return {
    hash: block.hashHex(),
    header: headerToJson(block.header),
    txs: block.txs.map(txToJson),
    commit: commit === null ? null : commitToJson(commit),
  }
}

export function merklePathToJson(path: readonly MerkleStep[]): MerkleStepJson[] {
  return path.map((step) => ({side: step.side, hash: toHex(step.hash)}))
}

/** Hex of an answer as bytes (of `length` when given), or BAD_JSON naming `what`. */
export function bytesFromHex(hex: string, what: string, length?: number): Uint8Array {
  const bytes = typeof hex === "string" ? fromHex(hex) : undefined
  if (bytes === undefined || (length !== undefined && bytes.length !== length)) {
    throw new ApiError(ApiErrorCode.BAD_JSON, `${what} is not ${length === undefined ? "" : `${length}-byte `}hex`, {field: what})
  }
  return bytes
}

export function commitFromJson(json: CommitJson): CommitCertificate {
  return {
    height: json.height,
    round: json.round,
    blockHash: bytesFromHex(json.blockHash, "commit.blockHash", 32),
    signatures: json.signatures.map((s) => ({
      validator: bytesFromHex(s.validator, "commit validator", 32),
      signature: bytesFromHex(s.signature, "commit signature", 64),
    })),
  }
}

export function headerFromJson(json: HeaderJson): BlockHeader {
  return {
    chainId: json.chainId,
    height: json.height,
    round: json.round,
    parentHash: bytesFromHex(json.parentHash, "header.parentHash", 32),
    timestamp: json.timestamp,
    proposer: bytesFromHex(json.proposer, "header.proposer", 32),
    txRoot: bytesFromHex(json.txRoot, "header.txRoot", 32),
    stateRoot: bytesFromHex(json.stateRoot, "header.stateRoot", 32),
    validatorsHash: bytesFromHex(json.validatorsHash, "header.validatorsHash", 32),
    lastCommit: json.lastCommit === null ? null : commitFromJson(json.lastCommit),
  }
}

export function merklePathFromJson(path: readonly MerkleStepJson[]): MerkleStep[] {
  return path.map((step) => {
    if (step.side !== "left" && step.side !== "right") throw new ApiError(ApiErrorCode.BAD_JSON, "bad merkle step side", {field: "side"})
    return {side: step.side, hash: bytesFromHex(step.hash, "merkle step", 32)}
  })
}
