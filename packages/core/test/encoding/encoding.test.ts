import {expect} from "chai"
import fc from "fast-check"
import {EncodingError, EncodingErrorCode, bytesEqual, concatBytes, decode, decodeOwn, encode, fromHex, toHex, type Encodable} from "../../src/index.js"

/** Arbitrary values of the canonical encoding's domain. */
const encodable: fc.Arbitrary<Encodable> = fc.letrec<{value: Encodable}>((tie) => ({
  value: fc.oneof(
    {depthSize: "small", withCrossShrink: true},
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.integer({min: -300, max: 70_000}),
    fc.string({unit: "binary", maxLength: 40}),
    fc.uint8Array({maxLength: 40}),
    fc.array(tie("value"), {maxLength: 5}),
    fc.dictionary(fc.string({maxLength: 8}).filter((k) => k !== "__proto__"), tie("value"), {maxKeys: 5, noNullPrototype: true}),
  ),
})).value

const expectEncodingError = (bytes: Uint8Array, code?: EncodingErrorCode, max?: number): void => {
  let error: unknown
  try {
    decode(bytes, max)
  } catch (err) {
    error = err
  }
  expect(error, `decoding ${toHex(bytes)} should fail`).to.be.instanceOf(EncodingError)
  if (code !== undefined) expect((error as EncodingError).code).to.equal(code)
}

const hex = (s: string): Uint8Array => fromHex(s.replace(/\s/g, ""))!

describe("encoding: canonical CBOR", function () {
  it("round-trips every encodable value: decode(encode(x)) = x", function () {
    fc.assert(
      fc.property(encodable, (value) => {
        expect(decode(encode(value))).to.deep.equal(value)
      }),
      {numRuns: 500},
    )
  })

  it("decodeOwn (for bytes the node encoded itself, such as its state values) gives what decode gives", function () {
    fc.assert(
      fc.property(encodable, (value) => {
        expect(decodeOwn(encode(value))).to.deep.equal(decode(encode(value)))
      }),
      {numRuns: 300},
    )
    expect(() => decodeOwn(hex("ff"))).to.throw(EncodingError)
  })

  it("encodes equal values to equal bytes whatever the key insertion order", function () {
    fc.assert(
      fc.property(fc.dictionary(fc.string({maxLength: 6}).filter((k) => k !== "__proto__"), fc.integer(), {maxKeys: 8, noNullPrototype: true}), (map) => {
        const reversed = Object.fromEntries(Object.entries(map).reverse())
        expect(toHex(encode(reversed))).to.equal(toHex(encode(map)))
      }),
    )
  })

  it("accepts only bytes that re-encode to themselves (mutated and random inputs)", function () {
    const mutated = fc.tuple(encodable, fc.nat(), fc.integer({min: 0, max: 255}), fc.constantFrom("flip", "truncate", "append", "insert")).map(([value, at, byte, how]) => {
      const bytes = encode(value).slice()
      const i = at % bytes.length
      if (how === "flip") bytes[i] = byte
      if (how === "truncate") return bytes.subarray(0, i)
      if (how === "append") return concatBytes(bytes, new Uint8Array([byte]))
      if (how === "insert") return concatBytes(bytes.subarray(0, i), new Uint8Array([byte]), bytes.subarray(i))
      return bytes
    })
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({maxLength: 24})), (bytes) => {
        let value: unknown
        try {
          value = decode(bytes)
        } catch (err) {
          expect(err).to.be.instanceOf(EncodingError)
          return
        }
        expect(toHex(encode(value as Encodable))).to.equal(toHex(bytes))
      }),
      {numRuns: 2000},
    )
  })

  it("rejects trailing bytes", function () {
    fc.assert(
      fc.property(encodable, fc.uint8Array({minLength: 1, maxLength: 4}), (value, tail) => {
        expectEncodingError(concatBytes(encode(value), tail))
      }),
    )
  })

  it("rejects non-shortest integers and lengths", function () {
    expectEncodingError(hex("18 05")) // 5 in two bytes
    expectEncodingError(hex("19 00 05")) // 5 in three bytes
    expectEncodingError(hex("1a 00 00 01 00")) // 256 in five bytes
    expectEncodingError(hex("38 00")) // -1 in two bytes
    expectEncodingError(hex("58 01 aa")) // 1-byte string with a 1-byte length
    expectEncodingError(hex("98 01 01")) // 1-element array with a 1-byte length
  })

  it("rejects unsorted and duplicate map keys, indefinite lengths and undefined", function () {
    expectEncodingError(hex("a2 61 62 01 61 61 02")) // {b: 1, a: 2}
    expectEncodingError(hex("a2 61 61 01 61 61 02")) // {a: 1, a: 2}
    expectEncodingError(hex("9f 01 ff")) // indefinite array
    expectEncodingError(hex("f7")) // undefined
    expect(decode(hex("a2 61 61 01 61 62 02"))).to.deep.equal({a: 1, b: 2})
  })

  it("rejects floats, even integral ones, and integers beyond 2^53", function () {
    expectEncodingError(hex("f9 3c 00")) // 1.0 half
    expectEncodingError(hex("fb 3f f8 00 00 00 00 00 00")) // 1.5 double
    expectEncodingError(hex("fa 7f c0 00 00")) // NaN single
    expectEncodingError(hex("1b 00 20 00 00 00 00 00 00")) // 2^53
    expect(() => encode(1.5)).to.throw(EncodingError)
    expect(() => encode(2 ** 53)).to.throw(EncodingError)
  })

  it("rejects oversize input before decoding it", function () {
    const big = encode(new Uint8Array(1000))
    expectEncodingError(big, EncodingErrorCode.TOO_LARGE, 999)
    expect(bytesEqual(decode(big, big.length) as Uint8Array, new Uint8Array(1000))).to.equal(true)
  })
})
