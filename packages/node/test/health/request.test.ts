import {expect} from "chai"
import {PrivateKey, Purpose, toHex} from "@careledger/core"
import {encodeReadRequest, readRequestToJson, signAuditRequest, signReadRequest, auditRequestToJson} from "@careledger/client"
import {RequestVerifier, auditRequestFromJson, decodeReadRequest, readRequestFromJson} from "../../src/health/request.js"
import {RequestError, RequestErrorCode} from "../../src/health/errors.js"

function code(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).to.be.instanceOf(RequestError)
    return (err as RequestError).code
  }
  return "none"
}

describe("health/request", () => {
  const reader = PrivateKey.generate()
  const other = PrivateKey.generate()
  let now = 1_800_000_000_000
  const verifier = (): RequestVerifier => new RequestVerifier({chainId: "test", freshnessMs: 60_000, now: () => now})

  it("accepts a fresh signed request once and refuses its replay", () => {
    const v = verifier()
    const req = signReadRequest({chainId: "test", recordId: "rec-1", purpose: Purpose.Treatment, time: now}, reader)
    v.verifyRead(readRequestFromJson(JSON.parse(JSON.stringify(readRequestToJson(req)))))
    expect(code(() => v.verifyRead(req))).to.equal(RequestErrorCode.REPLAYED)
    // A new nonce is a new request.
    v.verifyRead(signReadRequest({chainId: "test", recordId: "rec-1", purpose: Purpose.Treatment, time: now}, reader))
  })

  it("refuses stale, future, wrong-chain and wrongly signed requests", () => {
    const v = verifier()
    expect(code(() => v.verifyRead(signReadRequest({chainId: "test", recordId: "r", purpose: Purpose.Treatment, time: now - 61_000}, reader)))).to.equal(
      RequestErrorCode.STALE,
    )
    expect(code(() => v.verifyRead(signReadRequest({chainId: "test", recordId: "r", purpose: Purpose.Treatment, time: now + 61_000}, reader)))).to.equal(
      RequestErrorCode.STALE,
    )
    expect(code(() => v.verifyRead(signReadRequest({chainId: "other", recordId: "r", purpose: Purpose.Treatment, time: now}, reader)))).to.equal(
      RequestErrorCode.WRONG_CHAIN,
    )
    // Signed by another key but claiming to be the reader.
    const forged = {...signReadRequest({chainId: "test", recordId: "r", purpose: Purpose.Treatment, time: now}, other), reader: reader.publicKey}
    expect(code(() => v.verifyRead(forged))).to.equal(RequestErrorCode.BAD_SIGNATURE)
    // Purpose changed after signing.
    const changed = {...signReadRequest({chainId: "test", recordId: "r", purpose: Purpose.Treatment, time: now}, reader), purpose: Purpose.Research}
    expect(code(() => v.verifyRead(changed))).to.equal(RequestErrorCode.BAD_SIGNATURE)
    const glass = {...signReadRequest({chainId: "test", recordId: "r", purpose: Purpose.Treatment, time: now}, reader), breakGlass: true}
    expect(code(() => v.verifyRead(glass))).to.equal(RequestErrorCode.BAD_SIGNATURE)
  })

  it("forgets requests once they are stale anyway, and stays bounded", () => {
    const v = new RequestVerifier({chainId: "test", freshnessMs: 60_000, maxReplayEntries: 10, now: () => now})
    for (let i = 0; i < 25; i++) v.verifyRead(signReadRequest({chainId: "test", recordId: "r", purpose: Purpose.Treatment, time: now}, reader))
    expect(v.size).to.equal(10)
    now += 120_000
    v.verifyRead(signReadRequest({chainId: "test", recordId: "r", purpose: Purpose.Treatment, time: now}, reader))
    expect(v.size).to.equal(1)
  })

  it("round-trips the wire form and rejects malformed input", () => {
    const req = signReadRequest({chainId: "test", recordId: "rec-1", purpose: Purpose.Research, breakGlass: true, time: now}, reader)
    const back = decodeReadRequest(encodeReadRequest(req))
    expect(toHex(back.signature)).to.equal(toHex(req.signature))
    expect(back.breakGlass).to.equal(true)
    verifier().verifyRead(back)
    expect(code(() => decodeReadRequest(new Uint8Array([1, 2, 3])))).to.equal(RequestErrorCode.MALFORMED)
    expect(code(() => readRequestFromJson({...readRequestToJson(req), purpose: "curiosity"}))).to.equal(RequestErrorCode.MALFORMED)
    expect(code(() => readRequestFromJson({...readRequestToJson(req), recordId: "../../etc"}))).to.equal(RequestErrorCode.MALFORMED)
    expect(code(() => readRequestFromJson({...readRequestToJson(req), signature: "zz"}))).to.equal(RequestErrorCode.MALFORMED)
  })

  it("verifies a patient's audit request", () => {
    const v = verifier()
    const req = auditRequestFromJson(auditRequestToJson(signAuditRequest({chainId: "test", time: now}, reader)))
    v.verifyAudit(req)
    expect(code(() => v.verifyAudit(req))).to.equal(RequestErrorCode.REPLAYED)
    const forged = {...signAuditRequest({chainId: "test", time: now}, other), patient: reader.publicKey}
    expect(code(() => v.verifyAudit(forged))).to.equal(RequestErrorCode.BAD_SIGNATURE)
  })
})
