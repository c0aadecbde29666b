import {fromHex, type BlockHeader, type CommitCertificate, type MerkleStep} from "@careledger/core"
import type {CommitJson, HeaderJson, MerkleStepJson} from "./api.js"
import {ClientError, ClientErrorCode} from "./errors.js"

/** The converters to JSON live in core, beside the API types; the client parses answers back below. */
export {blockToJson, commitToJson, headerToJson, merklePathToJson, toJsonValue, txToJson} from "@careledger/core"

export function bytesFromHex(hex: string, what: string, length?: number): Uint8Array {
  const bytes = typeof hex === "string" ? fromHex(hex) : undefined
  if (bytes === undefined || (length !== undefined && bytes.length !== length)) {
    throw new ClientError(ClientErrorCode.BAD_RESPONSE, `${what} is not ${length === undefined ? "" : `${length}-byte `}hex`)
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
    if (step.side !== "left" && step.side !== "right") throw new ClientError(ClientErrorCode.BAD_RESPONSE, "bad merkle step side")
    return {side: step.side, hash: bytesFromHex(step.hash, "merkle step", 32)}
  })
}
