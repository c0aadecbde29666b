/**
 * The audit trail is evidence and consent means what the patient meant: the chain re-checks every
 * access.log against state, purposes are bound to roles, grants go only to people who can act on
 * them (a proxy the patient named, never another patient), erasure is in the trail, and the trail
 * pages to its end without a cap.
 */
import {expect} from "chai"
import {
  ACCESS_LOG_MAX_AGE_MS,
  AccessDecisionKind,
  ConsentDecisionReason,
  TxErrorCode,
  checkAccess,
  listAccessLog,
  type PayloadByType,
  type PrivateKey,
} from "../../src/index.js"
import {FAR_FUTURE, Purpose, Role, TxType, caught, populated} from "./fixture.js"

type Env = Awaited<ReturnType<typeof populated>>

describe("state: the chain checks access.log, purposes are bound to roles, grants go to who can act", function () {
  let e: Env
  let consentId: string

  beforeEach(async function () {
    e = await populated()
    await e.chain.anchor(e.provider, "rec-obs", e.patient, {resourceType: "Observation"})
    const grant = await e.chain.submit(e.patient, TxType.ConsentGrant, {
      grantee: {kind: "person", key: e.providerB.publicKey},
      scope: {kind: "resource-types", resourceTypes: ["Observation"]},
      purposes: [Purpose.Treatment],
      expiresAt: FAR_FUTURE,
    })
    consentId = grant.hashHex()
  })

  /** What an honest custodian logs for this read, decided as of the current finalized height. */
  async function honest(reader: PrivateKey, purpose = Purpose.Treatment, breakGlassReason: string | null = null): Promise<PayloadByType[TxType.AccessLog]> {
    const asOf = e.chain.decidedNow()
    const d = await checkAccess(e.chain.state, {recordId: "rec-obs", reader: reader.publicKey, purpose, ...asOf, breakGlass: breakGlassReason !== null})
    return {recordId: "rec-obs", reader: reader.publicKey, purpose, decision: d.kind, reason: d.reason, consentId: d.consentId, ...asOf, via: "hosp-b", breakGlassReason}
  }

  const refused = async (payload: PayloadByType[TxType.AccessLog]) => caught(e.chain.check(await e.chain.sign(e.hospA, TxType.AccessLog, payload)))

  it("accepts the custodian's honest entry and refuses forged ones", async function () {
    const good = await honest(e.providerB)
    await e.chain.check(await e.chain.sign(e.hospA, TxType.AccessLog, good))

    expect((await refused({...good, at: 0})).code).to.equal(TxErrorCode.CONFLICT)
    expect((await refused({...good, height: e.chain.height + 1})).code).to.equal(TxErrorCode.CONFLICT)
    expect((await refused({...good, at: e.chain.nextTimestamp - ACCESS_LOG_MAX_AGE_MS - 1})).code).to.equal(TxErrorCode.CONFLICT)
    // A release the state does not give: a reader without consent, a wrong reason, a made-up break-glass.
    expect((await refused({...good, reader: e.otherPatient.publicKey})).code).to.equal(TxErrorCode.CONFLICT)
    expect((await refused({...good, decision: AccessDecisionKind.Deny, reason: ConsentDecisionReason.NoConsent, consentId: null})).code).to.equal(TxErrorCode.CONFLICT)
    expect((await refused({...good, decision: AccessDecisionKind.BreakGlass, reason: ConsentDecisionReason.BreakGlass, consentId: null})).code).to.equal(
      TxErrorCode.CONFLICT,
    )
    // Only the custodian's node signs it.
    expect((await caught(e.chain.check(await e.chain.sign(e.hospB, TxType.AccessLog, good)))).code).to.equal(TxErrorCode.UNAUTHORIZED)
  })

  it("refuses a release citing a consent revoked before the decision, and keeps one decided before the revocation", async function () {
    const before = await honest(e.providerB)
    await e.chain.submit(e.patient, TxType.ConsentRevoke, {consentId})
    // Decided before the revocation was final: still true evidence a block later.
    await e.chain.check(await e.chain.sign(e.hospA, TxType.AccessLog, before))
    const forged = {...before, ...e.chain.decidedNow()}
    expect((await refused(forged)).details?.expected).to.deep.equal({decision: "deny", reason: "CONSENT_REVOKED", consentId})
  })

  it("break-glass only for an active provider claiming treatment, with a reason, and the reason is in the trail", async function () {
    const glass = await honest(e.provider, Purpose.Treatment, "unconscious in the emergency department")
    expect(glass).to.include({decision: AccessDecisionKind.BreakGlass})
    await e.chain.submit(e.hospA, TxType.AccessLog, glass)
    const [entry] = (await listAccessLog(e.chain.state, {patient: e.patient.publicKey})).entries
    expect(entry).to.include({decision: "break-glass", note: "unconscious in the emergency department"})
    // A researcher's break-glass is denied; logging it as released is refused.
    const researcher = await honest(e.researcher, Purpose.Treatment, "curious")
    expect(researcher).to.include({decision: AccessDecisionKind.Deny, reason: ConsentDecisionReason.BreakGlassNotPermitted})
    expect((await refused({...researcher, decision: AccessDecisionKind.BreakGlass, reason: ConsentDecisionReason.BreakGlass})).code).to.equal(TxErrorCode.CONFLICT)
    // A break-glass entry without a reason is not one the state gives.
    expect((await refused({...glass, breakGlassReason: null})).code).to.equal(TxErrorCode.CONFLICT)
  })

  it("a researcher cannot claim treatment, even through a hospital-wide treatment grant", async function () {
    await e.chain.submit(e.patient, TxType.ConsentGrant, {
      grantee: {kind: "hospital", hospital: "hosp-b"},
      scope: {kind: "resource-types", resourceTypes: ["Observation"]},
      purposes: [Purpose.Treatment],
      expiresAt: FAR_FUTURE,
    })
    const asOf = e.chain.decidedNow()
    const decision = await checkAccess(e.chain.state, {recordId: "rec-obs", reader: e.researcherB.publicKey, purpose: Purpose.Treatment, ...asOf})
    expect(decision).to.include({allowed: false, reason: ConsentDecisionReason.PurposeNotPermitted})
    const release = {...(await honest(e.researcherB)), decision: AccessDecisionKind.Release, reason: ConsentDecisionReason.ConsentOk}
    expect((await refused(release)).code).to.equal(TxErrorCode.CONFLICT)
    // Nor can a patient grant a researcher treatment.
    const grant = await e.chain.sign(e.patient, TxType.ConsentGrant, {
      grantee: {kind: "person", key: e.researcherB.publicKey},
      scope: {kind: "resource-types", resourceTypes: ["Observation"]},
      purposes: [Purpose.Treatment],
      expiresAt: FAR_FUTURE,
    })
    expect((await caught(e.chain.check(grant))).code).to.equal(TxErrorCode.BAD_PAYLOAD)
  })

  it("refuses a grant to another patient; a proxy the patient's hospital linked to them can be granted and reads", async function () {
    const toPatient = await e.chain.sign(e.patient, TxType.ConsentGrant, {
      grantee: {kind: "person", key: e.otherPatient.publicKey},
      scope: {kind: "resource-types", resourceTypes: ["Observation"]},
      purposes: [Purpose.Treatment],
      expiresAt: FAR_FUTURE,
    })
    expect((await caught(e.chain.check(toPatient))).code).to.equal(TxErrorCode.UNAUTHORIZED)

    const guardian = await e.chain.enrol("hosp-b", "guardian-1", Role.Proxy, e.patient)
    const strangersProxy = await e.chain.enrol("hosp-b", "guardian-2", Role.Proxy, e.otherPatient)
    const toProxy = (proxy: PrivateKey) =>
      e.chain.sign(e.patient, TxType.ConsentGrant, {
        grantee: {kind: "person", key: proxy.publicKey},
        scope: {kind: "records", recordIds: ["rec-obs"]},
        purposes: [Purpose.Treatment],
        expiresAt: FAR_FUTURE,
      })
    expect((await caught(e.chain.check(await toProxy(strangersProxy)))).code).to.equal(TxErrorCode.UNAUTHORIZED)
    const grant = await toProxy(guardian)
    await e.chain.block([grant])
    const decision = await checkAccess(e.chain.state, {recordId: "rec-obs", reader: guardian.publicKey, purpose: Purpose.Treatment, ...e.chain.decidedNow()})
    expect(decision).to.include({allowed: true, consentId: grant.hashHex()})
    // A proxy must name its patient, and only a proxy may.
    expect((await caught(e.chain.sign(e.hospA, TxType.IdentityRegister, {key: e.hospA.publicKey, role: Role.Proxy}))).code).to.equal(TxErrorCode.BAD_PAYLOAD)
    const notPatient = await e.chain.sign(e.hospA, TxType.IdentityRegister, {key: new Uint8Array(32).fill(7), role: Role.Proxy, patient: e.provider.publicKey})
    expect((await caught(e.chain.check(notPatient))).code).to.equal(TxErrorCode.NOT_FOUND)
  })

  it("a consent to Observations does not release a Bundle; a consent to Bundles does", async function () {
    await e.chain.anchor(e.provider, "rec-bundle", e.patient, {resourceType: "Bundle"})
    const ask = () => checkAccess(e.chain.state, {recordId: "rec-bundle", reader: e.providerB.publicKey, purpose: Purpose.Treatment, ...e.chain.decidedNow()})
    expect(await ask()).to.include({allowed: false, reason: ConsentDecisionReason.OutOfScope})
    await e.chain.submit(e.patient, TxType.ConsentGrant, {
      grantee: {kind: "person", key: e.providerB.publicKey},
      scope: {kind: "resource-types", resourceTypes: ["Bundle"]},
      purposes: [Purpose.Treatment],
      expiresAt: FAR_FUTURE,
    })
    expect(await ask()).to.include({allowed: true})
  })

  it("logs reads of an erased record, and the erasure itself is in the patient's trail", async function () {
    await e.chain.submit(e.patient, TxType.RecordErase, {recordId: "rec-obs", legalBasis: null})
    const afterErase = await honest(e.providerB)
    expect(afterErase).to.include({decision: AccessDecisionKind.Deny, reason: ConsentDecisionReason.RecordErased})
    await e.chain.submit(e.hospA, TxType.AccessLog, afterErase)
    const trail = (await listAccessLog(e.chain.state, {patient: e.patient.publicKey})).entries
    expect(trail.map((x) => [x.decision, x.reason])).to.deep.equal([
      ["deny", "RECORD_ERASED"],
      ["erase", "PATIENT_REQUEST"],
    ])
    expect(trail[1]).to.include({recordId: "rec-obs", reader: e.patient.id, purpose: null, via: "hosp-a"})
  })
})

