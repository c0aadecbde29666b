import {expect} from "chai"
import fc from "fast-check"
import {Transaction, TxErrorCode, getJournalAnchor, parsePayload, toHex} from "../../src/index.js"
import {CHAIN_ID, TestChain, TxType, caught, hash32, keyOf} from "./fixture.js"

describe("state/audit.anchor: each hospital's journal anchor only moves forward", function () {
  it("keeps, per hospital, the last accepted anchor; an anchor is accepted exactly when its sequence is above it", async function () {
    const step = fc.record({hospital: fc.constantFrom("hosp-a", "hosp-b"), sequence: fc.integer({min: 1, max: 12})})
    await fc.assert(
      fc.asyncProperty(fc.array(step, {minLength: 1, maxLength: 10}), async (steps) => {
        const chain = new TestChain(["hosp-a", "hosp-b"])
        const model = new Map<string, number>()
        for (const [i, {hospital, sequence}] of steps.entries()) {
          const tx = await chain.sign(keyOf(hospital), TxType.AuditAnchor, {sequence, head: hash32(`${hospital}/${sequence}/${i}`)})
          const previous = model.get(hospital) ?? 0
          if (sequence > previous) {
            await chain.block([tx])
            model.set(hospital, sequence)
          } else {
            expect((await caught(chain.check(tx))).code).to.equal(TxErrorCode.CONFLICT)
            expect((await caught(chain.block([tx]))).details).to.include({txCode: TxErrorCode.CONFLICT})
          }
        }
        for (const hospital of ["hosp-a", "hosp-b"]) {
          const anchor = await getJournalAnchor(chain.state, hospital)
          expect(anchor?.sequence).to.equal(model.get(hospital))
        }
      }),
      {numRuns: 40},
    )
  })

  it("refuses a sender that is not a hospital's node key", async function () {
    const chain = new TestChain()
    const tx = await chain.sign(keyOf("stranger"), TxType.AuditAnchor, {sequence: 1, head: hash32("x")})
    expect((await caught(chain.check(tx))).code).to.equal(TxErrorCode.UNKNOWN_SENDER)
  })

  it("decodes exactly what was signed, and nothing with a head of another size or a sequence below 1", function () {
    fc.assert(
      fc.property(fc.integer({min: 1, max: Number.MAX_SAFE_INTEGER}), fc.uint8Array({minLength: 32, maxLength: 32}), (sequence, head) => {
        const tx = Transaction.sign({chainId: CHAIN_ID, type: TxType.AuditAnchor, nonce: 0, payload: {sequence, head}}, keyOf("hosp-a"))
        const decoded = Transaction.decode(tx.serialize()) as Transaction<TxType.AuditAnchor>
        expect(decoded.payload.sequence).to.equal(sequence)
        expect(toHex(decoded.payload.head)).to.equal(toHex(head))
        expect(decoded.hashHex()).to.equal(tx.hashHex())
      }),
    )
    fc.assert(
      fc.property(fc.integer({min: 0, max: 64}).filter((n) => n !== 32), (length) => {
        expect(() => parsePayload(TxType.AuditAnchor, {sequence: 1, head: new Uint8Array(length)})).to.throw(/head/)
      }),
    )
    for (const sequence of [0, -1, 1.5, "1", null]) {
      expect(() => parsePayload(TxType.AuditAnchor, {sequence, head: new Uint8Array(32)})).to.throw(/sequence/)
    }
    expect(() => parsePayload(TxType.AuditAnchor, {sequence: 1, head: new Uint8Array(32), patient: "x"})).to.throw(/unexpected/)
  })
})
