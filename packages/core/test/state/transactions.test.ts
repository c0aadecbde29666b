import {expect} from "chai"
import {
  BlockErrorCode,
  Transaction,
  TxErrorCode,
  encode,
  getConsent,
  getIdentity,
  getJournalAnchor,
  getRecord,
  getTrial,
  getNextNonce,
  validateTx,
  type PayloadByType,
  type PrivateKey,
} from "../../src/index.js"
import {CHAIN_ID, FAR_FUTURE, Purpose, Role, TestChain, TxType, caught, hash32, keyOf, populated} from "./fixture.js"

type Env = Awaited<ReturnType<typeof populated>> & {consentId: string}

/** One transaction type: a valid instance and the ways it can be invalid. */
interface TypeCase<T extends TxType = TxType> {
  type: T
  valid: (e: Env) => {signer: PrivateKey; payload: PayloadByType[T]}
  /** What a user sees in state after the valid one is committed. */
  effect: (e: Env) => Promise<void>
  unauthorised: {name: string; build: (e: Env) => {signer: PrivateKey; payload: PayloadByType[T]}; code?: TxErrorCode}[]
  oversize: (e: Env) => Record<string, unknown>
  malformed: (e: Env) => Record<string, unknown>
}

const longId = "r".repeat(65)

const CASES: TypeCase[] = [
  {
    type: TxType.IdentityRegister,
    valid: (e) => ({signer: e.hospA, payload: {key: keyOf("new-nurse").publicKey, role: Role.Provider}}),
    effect: async (e) => {
      const identity = await getIdentity(e.chain.state, keyOf("new-nurse").publicKey)
      expect(identity).to.include({role: Role.Provider, hospital: "hosp-a", revoked: false})
    },
    unauthorised: [
      {name: "a provider enrols", build: (e) => ({signer: e.provider, payload: {key: keyOf("x").publicKey, role: Role.Patient}})},
      {name: "the key is already enrolled", build: (e) => ({signer: e.hospB, payload: {key: e.patient.publicKey, role: Role.Patient}}), code: TxErrorCode.CONFLICT},
      {name: "the key is a hospital's", build: (e) => ({signer: e.hospA, payload: {key: e.hospB.publicKey, role: Role.Provider}}), code: TxErrorCode.CONFLICT},
    ],
    oversize: () => ({key: new Uint8Array(33), role: "provider"}),
    malformed: () => ({key: keyOf("y").publicKey, role: "surgeon"}),
  },
  {
    type: TxType.IdentityRevoke,
    valid: (e) => ({signer: e.hospA, payload: {key: e.lab.publicKey}}),
    effect: async (e) => {
      expect(await getIdentity(e.chain.state, e.lab.publicKey)).to.include({revoked: true})
    },
    unauthorised: [
      {name: "another hospital revokes", build: (e) => ({signer: e.hospB, payload: {key: e.lab.publicKey}})},
      {name: "a patient revokes", build: (e) => ({signer: e.patient, payload: {key: e.lab.publicKey}})},
      {name: "the key is not enrolled", build: (e) => ({signer: e.hospA, payload: {key: keyOf("nobody").publicKey}}), code: TxErrorCode.NOT_FOUND},
    ],
    oversize: () => ({key: new Uint8Array(40)}),
    malformed: (e) => ({key: e.lab.publicKey, reason: "left"}),
  },
  {
    type: TxType.RecordAnchor,
    valid: (e) => ({signer: e.lab, payload: anchorPayload(e, "rec-2", 1, null)}),
    effect: async (e) => {
      const record = await getRecord(e.chain.state, "rec-2")
      expect(record).to.include({version: 1, custodian: "hosp-a", resourceType: "Observation", erased: false})
      expect(record!.versions.map((v) => v.version)).to.deep.equal([1])
    },
    unauthorised: [
      {name: "a provider of another hospital anchors", build: (e) => ({signer: e.providerB, payload: anchorPayload(e, "rec-2", 1, null)})},
      {name: "a researcher anchors", build: (e) => ({signer: e.researcher, payload: anchorPayload(e, "rec-2", 1, null)})},
      {name: "the patient anchors", build: (e) => ({signer: e.patient, payload: anchorPayload(e, "rec-2", 1, null)})},
      {name: "the patient is not enrolled", build: (e) => ({signer: e.provider, payload: {...anchorPayload(e, "rec-2", 1, null), patient: keyOf("stranger").publicKey}}), code: TxErrorCode.NOT_FOUND},
      {name: "version 3 skips version 2", build: (e) => ({signer: e.provider, payload: anchorPayload(e, "rec-1", 3, hash32("rec-1/v1"))}), code: TxErrorCode.CONFLICT},
      {name: "previous is not version 1's hash", build: (e) => ({signer: e.provider, payload: anchorPayload(e, "rec-1", 2, hash32("other"))}), code: TxErrorCode.CONFLICT},
      {name: "version 1 of an existing record", build: (e) => ({signer: e.provider, payload: anchorPayload(e, "rec-1", 1, null)}), code: TxErrorCode.CONFLICT},
      {name: "another patient's record id", build: (e) => ({signer: e.provider, payload: {...anchorPayload(e, "rec-1", 2, hash32("rec-1/v1")), patient: e.otherPatient.publicKey}}), code: TxErrorCode.CONFLICT},
    ],
    oversize: (e) => ({...anchorPayload(e, longId, 1, null)}),
    malformed: (e) => ({...anchorPayload(e, "rec-2", 1, null), resourceType: "MedicalSecret"}),
  },
  {
    type: TxType.ConsentGrant,
    valid: (e) => ({signer: e.patient, payload: grantPayload()}),
    effect: async (e) => {
      const consents = await e.chain.state.keys("cons-p/", 10)
      expect(consents).to.have.length(2)
    },
    unauthorised: [
      {name: "a provider grants", build: (e) => ({signer: e.provider, payload: grantPayload()})},
      {name: "the scope names another patient's record", build: (e) => ({signer: e.otherPatient, payload: {...grantPayload(), scope: {kind: "records", recordIds: ["rec-1"]}}})},
      {name: "the grantee hospital does not exist", build: (e) => ({signer: e.patient, payload: {...grantPayload(), grantee: {kind: "hospital", hospital: "hosp-z"}}}), code: TxErrorCode.NOT_FOUND},
      {name: "it is already expired", build: (e) => ({signer: e.patient, payload: {...grantPayload(), expiresAt: 1}}), code: TxErrorCode.BAD_PAYLOAD},
    ],
    oversize: () => ({...grantPayload(), scope: {kind: "resource-types", resourceTypes: Array.from({length: 33}, () => "Observation")}}),
    malformed: () => ({...grantPayload(), purposes: ["curiosity"]}),
  },
  {
    type: TxType.ConsentRevoke,
    valid: (e) => ({signer: e.patient, payload: {consentId: e.consentId}}),
    effect: async (e) => {
      expect(await getConsent(e.chain.state, e.consentId)).to.include({revoked: true})
    },
    unauthorised: [
      {name: "another patient revokes it", build: (e) => ({signer: e.otherPatient, payload: {consentId: e.consentId}})},
      {name: "the grantee revokes it", build: (e) => ({signer: e.providerB, payload: {consentId: e.consentId}})},
      {name: "it does not exist", build: (e) => ({signer: e.patient, payload: {consentId: "0".repeat(64)}}), code: TxErrorCode.NOT_FOUND},
    ],
    oversize: () => ({consentId: "a".repeat(65)}),
    malformed: () => ({consentId: "not-a-hash"}),
  },
  {
    type: TxType.AccessLog,
    valid: (e) => ({signer: e.hospA, payload: logPayload(e)}),
    effect: async (e) => {
      const keys = await e.chain.state.keys("log-r/rec-1/", 10)
      expect(keys).to.have.length(1)
    },
    unauthorised: [
      {name: "another hospital logs", build: (e) => ({signer: e.hospB, payload: logPayload(e)})},
      {name: "a provider logs", build: (e) => ({signer: e.provider, payload: logPayload(e)})},
      {name: "the record does not exist", build: (e) => ({signer: e.hospA, payload: {...logPayload(e), recordId: "rec-none"}}), code: TxErrorCode.NOT_FOUND},
    ],
    oversize: (e) => ({...logPayload(e), reason: "X".repeat(65)}),
    malformed: (e) => ({...logPayload(e), decision: "maybe"}),
  },
  {
    type: TxType.RecordErase,
    valid: (e) => ({signer: e.patient, payload: {recordId: "rec-1", legalBasis: null}}),
    effect: async (e) => {
      const record = await getRecord(e.chain.state, "rec-1")
      expect(record).to.include({erased: true})
      expect(record!.erasure).to.include({erasedBy: e.patient.id, legalBasis: null})
    },
    unauthorised: [
      {name: "the custodian without a legal basis", build: () => ({signer: keyOf("hosp-a"), payload: {recordId: "rec-1", legalBasis: null}})},
      {name: "another patient", build: (e) => ({signer: e.otherPatient, payload: {recordId: "rec-1", legalBasis: null}})},
      {name: "the anchoring provider", build: (e) => ({signer: e.provider, payload: {recordId: "rec-1", legalBasis: "GDPR Art. 17"}})},
      {name: "another hospital with a legal basis", build: (e) => ({signer: e.hospB, payload: {recordId: "rec-1", legalBasis: "GDPR Art. 17"}})},
    ],
    oversize: () => ({recordId: "rec-1", legalBasis: "x".repeat(513)}),
    malformed: () => ({recordId: "rec-1"}),
  },
  {
    type: TxType.TrialRegister,
    valid: (e) => ({signer: e.researcherB, payload: {trialId: "NCT-2", protocolHash: hash32("protocol-2")}}),
    effect: async (e) => {
      expect(await getTrial(e.chain.state, "NCT-2")).to.include({registrant: e.researcherB.id, hospital: "hosp-b", protocolVersions: 1})
    },
    unauthorised: [
      {name: "a provider registers", build: (e) => ({signer: e.provider, payload: {trialId: "NCT-2", protocolHash: hash32("p")}})},
      {name: "the trial id is taken", build: (e) => ({signer: e.researcherB, payload: {trialId: "NCT-1", protocolHash: hash32("p")}}), code: TxErrorCode.CONFLICT},
    ],
    oversize: () => ({trialId: "NCT-2", protocolHash: new Uint8Array(33)}),
    malformed: () => ({trialId: "NCT-2", protocolHash: new Uint8Array(31)}),
  },
  {
    type: TxType.TrialAmend,
    valid: (e) => ({signer: e.researcher, payload: {trialId: "NCT-1", protocolHash: hash32("protocol-1b")}}),
    effect: async (e) => {
      const trial = await getTrial(e.chain.state, "NCT-1")
      expect(trial!.protocols.map((p) => p.version)).to.deep.equal([1, 2])
    },
    unauthorised: [
      {name: "another researcher amends", build: (e) => ({signer: e.researcherB, payload: {trialId: "NCT-1", protocolHash: hash32("p")}})},
      {name: "the trial does not exist", build: (e) => ({signer: e.researcher, payload: {trialId: "NCT-9", protocolHash: hash32("p")}}), code: TxErrorCode.NOT_FOUND},
    ],
    oversize: () => ({trialId: longId, protocolHash: hash32("p")}),
    malformed: () => ({trialId: "NCT 1", protocolHash: hash32("p")}),
  },
  {
    type: TxType.TrialResult,
    valid: (e) => ({signer: e.researcher, payload: {trialId: "NCT-1", resultsHash: hash32("results"), datasetHash: null}}),
    effect: async (e) => {
      const trial = await getTrial(e.chain.state, "NCT-1")
      expect(trial!.resultEntries).to.have.length(1)
      expect(trial!.resultEntries[0]).to.include({datasetHash: null})
    },
    unauthorised: [
      {name: "another researcher reports", build: (e) => ({signer: e.researcherB, payload: {trialId: "NCT-1", resultsHash: hash32("r"), datasetHash: null}})},
      {name: "a hospital reports", build: (e) => ({signer: e.hospA, payload: {trialId: "NCT-1", resultsHash: hash32("r"), datasetHash: null}})},
    ],
    oversize: () => ({trialId: "NCT-1", resultsHash: hash32("r"), datasetHash: new Uint8Array(64)}),
    malformed: () => ({trialId: "NCT-1", resultsHash: "abc", datasetHash: null}),
  },
  {
    type: TxType.ValidatorVote,
    valid: (e) => ({signer: e.hospA, payload: {action: "add", hospital: "hosp-d", key: keyOf("hosp-d").publicKey, name: "Hospital D"}}),
    effect: async (e) => {
      const pending = await e.chain.state.keys("val/vote/", 10)
      expect(pending).to.have.length(1)
    },
    unauthorised: [
      {name: "a provider votes", build: (e) => ({signer: e.provider, payload: {action: "add", hospital: "hosp-d", key: keyOf("hosp-d").publicKey, name: "D"}})},
      {name: "an observer hospital votes", build: () => ({signer: keyOf("hosp-x"), payload: {action: "add", hospital: "hosp-d", key: keyOf("hosp-d").publicKey, name: "D"}})},
      {name: "the key is an identity's", build: (e) => ({signer: e.hospA, payload: {action: "add", hospital: "hosp-d", key: e.patient.publicKey, name: "D"}}), code: TxErrorCode.CONFLICT},
      {name: "the key does not match the hospital", build: (e) => ({signer: e.hospA, payload: {action: "remove", hospital: "hosp-b", key: keyOf("hosp-c").publicKey, name: ""}}), code: TxErrorCode.CONFLICT},
    ],
    oversize: () => ({action: "add", hospital: "hosp-d", key: keyOf("hosp-d").publicKey, name: "D".repeat(129)}),
    malformed: () => ({action: "promote", hospital: "hosp-d", key: keyOf("hosp-d").publicKey, name: "D"}),
  },
  {
    type: TxType.AuditAnchor,
    valid: (e) => ({signer: e.hospA, payload: {sequence: 3, head: hash32("journal/3")}}),
    effect: async (e) => {
      const anchor = await getJournalAnchor(e.chain.state, "hosp-a")
      expect(anchor).to.include({hospital: "hosp-a", sequence: 3, head: Buffer.from(hash32("journal/3")).toString("hex"), height: e.chain.height})
      expect(await getJournalAnchor(e.chain.state, "hosp-b")).to.equal(undefined)
    },
    unauthorised: [
      {name: "a provider anchors", build: (e) => ({signer: e.provider, payload: {sequence: 3, head: hash32("journal/3")}})},
      {name: "a patient anchors", build: (e) => ({signer: e.patient, payload: {sequence: 3, head: hash32("journal/3")}})},
      {name: "the sequence is the anchored one again", build: (e) => ({signer: e.hospA, payload: {sequence: 2, head: hash32("journal/2b")}}), code: TxErrorCode.CONFLICT},
      {name: "the sequence goes back", build: (e) => ({signer: e.hospA, payload: {sequence: 1, head: hash32("journal/1")}}), code: TxErrorCode.CONFLICT},
    ],
    oversize: () => ({sequence: 3, head: new Uint8Array(33)}),
    malformed: () => ({sequence: 0, head: hash32("journal/0")}),
  },
]

