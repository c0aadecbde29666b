import {expect} from "chai"
import fc from "fast-check"
import {privateKeyFromProtobuf, privateKeyToProtobuf, generateKeyPairFromSeed} from "@libp2p/crypto/keys"
import {peerIdFromPrivateKey} from "@libp2p/peer-id"
import {KeyError, KeyErrorCode, PrivateKey, accountId, bytesEqual, publicKeyFromAccountId, sha256, utf8, verifySignature} from "../../src/index.js"

describe("crypto: Ed25519 keys", function () {
  it("reads and writes libp2p's protobuf private key encoding, with the same peer ID", async function () {
    const seed = sha256(utf8("keys-test"))
    const ours = PrivateKey.fromSeed(seed)
    const theirs = await generateKeyPairFromSeed("Ed25519", seed)
    expect(bytesEqual(privateKeyToProtobuf(theirs), ours.toLibp2pProtobuf())).to.equal(true)
    const back = privateKeyFromProtobuf(ours.toLibp2pProtobuf())
    expect(bytesEqual(back.publicKey.raw, ours.publicKey)).to.equal(true)
    expect(ours.peerId).to.equal(peerIdFromPrivateKey(back).toString())
    expect(PrivateKey.fromLibp2pProtobuf(privateKeyToProtobuf(theirs)).id).to.equal(ours.id)
  })

  it("refuses key files that are not Ed25519 or whose public half does not match", function () {
    const bytes = PrivateKey.fromSeed(new Uint8Array(32)).toLibp2pProtobuf().slice()
    bytes[1] = 0x02
    expect(() => PrivateKey.fromLibp2pProtobuf(bytes)).to.throw(KeyError)
    const mismatched = PrivateKey.fromSeed(new Uint8Array(32)).toLibp2pProtobuf().slice()
    mismatched[mismatched.length - 1]! ^= 1
    try {
      PrivateKey.fromLibp2pProtobuf(mismatched)
      expect.fail("accepted a mismatched key")
    } catch (err) {
      expect((err as KeyError).code).to.equal(KeyErrorCode.MISMATCH)
    }
    expect(() => PrivateKey.fromSeed(new Uint8Array(31))).to.throw(KeyError)
  })

  it("verifies its own signatures and no one else's", function () {
    const alice = PrivateKey.fromSeed(sha256(utf8("alice")))
    const bob = PrivateKey.fromSeed(sha256(utf8("bob")))
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 200}), (message) => {
        const signature = alice.sign(message)
        expect(verifySignature(alice.publicKey, message, signature)).to.equal(true)
        expect(verifySignature(bob.publicKey, message, signature)).to.equal(false)
        const altered = concat(message, 1)
        expect(verifySignature(alice.publicKey, altered, signature)).to.equal(false)
        const badSig = signature.slice()
        badSig[0]! ^= 0x80
        expect(verifySignature(alice.publicKey, message, badSig)).to.equal(false)
      }),
      {numRuns: 100},
    )
    expect(verifySignature(new Uint8Array(5), new Uint8Array(0), new Uint8Array(64))).to.equal(false)
  })

  it("names accounts by hex public key and parses them back", function () {
    const key = PrivateKey.generate()
    expect(accountId(key.publicKey)).to.equal(key.id).and.to.match(/^[0-9a-f]{64}$/)
    expect(bytesEqual(publicKeyFromAccountId(key.id)!, key.publicKey)).to.equal(true)
    expect(publicKeyFromAccountId("abcd")).to.equal(undefined)
  })
})

function concat(bytes: Uint8Array, extra: number): Uint8Array {
  const out = new Uint8Array(bytes.length + 1)
  out.set(bytes)
  out[bytes.length] = extra
  return out
}
