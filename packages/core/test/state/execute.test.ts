import {expect} from "chai"
import fc from "fast-check"
import {
  BlockErrorCode,
  MemoryState,
  StateOverlay,
  TxErrorCode,
  bytesEqual,
  encode,
  executeBlock,
  getHospital,
  getValidators,
  listValidatorProposals,
  loadIdentity,
  putIdentity,
  toHex,
  type Transaction,
} from "../../src/index.js"
import {FAR_FUTURE, Purpose, Role, TestChain, TxType, caught, hash32, keyOf} from "./fixture.js"

/** Every key and value of a memory state, for "nothing changed" comparisons. */
async function snapshot(state: MemoryState): Promise<string[]> {
  const keys = await state.keys("", 1_000_000)
  return Promise.all(keys.map(async (k) => `${k}=${toHex((await state.get(k))!)}`))
}

async function workload(chain: TestChain): Promise<Transaction[]> {
  const hospA = keyOf("hosp-a")
  const provider = keyOf("w-provider")
  const patient = keyOf("w-patient")
  const txs: Transaction[] = [
    await chain.sign(hospA, TxType.IdentityRegister, {key: provider.publicKey, role: Role.Provider}, 0),
    await chain.sign(hospA, TxType.IdentityRegister, {key: patient.publicKey, role: Role.Patient}, 1),
  ]
  for (let i = 0; i < 5; i++) {
    txs.push(
      await chain.sign(provider, TxType.RecordAnchor, {
        recordId: `w-${i}`, patient: patient.publicKey, resourceType: "Observation", custodian: "hosp-a", contentHash: hash32(`w-${i}`), version: 1, previous: null,
      }, i),
    )
  }
  txs.push(
    await chain.sign(patient, TxType.ConsentGrant, {
      grantee: {kind: "hospital", hospital: "hosp-b"}, scope: {kind: "records", recordIds: ["w-1", "w-3"]}, purposes: [Purpose.Treatment], expiresAt: FAR_FUTURE,
    }, 0),
  )
  return txs
}

describe("state/execute: executeBlock", function () {
  it("is deterministic: two executions, and two independent nodes, agree on the state root", async function () {
    const a = new TestChain()
    const b = new TestChain()
    const txs = await workload(a)
    const first = await executeBlock(a.state, a.context(), txs)
    const again = await executeBlock(a.state, a.context(), txs)
    const other = await executeBlock(b.state, b.context(), txs)
    expect(toHex(first.stateRoot)).to.equal(toHex(again.stateRoot)).and.to.equal(toHex(other.stateRoot))
    expect([...first.writes.keys()]).to.deep.equal([...other.writes.keys()])
    expect(a.stateRoot).to.deep.equal(b.stateRoot)
    // The root commits to the parent: the same writes on another parent give another root.
    const elsewhere = await executeBlock(a.state, {...a.context(), parentStateRoot: hash32("other parent")}, txs)
    expect(bytesEqual(elsewhere.stateRoot, first.stateRoot)).to.equal(false)
  })

  it("rejects a block with an invalid transaction, naming its index, and changes nothing", async function () {
    const chain = new TestChain()
    const txs = await workload(chain)
    const before = await snapshot(chain.state)
    // The patient's consent names a record that is anchored later: invalid at position 2.
    const bad = [txs[0]!, txs[1]!, txs[7]!, ...txs.slice(2, 7)]
    const err = await caught(executeBlock(chain.state, chain.context(), bad))
    expect(err.code).to.equal(BlockErrorCode.BAD_TX)
    expect(err.details).to.include({index: 2})
    expect(await snapshot(chain.state)).to.deep.equal(before)
  })

  it("rejects a block that repeats a transaction", async function () {
    const chain = new TestChain()
    const txs = await workload(chain)
    const err = await caught(executeBlock(chain.state, chain.context(), [txs[0]!, txs[0]!]))
    expect(err.code).to.equal(BlockErrorCode.DUPLICATE_TX)
    expect(err.details).to.include({index: 1})
  })

  it("applies transactions in order: a later one sees the earlier ones of the same block", async function () {
    const chain = new TestChain()
    const execution = await chain.block(await workload(chain))
    expect(execution.writes.size).to.be.greaterThan(10)
    expect(await chain.state.keys("rec/", 10)).to.have.length(5)
    expect(await chain.state.keys("cons-g/h.hosp-b/", 10)).to.have.length(1)
  })

  it("an empty block still moves the state root forward deterministically", async function () {
    const chain = new TestChain()
    const root0 = chain.stateRoot
    const execution = await chain.block([])
    expect(execution.writes.size).to.equal(0)
    expect(bytesEqual(execution.stateRoot, root0)).to.equal(false)
    expect(execution.validators).to.have.length(3)
  })
})