function anchorPayload(e: Env, recordId: string, version: number, previous: Uint8Array | null): PayloadByType[TxType.RecordAnchor] {
  return {
    recordId,
    patient: e.patient.publicKey,
    resourceType: "Observation",
    custodian: "hosp-a",
    contentHash: hash32(`${recordId}/v${version}`),
    version,
    previous,
  }
}

function grantPayload(): PayloadByType[TxType.ConsentGrant] {
  return {grantee: {kind: "hospital", hospital: "hosp-b"}, scope: {kind: "resource-types", resourceTypes: ["Observation"]}, purposes: [Purpose.Treatment], expiresAt: FAR_FUTURE}
}

function logPayload(e: Env): PayloadByType[TxType.AccessLog] {
  return {
    recordId: "rec-1",
    reader: e.providerB.publicKey,
    purpose: Purpose.Treatment,
    decision: "release" as PayloadByType[TxType.AccessLog]["decision"],
    reason: "CONSENT_OK",
    consentId: e.consentId,
    ...e.chain.decidedNow(),
    via: "hosp-b",
    breakGlassReason: null,
  }
}

/** The populated chain plus a record rec-1 (v1), a consent to provider B, a trial NCT-1 and hosp-a's journal anchored at 2. */
async function environment(): Promise<Env> {
  const base = await populated()
  const {chain} = base
  await chain.anchor(base.provider, "rec-1", base.patient)
  const grant = await chain.submit(base.patient, TxType.ConsentGrant, {
    grantee: {kind: "person", key: base.providerB.publicKey},
    scope: {kind: "records", recordIds: ["rec-1"]},
    purposes: [Purpose.Treatment],
    expiresAt: FAR_FUTURE,
  })
  await chain.submit(base.researcher, TxType.TrialRegister, {trialId: "NCT-1", protocolHash: hash32("protocol-1")})
  await chain.submit(base.hospA, TxType.AuditAnchor, {sequence: 2, head: hash32("journal/2")})
  return {...base, consentId: grant.hashHex()}
}

