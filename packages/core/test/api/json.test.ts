import {expect} from "chai"
import fc from "fast-check"
import {
  ApiErrorCode,
  commitFromJson,
  commitToJson,
  hashHeader,
  headerFromJson,
  headerToJson,
  merklePathFromJson,
  merklePathToJson,
  type BlockHeader,
  type CommitCertificate,
} from "../../src/index.js"

const bytes = (n: number) => fc.uint8Array({minLength: n, maxLength: n})
const commit = fc.record({
  height: fc.nat(),
  round: fc.nat({max: 1000}),
  blockHash: bytes(32),
  signatures: fc.array(fc.record({validator: bytes(32), signature: bytes(64)}), {maxLength: 7}),
}) satisfies fc.Arbitrary<CommitCertificate>
const header = fc.record({
  chainId: fc.string({minLength: 1, maxLength: 32}),
  height: fc.nat(),
  round: fc.nat({max: 1000}),
  parentHash: bytes(32),
  timestamp: fc.nat(),
  proposer: bytes(32),
  txRoot: bytes(32),
  stateRoot: bytes(32),
  validatorsHash: bytes(32),
  lastCommit: fc.option(commit, {nil: null}),
}) satisfies fc.Arbitrary<BlockHeader>

describe("api/json: one home for the JSON of headers, commits and Merkle paths, both ways", function () {
  it("a header, its commit and a Merkle path parse back to what was converted (the header hash included)", function () {
    fc.assert(
      fc.property(header, fc.array(fc.record({side: fc.constantFrom("left" as const, "right" as const), hash: bytes(32)}), {maxLength: 20}), (h, path) => {
        const back = headerFromJson(JSON.parse(JSON.stringify(headerToJson(h))))
        expect(back).to.deep.equal(h)
        expect(hashHeader(back)).to.deep.equal(hashHeader(h))
        expect(merklePathFromJson(merklePathToJson(path))).to.deep.equal(path)
      }),
    )
  })

  it("refuses an answer whose bytes are not hex of the declared length, naming the field", function () {
    fc.assert(
      fc.property(commit, (c) => {
        const json = commitToJson(c)
        expect(commitFromJson(json)).to.deep.equal(c)
        const short = {...json, blockHash: json.blockHash.slice(2)}
        expect(() => commitFromJson(short)).to.throw(/commit\.blockHash is not 32-byte hex/).with.property("code", ApiErrorCode.BAD_JSON)
      }),
    )
    expect(() => merklePathFromJson([{side: "up" as "left", hash: "00".repeat(32)}])).to.throw().with.property("code", ApiErrorCode.BAD_JSON)
  })
})
