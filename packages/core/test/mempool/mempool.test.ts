import {expect} from "chai"
import {decode, encode, type Encodable} from "../../src/encoding/index.js"
import {Block} from "../../src/block/block.js"
import type {PrivateKey} from "../../src/crypto/keys.js"
import {Transaction} from "../../src/tx/transaction.js"
import {TxError, TxErrorCode} from "../../src/tx/errors.js"
import {Role} from "../../src/tx/types.js"
import type {StateReader} from "../../src/state/types.js"
import {Mempool, type MempoolDependencies} from "../../src/mempool/mempool.js"
import {MempoolError, MempoolErrorCode} from "../../src/mempool/errors.js"
import type {MempoolOptions} from "../../src/mempool/options.js"
import {genesisFixture, registerTx, testKey, validatorKeys, TEST_CHAIN_ID} from "../store/helpers.js"

/** A committed state for the pool to read: sender nonces and revoked senders. */
class TestState implements StateReader {
  readonly entries = new Map<string, Uint8Array>()

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key)
  }

  async keys(prefix: string, limit: number): Promise<string[]> {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort().slice(0, limit)
  }

  setNonce(key: PrivateKey, nonce: number): this {
    this.entries.set(`nonce/${key.id}`, encode(nonce))
    return this
  }

  revoke(key: PrivateKey): this {
    this.entries.set(`revoked/${key.id}`, encode(true))
    return this
  }
}

function deps(state: StateReader): MempoolDependencies {
  return {
    chainId: TEST_CHAIN_ID,
    reader: state,
    async nonceOf(reader, sender) {
      const bytes = await reader.get(`nonce/${Buffer.from(sender).toString("hex")}`)
      return bytes === undefined ? 0 : (decode(bytes) as number)
    },
    async checkTx(tx, _pendingNonce, reader) {
      if ((await reader.get(`revoked/${tx.senderId}`)) !== undefined) {
        throw new TxError(TxErrorCode.SENDER_REVOKED, `sender ${tx.senderId} is revoked`)
      }
    },
  }
}

async function expectMempoolError(promise: Promise<unknown>, code: MempoolErrorCode): Promise<MempoolError> {
  try {
    await promise
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(MempoolError)
    expect((err as MempoolError).code).to.equal(code)
    return err as MempoolError
  }
  throw new Error(`expected MempoolError ${code}`)
}

const alice = testKey(0x41)
const bob = testKey(0x42)
const carol = testKey(0x43)
const dave = testKey(0x44)
const enrolled = testKey(0x50)

function tx(sender: PrivateKey, nonce: number): Transaction {
  return registerTx(sender, nonce, enrolled)
}

function hashes(txs: readonly Transaction[]): string[] {
  return txs.map((t) => t.hashHex())
}

function pool(state: StateReader, options: Partial<MempoolOptions> = {}): Mempool {
  return new Mempool(options, deps(state))
}