/** Bytes of a transaction with an arbitrary payload (what a buggy or hostile client could send). */
function rawTx(type: TxType, signer: PrivateKey, payload: Record<string, unknown>): Uint8Array {
  return encode([CHAIN_ID, type, signer.publicKey, 0, payload as never, new Uint8Array(64)])
}

describe("state/transactions: every type, valid and each way invalid", function () {
  for (const c of CASES) {
    describe(c.type, function () {
      let e: Env
      beforeEach(async function () {
        e = await environment()
      })

      it("is valid: the block applies and the state shows it", async function () {
        const {signer, payload} = c.valid(e)
        const tx = await e.chain.sign(signer, c.type, payload)
        validateTx(tx, CHAIN_ID)
        await e.chain.check(tx)
        await e.chain.block([tx])
        await c.effect(e)
        expect(await getNextNonce(e.chain.state, signer.publicKey)).to.equal(tx.nonce + 1)
      })

      it("is rejected with a bad signature", async function () {
        const {signer, payload} = c.valid(e)
        const bytes = (await e.chain.sign(signer, c.type, payload)).serialize().slice()
        bytes[bytes.length - 1]! ^= 0x01
        const tampered = Transaction.decode(bytes)
        expect((await caught(() => validateTx(tampered, CHAIN_ID))).code).to.equal(TxErrorCode.BAD_SIGNATURE)
        const err = await caught(e.chain.block([tampered]))
        expect(err.code).to.equal(BlockErrorCode.BAD_TX)
        expect(err.details).to.include({index: 0, txCode: TxErrorCode.BAD_SIGNATURE})
      })

      it("is rejected on another chain", async function () {
        const {signer, payload} = c.valid(e)
        const tx = Transaction.sign({chainId: "other-chain", type: c.type, nonce: await getNextNonce(e.chain.state, signer.publicKey), payload}, signer)
        expect((await caught(() => validateTx(tx, CHAIN_ID))).code).to.equal(TxErrorCode.WRONG_CHAIN)
        expect((await caught(e.chain.check(tx))).code).to.equal(TxErrorCode.WRONG_CHAIN)
      })

      it("is rejected when replayed and when its nonce skips ahead", async function () {
        const {signer, payload} = c.valid(e)
        const tx = await e.chain.sign(signer, c.type, payload)
        const skipping = await e.chain.sign(signer, c.type, payload, tx.nonce + 1)
        expect((await caught(e.chain.check(skipping))).code).to.equal(TxErrorCode.NONCE_GAP)
        await e.chain.block([tx])
        expect((await caught(e.chain.check(tx))).code).to.equal(TxErrorCode.NONCE_REPLAYED)
        const err = await caught(e.chain.block([tx]))
        expect(err.details).to.include({txCode: TxErrorCode.NONCE_REPLAYED})
      })

      for (const u of c.unauthorised) {
        it(`is rejected when ${u.name}`, async function () {
          const {signer, payload} = u.build(e)
          const tx = await e.chain.sign(signer, c.type, payload)
          const rootBefore = e.chain.stateRoot
          expect((await caught(e.chain.check(tx))).code).to.equal(u.code ?? TxErrorCode.UNAUTHORIZED)
          const err = await caught(e.chain.block([tx]))
          expect(err.details).to.include({txCode: u.code ?? TxErrorCode.UNAUTHORIZED})
          expect(e.chain.stateRoot).to.equal(rootBefore)
        })
      }

      it("is rejected with an oversize field, at signing and at decoding", async function () {
        const payload = c.oversize(e)
        const {signer} = c.valid(e)
        const err = await caught(() => Transaction.sign({chainId: CHAIN_ID, type: c.type, nonce: 0, payload: payload as never}, signer))
        expect(err.code).to.equal(TxErrorCode.FIELD_TOO_LARGE)
        expect(err.details).to.have.property("field")
        expect((await caught(() => Transaction.decode(rawTx(c.type, signer, payload)))).code).to.equal(TxErrorCode.FIELD_TOO_LARGE)
      })

      it("is rejected with a malformed payload, naming the field", async function () {
        const payload = c.malformed(e)
        const {signer} = c.valid(e)
        const err = await caught(() => Transaction.decode(rawTx(c.type, signer, payload)))
        expect(err.code).to.equal(TxErrorCode.BAD_PAYLOAD)
        expect(err.message).to.match(/^[\w.\[\]]+: /)
      })
    })
  }
})

