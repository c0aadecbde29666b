import {expect} from "chai"
import {
  AccessDecisionKind,
  ConsentDecisionReason,
  checkAccess,
  decideAccess,
  type AccessInput,
  type ConsentRecord,
  type IdentityRecord,
  type RecordAnchor,
} from "../../src/index.js"
import {FAR_FUTURE, GENESIS_TIME, Purpose, Role, TxType, hash32, keyOf, populated} from "./fixture.js"

const T = GENESIS_TIME + 100_000

describe("state/access: consent decisions on finalized state", function () {
  let e: Awaited<ReturnType<typeof populated>>

  beforeEach(async function () {
    e = await populated()
    await e.chain.anchor(e.provider, "rec-obs", e.patient, {resourceType: "Observation"})
    await e.chain.anchor(e.provider, "rec-cond", e.patient, {resourceType: "Condition"})
  })

  const ask = (reader: {publicKey: Uint8Array}, recordId: string, purpose = Purpose.Treatment, breakGlass = false, at = T) =>
    checkAccess(e.chain.state, {recordId, reader: reader.publicKey, purpose, height: e.chain.height, at, breakGlass})

  async function grant(payload: Partial<{grantee: unknown; scope: unknown; purposes: Purpose[]; expiresAt: number}> = {}): Promise<string> {
    const tx = await e.chain.submit(e.patient, TxType.ConsentGrant, {
      grantee: {kind: "person", key: e.providerB.publicKey},
      scope: {kind: "resource-types", resourceTypes: ["Observation"]},
      purposes: [Purpose.Treatment],
      expiresAt: FAR_FUTURE,
      ...payload,
    } as never)
    return tx.hashHex()
  }

  it("denies without consent, and lets the patient read their own record", async function () {
    expect(await ask(e.providerB, "rec-obs")).to.deep.equal({allowed: false, kind: AccessDecisionKind.Deny, reason: ConsentDecisionReason.NoConsent, consentId: null})
    expect(await ask(e.patient, "rec-obs")).to.include({allowed: true, reason: ConsentDecisionReason.SelfAccess})
    expect(await ask(e.otherPatient, "rec-obs")).to.include({allowed: false, reason: ConsentDecisionReason.NoConsent})
  })

  it("releases to the person a grant names, and to nobody else", async function () {
    const id = await grant()
    expect(await ask(e.providerB, "rec-obs")).to.deep.equal({allowed: true, kind: AccessDecisionKind.Release, reason: ConsentDecisionReason.ConsentOk, consentId: id})
    expect(await ask(e.researcherB, "rec-obs", Purpose.Research)).to.include({allowed: false, reason: ConsentDecisionReason.NoConsent})
  })

  it("a grant to a whole hospital covers its active providers, labs and researchers", async function () {
    const id = await grant({grantee: {kind: "hospital", hospital: "hosp-b"}, purposes: [Purpose.Treatment, Purpose.Research]})
    expect(await ask(e.providerB, "rec-obs")).to.include({allowed: true, consentId: id})
    expect(await ask(e.researcherB, "rec-obs", Purpose.Research)).to.include({allowed: true, consentId: id})
    expect(await ask(e.provider, "rec-obs")).to.include({allowed: false, reason: ConsentDecisionReason.NoConsent})
    await e.chain.submit(e.hospB, TxType.IdentityRevoke, {key: e.researcherB.publicKey})
    expect(await ask(e.researcherB, "rec-obs", Purpose.Research)).to.include({allowed: false, reason: ConsentDecisionReason.ReaderRevoked})
  })

  it("scopes by resource type", async function () {
    await grant({scope: {kind: "resource-types", resourceTypes: ["Condition"]}})
    expect(await ask(e.providerB, "rec-cond")).to.include({allowed: true})
    expect(await ask(e.providerB, "rec-obs")).to.include({allowed: false, reason: ConsentDecisionReason.OutOfScope})
  })

  it("scopes by record id", async function () {
    const id = await grant({scope: {kind: "records", recordIds: ["rec-cond"]}})
    expect(await ask(e.providerB, "rec-cond")).to.include({allowed: true, consentId: id})
    expect(await ask(e.providerB, "rec-obs")).to.include({allowed: false, reason: ConsentDecisionReason.OutOfScope})
  })

  it("denies a purpose the grant does not name", async function () {
    await grant({purposes: [Purpose.Operations]})
    expect(await ask(e.providerB, "rec-obs", Purpose.Treatment)).to.include({allowed: false, reason: ConsentDecisionReason.PurposeMismatch})
    expect(await ask(e.providerB, "rec-obs", Purpose.Operations)).to.include({allowed: true})
  })

  it("denies after expiry", async function () {
    const expiresAt = T + 60_000
    const id = await grant({expiresAt})
    expect(await ask(e.providerB, "rec-obs", Purpose.Treatment, false, expiresAt)).to.include({allowed: true})
    expect(await ask(e.providerB, "rec-obs", Purpose.Treatment, false, expiresAt + 1)).to.deep.equal({
      allowed: false,
      kind: AccessDecisionKind.Deny,
      reason: ConsentDecisionReason.ConsentExpired,
      consentId: id,
    })
  })

  it("denies after revocation; a later grant releases again", async function () {
    const id = await grant()
    await e.chain.submit(e.patient, TxType.ConsentRevoke, {consentId: id})
    expect(await ask(e.providerB, "rec-obs")).to.include({allowed: false, reason: ConsentDecisionReason.ConsentRevoked, consentId: id})
    const again = await grant()
    expect(await ask(e.providerB, "rec-obs")).to.include({allowed: true, consentId: again})
  })

  it("denies reads of an erased record, even with consent, and of unknown records and readers", async function () {
    await grant()
    await e.chain.submit(e.patient, TxType.RecordErase, {recordId: "rec-obs", legalBasis: null})
    expect(await ask(e.providerB, "rec-obs")).to.include({allowed: false, reason: ConsentDecisionReason.RecordErased})
    expect(await ask(e.patient, "rec-obs")).to.include({allowed: false, reason: ConsentDecisionReason.RecordErased})
    expect(await ask(e.providerB, "rec-none")).to.include({allowed: false, reason: ConsentDecisionReason.RecordUnknown})
    expect(await ask(keyOf("stranger"), "rec-cond")).to.include({allowed: false, reason: ConsentDecisionReason.ReaderUnknown})
  })

  it("break-glass releases to an active provider for treatment, flagged, and to no one else", async function () {
    expect(await ask(e.providerB, "rec-obs", Purpose.Treatment, true)).to.deep.equal({
      allowed: true,
      kind: AccessDecisionKind.BreakGlass,
      reason: ConsentDecisionReason.BreakGlass,
      consentId: null,
    })
    expect(await ask(e.providerB, "rec-obs", Purpose.Research, true)).to.include({allowed: false, reason: ConsentDecisionReason.BreakGlassNotPermitted})
    expect(await ask(e.researcherB, "rec-obs", Purpose.Treatment, true)).to.include({allowed: false, reason: ConsentDecisionReason.BreakGlassNotPermitted})
    await e.chain.submit(e.hospB, TxType.IdentityRevoke, {key: e.providerB.publicKey})
    expect(await ask(e.providerB, "rec-obs", Purpose.Treatment, true)).to.include({allowed: false, reason: ConsentDecisionReason.ReaderRevoked})
  })

  it("an access-log entry records the decision for the patient's audit trail", async function () {
    const id = await grant()
    const decision = await ask(e.providerB, "rec-obs")
    await e.chain.submit(e.hospA, TxType.AccessLog, {
      recordId: "rec-obs",
      reader: e.providerB.publicKey,
      purpose: Purpose.Treatment,
      decision: decision.kind,
      reason: decision.reason,
      consentId: decision.consentId,
      ...e.chain.decidedNow(),
      via: "hosp-b",
      breakGlassReason: null,
    })
    const {listAccessLog} = await import("../../src/index.js")
    const byPatient = (await listAccessLog(e.chain.state, {patient: e.patient.publicKey}, {limit: 10})).entries
    expect(byPatient).to.have.length(1)
    expect(byPatient[0]).to.include({recordId: "rec-obs", reader: e.providerB.id, reason: "CONSENT_OK", consentId: id, via: "hosp-b"})
    expect((await listAccessLog(e.chain.state, {recordId: "rec-obs"}, {limit: 10})).entries).to.deep.equal(byPatient)
  })
})

