import {expect} from "chai"
import {PrivateKey, Purpose, toHex} from "@careledger/core"
import {auditRequestFromJson, decodeReadRequest, readRequestFromJson} from "@careledger/core"
import {encodeReadRequest, readRequestToJson, signAuditRequest, signReadRequest, auditRequestToJson} from "@careledger/client"
import {RequestVerifier} from "../../src/health/request.js"
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
  /** What the service does: the stateless checks, then (reader and record found) remembering it. */
  const use = (v: RequestVerifier, req: Parameters<RequestVerifier["checkRead"]>[0]): void => {
    v.checkRead(req)
    v.rememberRead(req)
  }

  it("accepts a fresh signed request once and refuses its replay", () => {
    const v = verifier()
    const req = signReadRequest({chainId: "test", recordId: "rec-1", custodian: "hosp-a", purpose: Purpose.Treatment, time: now}, reader)
    use(v, readRequestFromJson(JSON.parse(JSON.stringify(readRequestToJson(req)))))
    expect(code(() => use(v, req))).to.equal(RequestErrorCode.REPLAYED)
    // A new nonce is a new request.
    use(v, signReadRequest({chainId: "test", recordId: "rec-1", custodian: "hosp-a", purpose: Purpose.Treatment, time: now}, reader))
  })

  it("refuses stale, future, wrong-chain and wrongly signed requests", () => {
    const v = verifier()
    expect(code(() => use(v, signReadRequest({chainId: "test", recordId: "r", custodian: "hosp-a", purpose: Purpose.Treatment, time: now - 61_000}, reader)))).to.equal(
      RequestErrorCode.STALE,
    )
    expect(code(() => use(v, signReadRequest({chainId: "test", recordId: "r", custodian: "hosp-a", purpose: Purpose.Treatment, time: now + 61_000}, reader)))).to.equal(
      RequestErrorCode.STALE,
    )
    expect(code(() => use(v, signReadRequest({chainId: "other", recordId: "r", custodian: "hosp-a", purpose: Purpose.Treatment, time: now}, reader)))).to.equal(
      RequestErrorCode.WRONG_CHAIN,
    )
    // Signed by another key but claiming to be the reader.
    const forged = {...signReadRequest({chainId: "test", recordId: "r", custodian: "hosp-a", purpose: Purpose.Treatment, time: now}, other), reader: reader.publicKey}
    expect(code(() => use(v, forged))).to.equal(RequestErrorCode.BAD_SIGNATURE)
    // Purpose changed after signing.
    const changed = {...signReadRequest({chainId: "test", recordId: "r", custodian: "hosp-a", purpose: Purpose.Treatment, time: now}, reader), purpose: Purpose.Research}
    expect(code(() => use(v, changed))).to.equal(RequestErrorCode.BAD_SIGNATURE)
    const glass = {...signReadRequest({chainId: "test", recordId: "r", custodian: "hosp-a", purpose: Purpose.Treatment, time: now}, reader), breakGlassReason: "added"}
    expect(code(() => use(v, glass))).to.equal(RequestErrorCode.BAD_SIGNATURE)
    // Presented to another custodian than the one it names.
    const redirected = {...signReadRequest({chainId: "test", recordId: "r", custodian: "hosp-a", purpose: Purpose.Treatment, time: now}, reader), custodian: "hosp-b"}
    expect(code(() => use(v, redirected))).to.equal(RequestErrorCode.BAD_SIGNATURE)
    expect(code(() => use(v, glass))).to.equal(RequestErrorCode.BAD_SIGNATURE)
  })

  it("never forgets an unexpired request: when full it refuses new ones, per key and in total", () => {
    const sign = (key: PrivateKey) => signReadRequest({chainId: "test", recordId: "r", custodian: "hosp-a", purpose: Purpose.Treatment, time: now}, key)
    const v = new RequestVerifier({chainId: "test", freshnessMs: 60_000, maxReplayEntries: 10, maxPerSigner: 4, now: () => now})
    const captured = sign(reader)
    use(v, captured)
    for (let i = 0; i < 3; i++) use(v, sign(reader))
    expect(code(() => use(v, sign(reader)))).to.equal(RequestErrorCode.BUSY)
    // A flood from other keys fills the cache; the captured request is still refused as a replay.
    let busy = 0
    for (let i = 0; i < 25; i++) if (code(() => use(v, sign(PrivateKey.generate()))) === RequestErrorCode.BUSY) busy++
    expect(v.size).to.equal(10)
    expect(busy).to.equal(19)
    expect(code(() => use(v, captured))).to.equal(RequestErrorCode.REPLAYED)
    // Once stale, entries make room again.
    now += 120_000
    use(v, sign(reader))
    expect(v.size).to.equal(1)
  })

  it("round-trips the wire form and rejects malformed input", () => {
    const req = signReadRequest({chainId: "test", recordId: "rec-1", custodian: "hosp-a", purpose: Purpose.Research, breakGlassReason: "unconscious", time: now}, reader)
    const back = decodeReadRequest(encodeReadRequest(req))
    expect(toHex(back.signature)).to.equal(toHex(req.signature))
    expect(back.breakGlassReason).to.equal("unconscious")
    expect(back.custodian).to.equal("hosp-a")
    use(verifier(), back)
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
