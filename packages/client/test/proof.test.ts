import {expect} from "chai"
import {Block, PrivateKey, Role, Transaction, TxType, merkleProof, precommitSigningBytes, validatorsHashOf, type CommitCertificate} from "@careledger/core"
import {ClientErrorCode, commitToJson, headerToJson, merklePathToJson, verifyTxProof, type TxProof} from "../src/index.js"

describe("verifyTxProof", () => {
  const validators = [PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate()]
  const chainId = "proof-chain"
  const hospital = PrivateKey.generate()
  const txs = Array.from({length: 5}, (_, nonce) =>
    Transaction.sign({chainId, type: TxType.IdentityRegister, nonce, payload: {key: PrivateKey.generate().publicKey, role: Role.Patient}}, hospital),
  )
  const block = Block.create(
    {
      chainId,
      height: 7,
      round: 0,
      parentHash: new Uint8Array(32),
      timestamp: 1000,
      proposer: validators[3]!.publicKey,
      stateRoot: new Uint8Array(32),
      validatorsHash: validatorsHashOf(validators.map((v) => v.publicKey)),
      lastCommit: null,
    },
    txs,
  )
  const commit: CommitCertificate = {
    height: 7,
    round: 0,
    blockHash: block.hash(),
    signatures: validators.slice(0, 3).map((v) => ({validator: v.publicKey, signature: v.sign(precommitSigningBytes(chainId, 7, 0, block.hash()))})),
  }
  const proofOf = (index: number): TxProof => ({
    chainId,
    txHash: txs[index]!.hashHex(),
    index,
    path: merklePathToJson(merkleProof(txs.map((t) => t.hash()), index)),
    header: headerToJson(block.header),
    blockHash: block.hashHex(),
    commit: commitToJson(commit),
    validators: validators.map((v) => v.id),
  })

  it("accepts a proof built from a real block and commit", () => {
    for (let i = 0; i < txs.length; i++) verifyTxProof(proofOf(i))
  })

  it("refuses a proof for another tx, a forged header, or a commit by strangers", () => {
    const swapped = {...proofOf(1), txHash: txs[2]!.hashHex()}
    expect(() => verifyTxProof(swapped)).to.throw().with.property("code", ClientErrorCode.BAD_PROOF)
    const forged = proofOf(1)
    forged.header = {...forged.header, timestamp: 2000}
    expect(() => verifyTxProof(forged)).to.throw(/hash/)
    const strangers = [PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate()].map((k) => k.id)
    expect(() => verifyTxProof(proofOf(0), strangers)).to.throw(/commit certificate/)
  })

  it("says a proof whose fields are not hex of their length is a bad answer of the node", () => {
    const garbled = proofOf(1)
    garbled.header = {...garbled.header, txRoot: "zz"}
    expect(() => verifyTxProof(garbled)).to.throw(/header\.txRoot is not 32-byte hex/).with.property("code", ClientErrorCode.BAD_RESPONSE)
  })
})