describe("state/execute: validator votes", function () {
  const vote = (chain: TestChain, voter: string, action: "add" | "remove", hospital: string, name = "") =>
    chain.sign(keyOf(voter), TxType.ValidatorVote, {action, hospital, key: keyOf(hospital).publicKey, name: action === "add" ? name || `Hospital ${hospital}` : name})

  const ids = (keys: Uint8Array[]) => keys.map((k) => toHex(k))

  it("adds a hospital when more than half of the validators vote for it, appending it to the order", async function () {
    const chain = new TestChain()
    const first = await chain.block([await vote(chain, "hosp-a", "add", "hosp-d")])
    expect(first.validators).to.have.length(3)
    expect(await listValidatorProposals(chain.state)).to.have.length(1)
    const duplicate = await vote(chain, "hosp-a", "add", "hosp-d")
    expect((await caught(chain.check(duplicate))).code).to.equal(TxErrorCode.CONFLICT)
    const second = await chain.block([await vote(chain, "hosp-c", "add", "hosp-d")])
    expect(ids(second.validators)).to.deep.equal(["hosp-a", "hosp-b", "hosp-c", "hosp-d"].map((h) => keyOf(h).id))
    expect(ids(await getValidators(chain.state))).to.deep.equal(ids(second.validators))
    expect(await listValidatorProposals(chain.state)).to.have.length(0)
    expect(await getHospital(chain.state, "hosp-d")).to.include({validator: true, name: "Hospital hosp-d", key: keyOf("hosp-d").id})
    // The new validator can enrol identities and vote right away.
    await chain.submit(keyOf("hosp-d"), TxType.IdentityRegister, {key: keyOf("d-provider").publicKey, role: Role.Provider})
    await chain.block([await vote(chain, "hosp-d", "remove", "hosp-a")])
  })

  it("removes a validator by majority (3 of 4), after which it can no longer vote", async function () {
    const chain = new TestChain(["hosp-a", "hosp-b", "hosp-c", "hosp-d"])
    const txs = [await vote(chain, "hosp-a", "remove", "hosp-d"), await vote(chain, "hosp-b", "remove", "hosp-d")]
    const pending = await chain.block(txs)
    expect(pending.validators).to.have.length(4)
    const done = await chain.block([await vote(chain, "hosp-c", "remove", "hosp-d")])
    expect(ids(done.validators)).to.deep.equal(["hosp-a", "hosp-b", "hosp-c"].map((h) => keyOf(h).id))
    expect(await getHospital(chain.state, "hosp-d")).to.include({validator: false})
    const late = await vote(chain, "hosp-d", "add", "hosp-e")
    expect((await caught(chain.check(late))).code).to.equal(TxErrorCode.UNAUTHORIZED)
  })

  it("two votes in one block pass a proposal within that block", async function () {
    const chain = new TestChain()
    const execution = await chain.block([await vote(chain, "hosp-a", "add", "hosp-d"), await vote(chain, "hosp-b", "add", "hosp-d")])
    expect(execution.validators).to.have.length(4)
  })

  it("never removes the last validator", async function () {
    const chain = new TestChain(["hosp-a"], ["hosp-b"])
    const tx = await vote(chain, "hosp-a", "remove", "hosp-a")
    expect((await caught(chain.check(tx))).code).to.equal(TxErrorCode.CONFLICT)
    // A lone validator adds an observer hospital by itself (1 of 1 is a majority).
    const added = await chain.block([await vote(chain, "hosp-a", "add", "hosp-b", "Hospital hosp-b")])
    expect(added.validators).to.have.length(2)
  })
})

