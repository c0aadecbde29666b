import {
  ApiError,
  bytesEqual,
  bytesFromHex,
  commitFromJson,
  fromHex,
  hashHeader,
  headerFromJson,
  merklePathFromJson,
  verifyCommit,
  verifyMerkleProof,
} from "@careledger/core"
import type {TxProof} from "./api.js"
import {ClientError, ClientErrorCode} from "./errors.js"

/**
 * Checks a transaction proof without trusting the node that served it: the Merkle path leads from
 * the tx hash to the header's tx root, the header hashes to the certified block hash, and more than
 * 2/3 of `trustedValidators` (defaults to the set in the proof) signed the commit.
 */
export function verifyTxProof(proof: TxProof, trustedValidators?: readonly string[]): void {
  try {
    checkTxProof(proof, trustedValidators)
  } catch (err) {
    // A field that is not what its route declares is the node's bad answer, as for any other call.
    if (err instanceof ApiError) throw new ClientError(ClientErrorCode.BAD_RESPONSE, err.message, err.details)
    throw err
  }
}

function checkTxProof(proof: TxProof, trustedValidators?: readonly string[]): void {
  const fail = (message: string): never => {
    throw new ClientError(ClientErrorCode.BAD_PROOF, message)
  }
  const header = headerFromJson(proof.header)
  const blockHash = hashHeader(header)
  if (!bytesEqual(blockHash, bytesFromHex(proof.blockHash, "blockHash", 32))) fail("header does not hash to the block hash")
  if (header.chainId !== proof.chainId) fail("header is from another chain")
  const txHash = bytesFromHex(proof.txHash, "txHash", 32)
  if (!verifyMerkleProof(txHash, merklePathFromJson(proof.path), header.txRoot)) fail("merkle path does not reach the tx root")
  const validators = (trustedValidators ?? proof.validators).map((v) => fromHex(v) ?? fail(`validator ${v} is not hex`))
  try {
    verifyCommit(proof.chainId, commitFromJson(proof.commit), {height: header.height, blockHash}, validators)
  } catch (err) {
    fail(`commit certificate: ${(err as Error).message}`)
  }
}