describe("mempool/Mempool", function () {
  it("admits valid transactions and reports size and bytes", async function () {
    const mempool = pool(new TestState())
    const t = tx(alice, 0)
    const result = await mempool.add(t)
    expect(result).to.deep.equal({hash: t.hashHex(), executable: true, evicted: []})
    expect(mempool.size).to.equal(1)
    expect(mempool.bytes).to.equal(t.serialize().length)
    expect(mempool.has(t.hashHex())).to.equal(true)
    expect(mempool.get(t.hashHex())?.hashHex()).to.equal(t.hashHex())
    expect(mempool.pendingNonce(alice.id)).to.equal(1)
    expect(mempool.metrics()).to.include({txs: 1, senders: 1, executable: 1, added: 1})
    expect(hashes(mempool.reap(10, 1 << 20))).to.deep.equal([t.hashHex()])
  })

  it("rejects duplicates, replays, taken nonces, bad signatures and other chains", async function () {
    const state = new TestState().setNonce(alice, 3)
    const mempool = pool(state)
    const first = tx(alice, 3)
    await mempool.add(first)
    await expectMempoolError(mempool.add(first), MempoolErrorCode.DUPLICATE)
    // Same tx submitted twice at once: exactly one gets in.
    const twice = tx(bob, 0)
    const settled = await Promise.allSettled([mempool.add(twice), mempool.add(twice)])
    expect(settled.map((s) => s.status).sort()).to.deep.equal(["fulfilled", "rejected"])

    const replay = await expectMempoolError(mempool.add(tx(alice, 2)), MempoolErrorCode.NONCE_TOO_LOW)
    expect(replay.details).to.include({nonce: 2, expected: 3})
    const other = Transaction.sign({chainId: TEST_CHAIN_ID, type: first.type, nonce: 3, payload: {key: bob.publicKey, role: Role.Patient}}, alice)
    await expectMempoolError(mempool.add(other as Transaction), MempoolErrorCode.NONCE_TAKEN)

    const raw = decode(tx(carol, 0).serialize()) as Encodable[]
    const forged = Transaction.decode(encode([...raw.slice(0, 5), new Uint8Array(64).fill(1)]))
    const bad = await expectMempoolError(mempool.add(forged), MempoolErrorCode.INVALID_TX)
    expect(bad.details["reason"]).to.equal(TxErrorCode.BAD_SIGNATURE)
    const foreign = await expectMempoolError(mempool.add(registerTx(carol, 0, enrolled, "careledger-other")), MempoolErrorCode.INVALID_TX)
    expect(foreign.details["reason"]).to.equal(TxErrorCode.WRONG_CHAIN)

    state.revoke(dave)
    const refused = await expectMempoolError(mempool.add(tx(dave, 0)), MempoolErrorCode.REJECTED)
    expect(refused.details["reason"]).to.equal(TxErrorCode.SENDER_REVOKED)

    expect(mempool.size).to.equal(2)
    expect(mempool.metrics().rejected).to.deep.equal({
      [MempoolErrorCode.DUPLICATE]: 2,
      [MempoolErrorCode.NONCE_TOO_LOW]: 1,
      [MempoolErrorCode.NONCE_TAKEN]: 1,
      [MempoolErrorCode.INVALID_TX]: 2,
      [MempoolErrorCode.REJECTED]: 1,
    })
  })

  it("holds gapped nonces within the future window and reaps only consecutive runs", async function () {
    const mempool = pool(new TestState(), {maxFutureNonces: 3})
    const [t0, t1, t2, t3] = [0, 1, 2, 3].map((n) => tx(alice, n)) as [Transaction, Transaction, Transaction, Transaction]
    expect((await mempool.add(t0)).executable).to.equal(true)
    expect((await mempool.add(t2)).executable).to.equal(false)
    expect((await mempool.add(t3)).executable).to.equal(false)
    // Next pending nonce is 1; 1 + 3 = 4 is the furthest held.
    await mempool.add(tx(alice, 4))
    await expectMempoolError(mempool.add(tx(alice, 5)), MempoolErrorCode.NONCE_TOO_HIGH)
    expect(hashes(mempool.reap(10, 1 << 20))).to.deep.equal([t0.hashHex()])
    expect(mempool.metrics().executable).to.equal(1)

    expect((await mempool.add(t1)).executable).to.equal(true)
    expect(hashes(mempool.reap(10, 1 << 20)).slice(0, 4)).to.deep.equal(hashes([t0, t1, t2, t3]))
    expect(mempool.pendingNonce(alice.id)).to.equal(5)
  })

  it("holds a sender's in-flight txs whatever order they arrive in, and runs them in nonce order once the gap fills", async function () {
    const mempool = pool(new TestState())
    const txs = Array.from({length: 64}, (_, n) => tx(alice, n))
    // Reverse order: every tx but the last to arrive waits behind the gap at nonce 0.
    for (const t of [...txs].reverse().slice(0, -1)) expect((await mempool.add(t)).executable).to.equal(false)
    expect(mempool.reap(100, 1 << 20)).to.deep.equal([])
    expect(mempool.metrics().gappedBytes).to.equal(txs.slice(1).reduce((n, t) => n + t.serialize().length, 0))
    expect((await mempool.add(txs[0]!)).executable).to.equal(true)
    expect(hashes(mempool.reap(100, 1 << 20))).to.deep.equal(hashes(txs))
    expect(mempool.pendingNonce(alice.id)).to.equal(64)
    expect(mempool.metrics().gappedBytes).to.equal(0)
  })

  it("bounds the gap buffers by bytes per sender and in total", async function () {
    const size = tx(alice, 0).serialize().length
    const mempool = pool(new TestState(), {maxGappedBytesPerSender: 3 * size, maxGappedBytes: 5 * size})
    for (const n of [1, 2, 3]) await mempool.add(tx(alice, n))
    const full = await expectMempoolError(mempool.add(tx(alice, 4)), MempoolErrorCode.NONCE_TOO_HIGH)
    expect(full.message).to.contain("this sender's gap buffer is full")
    for (const n of [1, 2]) await mempool.add(tx(bob, n))
    const poolFull = await expectMempoolError(mempool.add(tx(bob, 3)), MempoolErrorCode.NONCE_TOO_HIGH)
    expect(poolFull.message).to.contain("the pool's gap buffer is full")
    // An executable tx is never refused for the gap buffers, and filling the gap frees them.
    await mempool.add(tx(alice, 0))
    expect(mempool.metrics().gappedBytes).to.equal(2 * size)
    await mempool.add(tx(bob, 3))
    await mempool.add(tx(alice, 5))
  })

  it("reaps round-robin across senders in arrival order, within count and byte limits", async function () {
    const state = new TestState().setNonce(bob, 7)
    const mempool = pool(state)
    const a0 = tx(alice, 0)
    const b7 = tx(bob, 7)
    const a1 = tx(alice, 1)
    const a2 = tx(alice, 2)
    const c0 = tx(carol, 0)
    const b8 = tx(bob, 8)
    for (const t of [a0, b7, a1, a2, c0, b8]) await mempool.add(t)
    expect(hashes(mempool.reap(100, 1 << 20))).to.deep.equal(hashes([a0, b7, c0, a1, b8, a2]))
    expect(hashes(mempool.reap(4, 1 << 20))).to.deep.equal(hashes([a0, b7, c0, a1]))
    const size = a0.serialize().length
    expect(hashes(mempool.reap(100, 2 * size))).to.deep.equal(hashes([a0, b7]))
    expect(mempool.reap(100, size - 1)).to.deep.equal([])
    // Reaping takes nothing out.
    expect(mempool.size).to.equal(6)
  })

  it("when full, evicts the newest tx of the sender holding the most, and never for a gapped tx", async function () {
    const mempool = pool(new TestState(), {maxTxs: 4})
    const a = [0, 1, 2].map((n) => tx(alice, n))
    for (const t of a) await mempool.add(t)
    await mempool.add(tx(bob, 0))
    expect(mempool.size).to.equal(4)

    // Bob (1 pending) may push out Alice's newest while she still keeps more than him.
    const b1 = tx(bob, 1)
    expect((await mempool.add(b1)).evicted).to.deep.equal([a[2]!.hashHex()])
    // Now 2 and 2: Bob's third would leave him ahead of Alice, so it is refused.
    await expectMempoolError(mempool.add(tx(bob, 2)), MempoolErrorCode.FULL)
    // A gapped tx never evicts.
    await expectMempoolError(mempool.add(tx(carol, 5)), MempoolErrorCode.FULL)
    // A new sender evicts the newest tx of the larger senders (tie: the most recent arrival, Bob's).
    expect((await mempool.add(tx(carol, 0))).evicted).to.deep.equal([b1.hashHex()])
    expect(mempool.size).to.equal(4)
    expect(mempool.metrics().evicted).to.equal(2)
    // Evicting from the tail leaves every sender's line without gaps.
    expect(mempool.metrics().executable).to.equal(4)
  })

  it("is bounded in bytes and refuses a transaction larger than the pool", async function () {
    const size = tx(alice, 0).serialize().length
    const mempool = pool(new TestState(), {maxBytes: 3 * size + size / 2})
    for (const n of [0, 1, 2]) await mempool.add(tx(alice, n))
    expect((await mempool.add(tx(bob, 0))).evicted).to.have.length(1)
    expect(mempool.bytes).to.be.at.most(3 * size + size / 2)
    expect(mempool.size).to.equal(3)
    const tiny = pool(new TestState(), {maxBytes: size - 1})
    await expectMempoolError(tiny.add(tx(alice, 0)), MempoolErrorCode.TOO_LARGE)
    expect(() => pool(new TestState(), {maxTxs: 0})).to.throw(MempoolError).with.property("code", MempoolErrorCode.BAD_OPTIONS)
  })

  it("after a block, drops included and stale txs and re-checks the rest against the new state", async function () {
    const before = new TestState()
    const mempool = pool(before)
    const a = [0, 1, 2].map((n) => tx(alice, n))
    const b = [0, 1].map((n) => tx(bob, n))
    const c0 = tx(carol, 0)
    const d0 = tx(dave, 0)
    for (const t of [a[0]!, b[0]!, a[1]!, c0, b[1]!, a[2]!, d0]) await mempool.add(t)

    const keys = validatorKeys(4)
    const genesis = genesisFixture(keys).block
    const block = Block.create({...genesis.header, height: 1, parentHash: genesis.hash()}, [a[0]!, a[1]!, b[0]!])
    // After the block: Dave's nonce 0 was used by another tx elsewhere, and Carol was revoked.
    const after = new TestState().setNonce(alice, 2).setNonce(bob, 1).setNonce(dave, 1).revoke(carol)
    const result = await mempool.onBlockCommitted(block, after)

    expect(result.included).to.equal(3)
    expect(result.dropped).to.deep.include({hash: c0.hashHex(), reason: TxErrorCode.SENDER_REVOKED})
    expect(result.dropped).to.deep.include({hash: d0.hashHex(), reason: MempoolErrorCode.NONCE_TOO_LOW})
    expect(result.dropped).to.have.length(2)
    expect(hashes(mempool.reap(100, 1 << 20))).to.deep.equal(hashes([b[1]!, a[2]!]))
    expect(mempool.metrics()).to.include({txs: 2, senders: 2, included: 3, droppedAfterBlock: 2})
    // The new state is what later admissions are judged against: Alice's nonce 1 is now a replay.
    await expectMempoolError(mempool.add(tx(alice, 1)), MempoolErrorCode.NONCE_TOO_LOW)
  })
})