describe("state/transactions: senders", function () {
  it("rejects a sender that is neither a hospital nor enrolled", async function () {
    const chain = new TestChain()
    const tx = await chain.sign(keyOf("stranger"), TxType.TrialRegister, {trialId: "T", protocolHash: hash32("p")})
    expect((await caught(chain.check(tx))).code).to.equal(TxErrorCode.UNKNOWN_SENDER)
  })

  it("rejects a revoked sender, and its enrolment cannot be renewed", async function () {
    const e = await populated()
    await e.chain.submit(e.hospA, TxType.IdentityRevoke, {key: e.provider.publicKey})
    const tx = await e.chain.sign(e.provider, TxType.RecordAnchor, {
      recordId: "rec-9", patient: e.patient.publicKey, resourceType: "Observation", custodian: "hosp-a", contentHash: hash32("x"), version: 1, previous: null,
    })
    expect((await caught(e.chain.check(tx))).code).to.equal(TxErrorCode.SENDER_REVOKED)
    const again = await e.chain.sign(e.hospA, TxType.IdentityRegister, {key: e.provider.publicKey, role: Role.Provider})
    expect((await caught(e.chain.check(again))).code).to.equal(TxErrorCode.CONFLICT)
  })

  it("keeps every version of a record and refuses to amend an erased one", async function () {
    const e = await populated()
    await e.chain.anchor(e.provider, "rec-1", e.patient)
    await e.chain.anchor(e.lab, "rec-1", e.patient, {version: 2, previous: hash32("rec-1/v1")})
    await e.chain.anchor(e.provider, "rec-1", e.patient, {version: 3, previous: hash32("rec-1/v2")})
    const record = await getRecord(e.chain.state, "rec-1")
    expect(record!.versions.map((v) => [v.version, v.anchoredBy])).to.deep.equal([
      [1, e.provider.id],
      [2, e.lab.id],
      [3, e.provider.id],
    ])
    expect(record!.contentHash).to.equal(Buffer.from(hash32("rec-1/v3")).toString("hex"))
    await e.chain.submit(e.hospA, TxType.RecordErase, {recordId: "rec-1", legalBasis: "court order 2026-17"})
    const tx = await e.chain.sign(e.provider, TxType.RecordAnchor, {
      recordId: "rec-1", patient: e.patient.publicKey, resourceType: "Observation", custodian: "hosp-a", contentHash: hash32("rec-1/v4"), version: 4, previous: hash32("rec-1/v3"),
    })
    expect((await caught(e.chain.check(tx))).code).to.equal(TxErrorCode.CONFLICT)
    expect((await getRecord(e.chain.state, "rec-1"))!.erasure).to.include({legalBasis: "court order 2026-17", erasedBy: e.hospA.id})
  })

  it("lets a mempool check a queued sender's next nonce", async function () {
    const e = await populated()
    const tx = await e.chain.sign(e.researcher, TxType.TrialRegister, {trialId: "T-1", protocolHash: hash32("p")}, 5)
    await checkWithNonce(e.chain, tx, 5)
    expect((await caught(checkWithNonce(e.chain, tx, 4))).code).to.equal(TxErrorCode.NONCE_GAP)
  })
})

async function checkWithNonce(chain: TestChain, tx: Transaction, expectedNonce: number): Promise<void> {
  const {checkTx} = await import("../../src/index.js")
  await checkTx(chain.state, tx, {...chain.context(), expectedNonce})
}