describe("state: the trail pages to its end without a cap", function () {
  this.timeout(120_000)

  it("follows the cursor through more than 1,000 entries, each exactly once, newest first", async function () {
    const e = await populated()
    await e.chain.anchor(e.provider, "rec-obs", e.patient)
    const total = 1_205
    for (let done = 0; done < total; ) {
      const n = Math.min(400, total - done)
      const asOf = e.chain.decidedNow()
      const txs = []
      const base = await nonceOf(e)
      for (let i = 0; i < n; i++) {
        txs.push(
          await e.chain.sign(
            e.hospA,
            TxType.AccessLog,
            {recordId: "rec-obs", reader: e.providerB.publicKey, purpose: Purpose.Treatment, decision: AccessDecisionKind.Deny, reason: "NO_CONSENT", consentId: null, ...asOf, via: "hosp-b", breakGlassReason: null},
            base + i,
          ),
        )
      }
      await e.chain.block(txs)
      done += n
    }
    const seen: string[] = []
    let cursor: string | undefined
    for (let page = 0; page < 10; page++) {
      const result = await listAccessLog(e.chain.state, {patient: e.patient.publicKey}, {limit: 500, ...(cursor === undefined ? {} : {cursor})})
      seen.push(...result.entries.map((x) => x.txHash))
      if (result.next === null) break
      cursor = result.next
    }
    expect(seen).to.have.length(total)
    expect(new Set(seen).size).to.equal(total)
  })
})

async function nonceOf(e: Env): Promise<number> {
  const {getNextNonce} = await import("../../src/index.js")
  return getNextNonce(e.chain.state, e.hospA.publicKey)
}
