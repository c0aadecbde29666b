import {expect} from "chai"
import fc from "fast-check"
import {canonicalJson, contentHash, sha256, toHex, utf8} from "../../src/index.js"

/** Re-inserts an object's keys in reverse order, recursively. */
function reorder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorder)
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).reverse().map(([k, v]) => [k, reorder(v)]))
  }
  return value
}

describe("tx/content: what record anchors and trial transactions commit to", () => {
  it("canonical JSON is independent of key order and parses back to the same value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value)
        expect(canonicalJson(reorder(value))).to.equal(text)
        expect(canonicalJson(JSON.parse(text))).to.equal(text)
      }),
      {numRuns: 300},
    )
    expect(canonicalJson({b: [1, {d: 1, c: "x"}], a: null})).to.equal('{"a":null,"b":[1,{"c":"x","d":1}]}')
    expect(() => canonicalJson({x: Number.NaN})).to.throw(TypeError)
  })

  it("the salted hash is sha256(salt || canonical) and differs with the salt", () => {
    const resource = {resourceType: "Observation", status: "final", code: {text: "x"}}
    const salt = new Uint8Array(32).fill(1)
    expect(toHex(contentHash(salt, resource))).to.equal(toHex(sha256(salt, utf8(canonicalJson(resource)))))
    expect(toHex(contentHash(new Uint8Array(32), resource))).to.not.equal(toHex(contentHash(salt, resource)))
  })
})
