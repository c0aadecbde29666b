import {expect} from "chai"
import {
  Block,
  BlockError,
  BlockErrorCode,
  PrivateKey,
  Role,
  Transaction,
  TxType,
  bytesEqual,
  decodeCommit,
  encode,
  headerToEncodable,
  encodeCommit,
  precommitSigningBytes,
  quorumSize,
  sha256,
  utf8,
  validatorsHashOf,
  verifyCommit,
  type CommitCertificate,
} from "../../src/index.js"

const CHAIN = "block-test"
const validators = ["v1", "v2", "v3", "v4"].map((n) => PrivateKey.fromSeed(sha256(utf8(n))))
const outsider = PrivateKey.fromSeed(sha256(utf8("outsider")))
const keys = validators.map((v) => v.publicKey)

function sampleBlock(height: number, lastCommit: CommitCertificate | null): Block {
  const txs = Array.from({length: 5}, (_, i) =>
    Transaction.sign({chainId: CHAIN, type: TxType.IdentityRegister, nonce: i, payload: {key: sha256(utf8(`p${i}`)), role: Role.Patient}}, validators[0]!),
  )
  return Block.create(
    {
      chainId: CHAIN,
      height,
      round: 1,
      parentHash: sha256(utf8("parent")),
      timestamp: 1_700_000_000_000 + height,
      proposer: validators[(height + 1) % 4]!.publicKey,
      stateRoot: sha256(utf8("state")),
      validatorsHash: validatorsHashOf(keys),
      lastCommit,
    },
    txs,
  )
}

function certify(block: Block, signers: PrivateKey[], round = 0): CommitCertificate {
  const message = precommitSigningBytes(CHAIN, block.height, round, block.hash())
  return {height: block.height, round, blockHash: block.hash(), signatures: signers.map((s) => ({validator: s.publicKey, signature: s.sign(message)}))}
}

const commitError = (fn: () => void): string | undefined => {
  try {
    fn()
  } catch (err) {
    expect(err).to.be.instanceOf(BlockError)
    return (err as BlockError).code
  }
  return undefined
}

describe("block: blocks and commit certificates", function () {
  it("round-trips a block with its transactions and last commit", function () {
    const parent = sampleBlock(6, null)
    const block = sampleBlock(7, certify(parent, validators.slice(0, 3)))
    const decoded = Block.decode(block.serialize())
    expect(decoded.hashHex()).to.equal(block.hashHex())
    expect(bytesEqual(decoded.serialize(), block.serialize())).to.equal(true)
    expect(decoded.txs.map((t) => t.hashHex())).to.deep.equal(block.txs.map((t) => t.hashHex()))
    expect(decoded.header.lastCommit!.signatures).to.have.length(3)
  })

  it("refuses malformed blocks and blocks with a bad transaction", function () {
    expect(commitError(() => Block.decode(utf8("not cbor")))).to.equal(BlockErrorCode.MALFORMED)
    const block = sampleBlock(2, null)
    const bytes = block.serialize()
    expect(commitError(() => Block.decode(bytes.subarray(0, bytes.length - 1)))).to.equal(BlockErrorCode.MALFORMED)
    const badTx = encode([CHAIN, TxType.IdentityRegister, validators[0]!.publicKey, 9, {key: new Uint8Array(3), role: "patient"}, new Uint8Array(64)])
    const withBadTx = encode([headerToEncodable(block.header), [...block.txs.map((t) => t.serialize()), badTx]])
    try {
      Block.decode(withBadTx)
      expect.fail("accepted a block with a malformed transaction")
    } catch (err) {
      expect((err as BlockError).code).to.equal(BlockErrorCode.BAD_TX)
      expect((err as BlockError).details).to.include({index: 5})
    }
  })

  it("accepts a certificate from more than 2/3 of the set", function () {
    expect(quorumSize(4)).to.equal(3)
    expect(quorumSize(3)).to.equal(3)
    expect(quorumSize(1)).to.equal(1)
    const block = sampleBlock(3, null)
    const cert = certify(block, [validators[3]!, validators[0]!, validators[2]!], 2)
    verifyCommit(CHAIN, decodeCommit(encodeCommit(cert)), {height: 3, blockHash: block.hash()}, keys)
  })

  it("refuses a certificate short of quorum, with a duplicate signer, a non-member or a bad signature", function () {
    const block = sampleBlock(3, null)
    const expected = {height: 3, blockHash: block.hash()}
    expect(commitError(() => verifyCommit(CHAIN, certify(block, validators.slice(0, 2)), expected, keys))).to.equal(BlockErrorCode.BAD_COMMIT)
    const dup = certify(block, [validators[0]!, validators[1]!, validators[0]!])
    expect(commitError(() => verifyCommit(CHAIN, dup, expected, keys))).to.equal(BlockErrorCode.BAD_COMMIT)
    const stranger = certify(block, [validators[0]!, validators[1]!, outsider])
    expect(commitError(() => verifyCommit(CHAIN, stranger, expected, keys))).to.equal(BlockErrorCode.BAD_COMMIT)
    const forged = certify(block, validators.slice(0, 3))
    forged.signatures[1] = {validator: validators[1]!.publicKey, signature: validators[2]!.sign(utf8("something else"))}
    expect(commitError(() => verifyCommit(CHAIN, forged, expected, keys))).to.equal(BlockErrorCode.BAD_COMMIT)
    const otherBlock = certify(sampleBlock(4, null), validators.slice(0, 3))
    expect(commitError(() => verifyCommit(CHAIN, otherBlock, expected, keys))).to.equal(BlockErrorCode.BAD_COMMIT)
    // Signed for another chain: the precommit bytes differ.
    const msg = precommitSigningBytes("another-chain", 3, 0, block.hash())
    const replayed: CommitCertificate = {height: 3, round: 0, blockHash: block.hash(), signatures: validators.slice(0, 3).map((v) => ({validator: v.publicKey, signature: v.sign(msg)}))}
    expect(commitError(() => verifyCommit(CHAIN, replayed, expected, keys))).to.equal(BlockErrorCode.BAD_COMMIT)
  })
})
