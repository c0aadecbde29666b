import {expect} from "chai"
import fc from "fast-check"
import {merkleProof, merkleRoot, sha256, utf8, verifyMerkleProof} from "../../src/index.js"

const leavesOf = (n: number): Uint8Array[] => Array.from({length: n}, (_, i) => sha256(utf8(`leaf-${i}`)))

describe("block/merkle: RFC 6962 inclusion proofs", function () {
  it("every leaf's proof verifies against the root, for every size up to 40", function () {
    for (let n = 1; n <= 40; n++) {
      const leaves = leavesOf(n)
      const root = merkleRoot(leaves)
      for (let i = 0; i < n; i++) {
        expect(verifyMerkleProof(leaves[i]!, merkleProof(leaves, i), root), `leaf ${i} of ${n}`).to.equal(true)
      }
    }
  })

  it("a tampered proof, a wrong leaf or another root fails", function () {
    fc.assert(
      fc.property(fc.integer({min: 2, max: 200}), fc.nat(), fc.nat(), (n, rawIndex, rawStep) => {
        const leaves = leavesOf(n)
        const i = rawIndex % n
        const root = merkleRoot(leaves)
        const proof = merkleProof(leaves, i)
        const step = rawStep % proof.length
        const flippedHash = proof.map((s, k) => (k === step ? {...s, hash: sha256(s.hash)} : s))
        const flippedSide = proof.map((s, k) => (k === step ? {...s, side: s.side === "left" ? ("right" as const) : ("left" as const)} : s))
        expect(verifyMerkleProof(leaves[i]!, flippedHash, root)).to.equal(false)
        expect(verifyMerkleProof(leaves[i]!, flippedSide, root)).to.equal(false)
        expect(verifyMerkleProof(leaves[(i + 1) % n]!, proof, root)).to.equal(false)
        expect(verifyMerkleProof(leaves[i]!, proof.slice(0, -1), root)).to.equal(false)
        expect(verifyMerkleProof(leaves[i]!, proof, merkleRoot(leaves.slice(1)))).to.equal(false)
      }),
      {numRuns: 200},
    )
  })

  it("a leaf cannot pose as an inner node (domain separation)", function () {
    const leaves = leavesOf(4)
    const root = merkleRoot(leaves)
    const proof = merkleProof(leaves, 0)
    // Present the level-1 node as if it were a leaf with the remaining path.
    const inner = sha256(new Uint8Array([1]), sha256(new Uint8Array([0]), leaves[0]!), sha256(new Uint8Array([0]), leaves[1]!))
    expect(verifyMerkleProof(inner, proof.slice(1), root)).to.equal(false)
    expect(() => merkleProof(leaves, 4)).to.throw(RangeError)
  })
})
