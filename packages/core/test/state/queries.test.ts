import {expect} from "chai"
import {
  AccessDecisionKind,
  getConsent,
  getHospitalByKey,
  getIdentity,
  getNextNonce,
  getRecord,
  getTrial,
  listAccessLog,
  listConsents,
  listHospitals,
} from "../../src/index.js"
import {FAR_FUTURE, GENESIS_TIME, Purpose, Role, TxType, keyOf, populated} from "./fixture.js"

describe("state/queries: read helpers for the node and RPC", function () {
  it("lists consents by patient and by grantee (person or hospital)", async function () {
    const e = await populated()
    const toPerson = await e.chain.submit(e.patient, TxType.ConsentGrant, {
      grantee: {kind: "person", key: e.providerB.publicKey}, scope: {kind: "resource-types", resourceTypes: ["Observation"]}, purposes: [Purpose.Treatment], expiresAt: FAR_FUTURE,
    })
    const toHospital = await e.chain.submit(e.otherPatient, TxType.ConsentGrant, {
      grantee: {kind: "hospital", hospital: "hosp-b"}, scope: {kind: "resource-types", resourceTypes: ["Condition"]}, purposes: [Purpose.Research], expiresAt: FAR_FUTURE,
    })
    const ids = (list: {id: string}[]) => list.map((c) => c.id)
    expect(ids(await listConsents(e.chain.state, {patient: e.patient.publicKey}))).to.deep.equal([toPerson.hashHex()])
    expect(ids(await listConsents(e.chain.state, {patient: e.otherPatient.id}))).to.deep.equal([toHospital.hashHex()])
    expect(ids(await listConsents(e.chain.state, {grantee: {kind: "person", key: e.providerB.publicKey}}))).to.deep.equal([toPerson.hashHex()])
    expect(ids(await listConsents(e.chain.state, {grantee: {kind: "hospital", hospital: "hosp-b"}}))).to.deep.equal([toHospital.hashHex()])
    expect(await getConsent(e.chain.state, toHospital.hashHex().toUpperCase())).to.deep.include({
      patient: e.otherPatient.id, grantee: {kind: "hospital", hospital: "hosp-b"}, purposes: [Purpose.Research], revoked: false,
    })
  })

  it("lists the access log newest first, by patient and by record, within the limit", async function () {
    const e = await populated()
    await e.chain.anchor(e.provider, "rec-1", e.patient)
    await e.chain.anchor(e.provider, "rec-2", e.patient)
    const order: number[] = []
    for (const recordId of ["rec-1", "rec-2", "rec-1"]) {
      await e.chain.submit(e.hospA, TxType.AccessLog, {
        recordId, reader: e.providerB.publicKey, purpose: Purpose.Treatment, decision: AccessDecisionKind.Deny, reason: "NO_CONSENT", consentId: null, ...e.chain.decidedNow(), via: "hosp-b", breakGlassReason: null,
      })
      order.push(e.chain.height)
    }
    const all = (await listAccessLog(e.chain.state, {patient: e.patient.publicKey})).entries
    expect(all.map((x) => [x.recordId, x.height])).to.deep.equal([["rec-1", order[2]], ["rec-2", order[1]], ["rec-1", order[0]]])
    expect((await listAccessLog(e.chain.state, {recordId: "rec-1"}, {limit: 1})).entries.map((x) => x.height)).to.deep.equal([order[2]])
    expect((await listAccessLog(e.chain.state, {patient: e.otherPatient.publicKey})).entries).to.deep.equal([])
  })

  it("answers identities, hospitals, nonces and unknown ids", async function () {
    const e = await populated()
    expect(await getIdentity(e.chain.state, e.lab.id)).to.include({role: Role.Lab, hospital: "hosp-a"})
    expect(await getIdentity(e.chain.state, keyOf("nobody").publicKey)).to.equal(undefined)
    expect(await getHospitalByKey(e.chain.state, e.hospB.publicKey)).to.include({id: "hosp-b", validator: true})
    expect((await listHospitals(e.chain.state)).map((h) => h.id)).to.deep.equal(["hosp-a", "hosp-b", "hosp-c", "hosp-x"])
    expect(await getNextNonce(e.chain.state, e.hospA.publicKey)).to.equal(5)
    expect(await getNextNonce(e.chain.state, keyOf("nobody").id)).to.equal(0)
    expect(await getRecord(e.chain.state, "rec-none")).to.equal(undefined)
    expect(await getTrial(e.chain.state, "NCT-none")).to.equal(undefined)
  })
})
