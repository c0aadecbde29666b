import {expect} from "chai"
import fc from "fast-check"
import {
  MAX_TX_BYTES,
  Purpose,
  PrivateKey,
  Role,
  Transaction,
  TxErrorCode,
  TxType,
  bytesEqual,
  decode,
  encode,
  sha256,
  toHex,
  utf8,
  validateTx,
  type Encodable,
  type TxError,
} from "../../src/index.js"

const key = PrivateKey.fromSeed(sha256(utf8("tx-test")))
const idArb = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/)
const bytes32 = fc.uint8Array({minLength: 32, maxLength: 32})

/** Signed transactions of several types with arbitrary field values. */
const txArb = fc.oneof(
  fc.record({id: idArb, hash: bytes32, nonce: fc.maxSafeNat()}).map(({id, hash, nonce}) =>
    Transaction.sign({chainId: "c", type: TxType.TrialRegister, nonce, payload: {trialId: id, protocolHash: hash}}, key),
  ),
  fc.record({who: bytes32, role: fc.constantFrom(...Object.values(Role)), nonce: fc.nat()}).map(({who, role, nonce}) =>
    Transaction.sign({chainId: "chain-x", type: TxType.IdentityRegister, nonce, payload: {key: who, role, ...(role === Role.Proxy ? {patient: who} : {})}}, key),
  ),
  fc.record({ids: fc.uniqueArray(idArb, {minLength: 1, maxLength: 32}), purposes: fc.uniqueArray(fc.constantFrom(...Object.values(Purpose)), {minLength: 1}), exp: fc.maxSafeNat()}).map(
    ({ids, purposes, exp}) =>
      Transaction.sign(
        {chainId: "c", type: TxType.ConsentGrant, nonce: 1, payload: {grantee: {kind: "hospital", hospital: "hosp-a"}, scope: {kind: "records", recordIds: ids}, purposes, expiresAt: exp}},
        key,
      ),
  ),
)

/** The unsigned encoding the hash is defined over (DESIGN.md: hash = sha256 of the unsigned encoding). */
const referenceHash = (tx: Transaction): string =>
  toHex(sha256(encode([tx.chainId, tx.type, tx.sender, tx.nonce, tx.payload as unknown as Encodable])))

