import {sha256} from "../crypto/hash.js"
import {bytesEqual} from "../encoding/bytes.js"

// RFC 6962 tree hashing: leaves and inner nodes are domain-separated so a leaf can never pose as a node.
const LEAF = new Uint8Array([0])
const NODE = new Uint8Array([1])
const EMPTY_ROOT = sha256()

export interface MerkleStep {
  /** Which side the sibling hash is on. */
  side: "left" | "right"
  hash: Uint8Array
}

export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT
  return subtreeRoot(leaves.map((leaf) => sha256(LEAF, leaf)))
}

function subtreeRoot(nodes: readonly Uint8Array[]): Uint8Array {
  if (nodes.length === 1) return nodes[0]!
  const split = largestPowerOfTwoBelow(nodes.length)
  return sha256(NODE, subtreeRoot(nodes.slice(0, split)), subtreeRoot(nodes.slice(split)))
}

/** The audit path for leaf `index`, ordered from the leaf up. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): MerkleStep[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf index ${index} is outside 0..${leaves.length - 1}`)
  }
  const path: MerkleStep[] = []
  let nodes = leaves.map((leaf) => sha256(LEAF, leaf))
  let i = index
  while (nodes.length > 1) {
    const split = largestPowerOfTwoBelow(nodes.length)
    if (i < split) {
      path.push({side: "right", hash: subtreeRoot(nodes.slice(split))})
      nodes = nodes.slice(0, split)
    } else {
      path.push({side: "left", hash: subtreeRoot(nodes.slice(0, split))})
      nodes = nodes.slice(split)
      i -= split
    }
  }
  return path.reverse()
}

export function verifyMerkleProof(leaf: Uint8Array, path: readonly MerkleStep[], root: Uint8Array): boolean {
  let hash = sha256(LEAF, leaf)
  for (const step of path) {
    hash = step.side === "left" ? sha256(NODE, step.hash, hash) : sha256(NODE, hash, step.hash)
  }
  return bytesEqual(hash, root)
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}
