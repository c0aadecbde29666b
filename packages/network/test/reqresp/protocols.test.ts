import {expect} from "chai"
import fc from "fast-check"
import {
  NetworkError,
  NetworkErrorCode,
  decodeBlockChunk,
  decodeBlockRangeRequest,
  decodeStatus,
  encodeBlockChunk,
  encodeBlockRangeRequest,
  encodeStatus,
  protocolId,
} from "../../src/index.js"

const hash = fc.uint8Array({minLength: 32, maxLength: 32})
const height = fc.integer({min: 0, max: Number.MAX_SAFE_INTEGER})

describe("request/response codecs", () => {
  it("names protocols per chain id", () => {
    expect(protocolId("c", "blocks")).to.equal("/careledger/c/blocks/1")
  })

  it("round-trips statuses", () => {
    fc.assert(
      fc.property(height, height, hash, hash, (a, b, headHash, finalizedHash) => {
        const status = {headHeight: Math.max(a, b), headHash, finalizedHeight: Math.min(a, b), finalizedHash}
        expect(decodeStatus(encodeStatus(status))).to.deep.equal(status)
      }),
    )
  })

  it("round-trips block range requests and chunks, and bounds the count", () => {
    expect(decodeBlockRangeRequest(encodeBlockRangeRequest({from: 5, count: 64}), 64)).to.deep.equal({from: 5, count: 64})
    for (const bad of [{from: 0, count: 1}, {from: 1, count: 0}, {from: 1, count: 65}]) {
      expect(() => decodeBlockRangeRequest(encodeBlockRangeRequest(bad), 64)).to.throw(NetworkError).with.property("code", NetworkErrorCode.MALFORMED)
    }
    const chunk = {block: new Uint8Array([1, 2, 3]), commit: new Uint8Array([4])}
    expect(decodeBlockChunk(encodeBlockChunk(chunk))).to.deep.equal(chunk)
  })

  it("answers arbitrary bytes with NetworkError only", () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 256}), (bytes) => {
        for (const decode of [decodeStatus, (b: Uint8Array) => decodeBlockRangeRequest(b, 64), decodeBlockChunk]) {
          try {
            decode(bytes)
          } catch (err) {
            if (!(err instanceof NetworkError)) return false
          }
        }
        return true
      }),
      {numRuns: 500},
    )
  })
})