describe("tx: the transaction envelope", function () {
  it("round-trips: decode(serialize(tx)) has the same fields, bytes and hash as the signed one", function () {
    fc.assert(
      fc.property(txArb, (tx) => {
        const decoded = Transaction.decode(tx.serialize())
        expect(decoded.hashHex()).to.equal(tx.hashHex()).and.to.equal(referenceHash(tx))
        expect(bytesEqual(decoded.serialize(), tx.serialize())).to.equal(true)
        expect(decoded.payload).to.deep.equal(tx.payload)
        expect(decoded.nonce).to.equal(tx.nonce)
        expect(decoded.verifySignature()).to.equal(true)
      }),
      {numRuns: 150},
    )
  })

  it("is immutable", function () {
    const tx = Transaction.sign({chainId: "c", type: TxType.TrialRegister, nonce: 0, payload: {trialId: "t", protocolHash: new Uint8Array(32)}}, key)
    expect(() => {
      ;(tx.payload as {trialId: string}).trialId = "other"
    }).to.throw(TypeError)
  })

  it("validateTx: wrong chain and bad signature have their own codes", function () {
    const tx = Transaction.sign({chainId: "c", type: TxType.TrialRegister, nonce: 0, payload: {trialId: "t", protocolHash: new Uint8Array(32)}}, key)
    validateTx(tx, "c")
    expect(codeOf(() => validateTx(tx, "d"))).to.equal(TxErrorCode.WRONG_CHAIN)
    const raw = decode(tx.serialize()) as Encodable[]
    const other = PrivateKey.fromSeed(sha256(utf8("other")))
    // A signature by someone else over the same transaction.
    const stolen = Transaction.decode(encode([...raw.slice(0, 5), other.sign(utf8("x"))]))
    expect(codeOf(() => validateTx(stolen, "c"))).to.equal(TxErrorCode.BAD_SIGNATURE)
    // The sender swapped for another key: the signature no longer matches.
    const swapped = Transaction.decode(encode([raw[0]!, raw[1]!, other.publicKey, raw[3]!, raw[4]!, raw[5]!]))
    expect(codeOf(() => validateTx(swapped, "c"))).to.equal(TxErrorCode.BAD_SIGNATURE)
  })

  it("remembers verified signatures by hash and signature: a re-decoded tx passes, a forged signature on the same hash does not", function () {
    const tx = Transaction.sign({chainId: "c", type: TxType.TrialRegister, nonce: 7, payload: {trialId: "remembered", protocolHash: new Uint8Array(32)}}, key)
    expect(Transaction.decode(tx.serialize()).verifySignature()).to.equal(true)
    expect(Transaction.decode(tx.serialize()).verifySignature()).to.equal(true)
    const raw = decode(tx.serialize()) as Encodable[]
    const flipped = Uint8Array.from(raw[5] as Uint8Array)
    flipped[0]! ^= 1
    const forged = Transaction.decode(encode([...raw.slice(0, 5), flipped]))
    expect(forged.hashHex()).to.equal(tx.hashHex())
    expect(forged.verifySignature()).to.equal(false)
    expect(Transaction.decode(tx.serialize()).verifySignature()).to.equal(true)
  })

  it("decodes the same bytes to the same transaction once (a block's txs are the pool's, already verified); other bytes on the same hash are decoded on their own", function () {
    const tx = Transaction.sign({chainId: "c", type: TxType.TrialRegister, nonce: 8, payload: {trialId: "decoded-once", protocolHash: new Uint8Array(32)}}, key)
    const first = Transaction.decode(tx.serialize())
    expect(first.verifySignature()).to.equal(true)
    // A copy of the bytes, as a block carries them.
    const again = Transaction.decode(Uint8Array.from(tx.serialize()))
    expect(again).to.equal(first)
    const raw = decode(tx.serialize()) as Encodable[]
    const flipped = Uint8Array.from(raw[5] as Uint8Array)
    flipped[1]! ^= 1
    const forged = Transaction.decode(encode([...raw.slice(0, 5), flipped]))
    expect(forged).to.not.equal(first)
    expect(forged.hashHex()).to.equal(first.hashHex())
    expect(forged.verifySignature()).to.equal(false)
    expect(Transaction.decode(tx.serialize()).verifySignature()).to.equal(true)
  })

  it("refuses malformed envelopes with typed errors", function () {
    const tx = Transaction.sign({chainId: "c", type: TxType.TrialRegister, nonce: 0, payload: {trialId: "t", protocolHash: new Uint8Array(32)}}, key)
    const raw = decode(tx.serialize()) as Encodable[]
    const variant = (i: number, value: Encodable) => encode(raw.map((v, k) => (k === i ? value : v)))
    expect(codeOf(() => Transaction.decode(utf8("garbage")))).to.equal(TxErrorCode.MALFORMED)
    expect(codeOf(() => Transaction.decode(encode(raw.slice(0, 5))))).to.equal(TxErrorCode.MALFORMED)
    expect(codeOf(() => Transaction.decode(variant(0, "")))).to.equal(TxErrorCode.MALFORMED)
    expect(codeOf(() => Transaction.decode(variant(1, "record.delete")))).to.equal(TxErrorCode.UNKNOWN_TYPE)
    expect(codeOf(() => Transaction.decode(variant(2, new Uint8Array(31))))).to.equal(TxErrorCode.MALFORMED)
    expect(codeOf(() => Transaction.decode(variant(3, -1)))).to.equal(TxErrorCode.MALFORMED)
    expect(codeOf(() => Transaction.decode(variant(5, new Uint8Array(63))))).to.equal(TxErrorCode.MALFORMED)
    expect(codeOf(() => Transaction.decode(new Uint8Array(MAX_TX_BYTES + 1)))).to.equal(TxErrorCode.TOO_LARGE)
  })
})

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as TxError).code
  }
  return undefined
}
