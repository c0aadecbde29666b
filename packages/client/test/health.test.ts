import {expect} from "chai"
import {PrivateKey, Purpose, Transaction, TxType, toHex, verifySignature} from "@careledger/core"
import {
  auditRequestSigningBytes,
  buildConsentGrant,
  buildRecordAnchor,
  buildRecordErase,
  buildTrialResult,
  contentHash,
  documentHash,
  encodeReadRequest,
  readRequestSigningBytes,
  readRequestToJson,
  signAuditRequest,
  signReadRequest,
} from "../src/health.js"

describe("client/health", () => {
  const key = PrivateKey.generate()

  it("signs read and audit requests under their own domains", () => {
    const req = signReadRequest({chainId: "c", recordId: "r-1", custodian: "hosp-a", purpose: Purpose.Research, breakGlassReason: "unconscious"}, key)
    expect(verifySignature(key.publicKey, readRequestSigningBytes(req), req.signature)).to.equal(true)
    expect(verifySignature(key.publicKey, readRequestSigningBytes({...req, purpose: Purpose.Treatment}), req.signature)).to.equal(false)
    expect(readRequestToJson(req)).to.include({chainId: "c", recordId: "r-1", purpose: "research", custodian: "hosp-a", breakGlassReason: "unconscious", reader: key.id})
    expect(toHex(encodeReadRequest(req))).to.equal(toHex(encodeReadRequest({...req})))
    const audit = signAuditRequest({chainId: "c"}, key)
    expect(verifySignature(key.publicKey, auditRequestSigningBytes(audit), audit.signature)).to.equal(true)
    // A read-request signature is never a valid audit-request signature, and the reverse.
    expect(verifySignature(key.publicKey, auditRequestSigningBytes(audit), req.signature)).to.equal(false)
  })

  it("builds transactions that decode to the payloads the node checks", () => {
    const resource = {resourceType: "Condition", code: {text: "x"}, subject: {reference: "Patient/p"}}
    const anchor = buildRecordAnchor({chainId: "c", nonce: 3, recordId: "cond-1", patient: key.publicKey, custodian: "hosp-a", resource}, key)
    const decoded = Transaction.decode(anchor.tx.serialize()) as Transaction<TxType.RecordAnchor>
    expect(decoded.type).to.equal(TxType.RecordAnchor)
    expect(decoded.payload).to.deep.include({recordId: "cond-1", resourceType: "Condition", custodian: "hosp-a", version: 1, previous: null})
    expect(toHex(decoded.payload.contentHash)).to.equal(toHex(contentHash(anchor.salt, resource)))
    expect(decoded.verifySignature()).to.equal(true)

    const grant = buildConsentGrant(
      {chainId: "c", nonce: 0, grantee: {kind: "hospital", hospital: "hosp-b"}, scope: {kind: "records", recordIds: ["cond-1"]}, purposes: [Purpose.Research], expiresAt: 1e13},
      key,
    )
    expect(Transaction.decode(grant.serialize()).payload).to.deep.include({purposes: ["research"], expiresAt: 1e13})
    expect(Transaction.decode(buildRecordErase({chainId: "c", nonce: 1, recordId: "cond-1"}, key).serialize()).payload).to.deep.equal({
      recordId: "cond-1",
      legalBasis: null,
    })
    const result = Transaction.decode(buildTrialResult({chainId: "c", nonce: 2, trialId: "T", results: "r"}, key).serialize()) as Transaction<TxType.TrialResult>
    expect(toHex(result.payload.resultsHash)).to.equal(toHex(documentHash("r")))
    expect(result.payload.datasetHash).to.equal(null)
  })
})