describe("state/execute: overlay", function () {
  it("reads through pending writes and lists keys as if they were applied (property)", async function () {
    const key = fc.constantFrom("a/1", "a/2", "a/3", "a/10", "b/1", "b/2", "c")
    const op = fc.tuple(key, fc.option(fc.integer({min: 0, max: 9}), {nil: undefined}))
    await fc.assert(
      fc.asyncProperty(fc.array(op, {maxLength: 12}), fc.array(op, {maxLength: 12}), fc.integer({min: 1, max: 8}), async (baseOps, overlayOps, limit) => {
        const base = new MemoryState()
        for (const [k, v] of baseOps) base.apply(new Map([[k, v === undefined ? null : encode(v)]]))
        const overlay = new StateOverlay(base)
        const expected = new MemoryState()
        for (const k of await base.keys("", 100)) expected.apply(new Map([[k, (await base.get(k))!]]))
        for (const [k, v] of overlayOps) {
          if (v === undefined) overlay.delete(k)
          else overlay.set(k, encode(v))
          expected.apply(new Map([[k, v === undefined ? null : encode(v)]]))
        }
        for (const prefix of ["", "a/", "b/", "c"]) {
          expect(await overlay.keys(prefix, limit)).to.deep.equal(await expected.keys(prefix, limit))
        }
        for (const k of ["a/1", "a/2", "a/3", "a/10", "b/1", "b/2", "c"]) {
          expect(await overlay.get(k)).to.deep.equal(await expected.get(k))
        }
      }),
      {numRuns: 200},
    )
  })
})

describe("state/execute: other work is not held up by a long block", function () {
  it("lets the event loop turn while it executes a block of 200 transactions over state that answers at once", async function () {
    const chain = new TestChain()
    const hospital = keyOf("hosp-a")
    const txs = []
    for (let nonce = 0; nonce < 200; nonce++) {
      txs.push(await chain.sign(hospital, TxType.IdentityRegister, {key: keyOf(`patient-${nonce}`).publicKey, role: Role.Patient}, nonce))
    }
    let turned = false
    setImmediate(() => (turned = true))
    let turnedBeforeTheEnd: boolean | undefined
    await executeBlock(chain.state, chain.context(), txs).then(() => (turnedBeforeTheEnd = turned))
    expect(turnedBeforeTheEnd).to.equal(true)
  })
})

describe("state/repository: decoded values", function () {
  it("decodes a stored value once while its bytes stay the same, shares it frozen, and decodes a new write afresh", async function () {
    const state = new MemoryState()
    const writes = new StateOverlay(state)
    putIdentity(writes, {id: "aa", role: Role.Provider, hospital: "hosp-a", patient: null, revoked: false, registeredAt: 1, revokedAt: null})
    state.apply(writes.writes())
    const first = await loadIdentity(state, "aa")
    expect(await loadIdentity(state, "aa")).to.equal(first)
    expect(Object.isFrozen(first)).to.equal(true)
    const again = new StateOverlay(state)
    putIdentity(again, {...first!, revoked: true, revokedAt: 2})
    state.apply(again.writes())
    const after = await loadIdentity(state, "aa")
    expect(after).to.not.equal(first)
    expect(after?.revoked).to.equal(true)
    expect(first?.revoked).to.equal(false)
  })
})