describe("state/access: decideAccess is pure", function () {
  const record: RecordAnchor = {
    recordId: "r1", patient: "aa".repeat(32), resourceType: "Observation", custodian: "hosp-a", version: 1,
    contentHash: Buffer.from(hash32("x")).toString("hex"), createdAt: 1, updatedAt: 1, erased: false, erasedAt: null,
  }
  const reader: IdentityRecord = {id: "bb".repeat(32), role: Role.Provider, hospital: "hosp-b", patient: null, revoked: false, registeredAt: 1, revokedAt: null}
  const consent = (over: Partial<ConsentRecord>): ConsentRecord => ({
    id: "01".repeat(32), patient: record.patient, grantee: {kind: "hospital", hospital: "hosp-b"},
    scope: {kind: "resource-types", resourceTypes: ["Observation"]}, purposes: [Purpose.Treatment],
    expiresAt: 1000, grantedAt: 1, revoked: false, revokedAt: null, ...over,
  })
  const input = (over: Partial<AccessInput>): AccessInput => ({
    record, reader: reader.id, readerIdentity: reader, consents: [], purpose: Purpose.Treatment, height: 10, at: 500, breakGlass: false, ...over,
  })

  it("ignores consents of other patients and prefers a valid one over a revoked one", function () {
    expect(decideAccess(input({consents: [consent({patient: "cc".repeat(32)})]}))).to.include({reason: ConsentDecisionReason.NoConsent})
    const revoked = consent({id: "00".repeat(32), revoked: true})
    const valid = consent({id: "ff".repeat(32)})
    expect(decideAccess(input({consents: [revoked, valid]}))).to.include({allowed: true, consentId: valid.id})
  })

  it("gives the same answer for the same input, whatever the consent order", function () {
    const a = consent({id: "0a".repeat(32)})
    const b = consent({id: "0b".repeat(32)})
    expect(decideAccess(input({consents: [a, b]}))).to.deep.equal(decideAccess(input({consents: [b, a]})))
  })

  it("does not extend a hospital grant to a patient enrolled there", function () {
    const patientReader: IdentityRecord = {...reader, role: Role.Patient}
    expect(decideAccess(input({readerIdentity: patientReader, consents: [consent({})]}))).to.include({allowed: false, reason: ConsentDecisionReason.NoConsent})
  })
})
