import {expect} from "chai"
import {encode, decode} from "../../src/encoding/index.js"
import {bytesEqual, toHex, utf8} from "../../src/encoding/bytes.js"
import {ChainStore, CommittedState, type StateSource} from "../../src/store/chainStore.js"
import {Bucket, Database} from "../../src/store/db.js"
import {StoreError, StoreErrorCode} from "../../src/store/errors.js"
import type {Block} from "../../src/block/block.js"
import {genesisFixture, nextBlock, registerTx, tempDir, testKey, validatorKeys, type BuiltBlock} from "./helpers.js"

async function expectStoreError(promise: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  try {
    await promise
  } catch (err) {
    expect(err).to.be.instanceOf(StoreError)
    expect((err as StoreError).code).to.equal(code)
    return err as StoreError
  }
  throw new Error(`expected StoreError ${code}`)
}

function hexList(keys: readonly Uint8Array[]): string[] {
  return keys.map(toHex)
}

describe("store/ChainStore", function () {
  const keys = validatorKeys(4)
  const fixture = genesisFixture(keys)
  let dir: string
  let remove: () => void
  let store: ChainStore

  beforeEach(async function () {
    ;({dir, remove} = tempDir("store"))
    store = await ChainStore.open({dir})
  })

  afterEach(async function () {
    await store.close()
    remove()
  })

  async function commitNext(options: Parameters<typeof nextBlock>[2] = {}, signers = keys): Promise<BuiltBlock> {
    const built = nextBlock(store.head(), signers, options)
    await store.commitBlock(built.block, built.commit, built.execution)
    return built
  }

  it("starts uninitialized and initializes genesis once", async function () {
    expect(store.isInitialized).to.equal(false)
    expect(() => store.head()).to.throw(StoreError).with.property("code", StoreErrorCode.NOT_INITIALIZED)
    await store.initialize(fixture.genesis, fixture.block, fixture.execution)
    const head = store.head()
    expect(head.height).to.equal(0)
    expect(bytesEqual(head.hash, fixture.block.hash())).to.equal(true)
    expect(store.genesis()).to.deep.equal(fixture.genesis)
    expect(hexList(store.validators())).to.deep.equal(hexList(fixture.execution.validators))
    expect(await store.state().get("test/genesis")).to.deep.equal(utf8(fixture.genesis.chainId))
    expect((await store.getBlock(0))?.hashHex()).to.equal(fixture.block.hashHex())
    expect(await store.getCommit(0)).to.equal(undefined)
    // Same genesis again is a no-op.
    await store.initialize(fixture.genesis, fixture.block, fixture.execution)
    expect(store.head().height).to.equal(0)
  })

  for (const stateCacheEntries of [undefined, 1]) {
    it(`serves state reads that follow every commit (state cache of ${stateCacheEntries ?? "default"} entries)`, async function () {
      await store.close()
      store = await ChainStore.open({dir, ...(stateCacheEntries === undefined ? {} : {stateCacheEntries})})
      await store.initialize(fixture.genesis, fixture.block, fixture.execution)
      const state = store.state()
      // Read first, so a cache would hold the values that the commits below change.
      expect(await state.get("acct/a")).to.equal(undefined)
      expect(await state.get("acct/b")).to.equal(undefined)
      await commitNext({writes: new Map([["acct/a", utf8("1")], ["acct/b", utf8("2")]])})
      expect(await state.get("acct/a")).to.deep.equal(utf8("1"))
      expect(await state.get("acct/b")).to.deep.equal(utf8("2"))
      // A read in flight while a block commits must not leave the old value behind.
      const racing = state.get("acct/a")
      await commitNext({writes: new Map([["acct/a", null], ["acct/b", utf8("3")]])})
      await racing
      expect(await state.get("acct/a")).to.equal(undefined)
      expect(await state.get("acct/b")).to.deep.equal(utf8("3"))
      await store.close()
      store = await ChainStore.open({dir})
      expect(await store.state().get("acct/b")).to.deep.equal(utf8("3"))
    })
  }

  it("round-trips blocks, commit certificates, the tx index and state", async function () {
    await store.initialize(fixture.genesis, fixture.block, fixture.execution)
    const sender = testKey(0x70)
    const txs = [registerTx(sender, 0, testKey(0x71)), registerTx(sender, 1, testKey(0x72))]
    const b1 = await commitNext({txs, writes: new Map([["acct/a", utf8("1")], ["acct/b", utf8("2")], ["other/x", utf8("x")]])})
    const b2 = await commitNext({writes: new Map([["acct/a", null], ["acct/c", utf8("3")]])})

    expect(store.head().height).to.equal(2)
    expect(bytesEqual(store.head().hash, b2.block.hash())).to.equal(true)
    const loaded = (await store.getBlock(1)) as Block
    expect(loaded.hashHex()).to.equal(b1.block.hashHex())
    expect(loaded.txs.map((tx) => tx.hashHex())).to.deep.equal(txs.map((tx) => tx.hashHex()))
    expect((await store.getBlockByHash(b2.block.hash()))?.height).to.equal(2)
    expect(await store.getBlockByHash(new Uint8Array(32))).to.equal(undefined)
    expect(await store.getBlock(3)).to.equal(undefined)
    expect(await store.getBlock(-1)).to.equal(undefined)
    expect((await store.getBlocks(1, 10)).map((b) => b.height)).to.deep.equal([1, 2])
    expect((await store.getBlocks(0, 2)).map((b) => b.height)).to.deep.equal([0, 1])
    expect(await store.getBlocks(3, 10)).to.deep.equal([])

    const commit = await store.getCommit(2)
    expect(commit?.height).to.equal(2)
    expect(toHex(commit!.blockHash)).to.equal(b2.block.hashHex())
    expect(commit!.signatures.map((s) => toHex(s.signature))).to.deep.equal(b2.commit.signatures.map((s) => toHex(s.signature)))

    expect(await store.getTxLocation(txs[1]!.hash())).to.deep.equal({height: 1, index: 1})
    const found = await store.getTx(txs[0]!.hash())
    expect(found?.tx.hashHex()).to.equal(txs[0]!.hashHex())
    expect(found?.height).to.equal(1)
    expect(toHex(found!.blockHash)).to.equal((await store.getBlock(1))!.hashHex())
    expect(await store.getTx(new Uint8Array(32))).to.equal(undefined)

    const state = store.state()
    expect(await state.get("acct/a")).to.equal(undefined)
    expect(await state.get("acct/b")).to.deep.equal(utf8("2"))
    expect(await state.keys("acct/", 10)).to.deep.equal(["acct/b", "acct/c"])
    expect(await state.keys("acct/", 1)).to.deep.equal(["acct/b"])
    expect(decode((await state.get("test/height"))!)).to.equal(2)
  })

  it("refuses a block that does not extend the head, and writes nothing", async function () {
    await store.initialize(fixture.genesis, fixture.block, fixture.execution)
    const b1 = await commitNext()
    const before = store.head()
    const good = nextBlock(before, keys, {writes: new Map([["acct/z", utf8("z")]])})

    const skip = nextBlock({...b1.block.header, height: 2, hash: b1.block.hash(), header: {...b1.block.header, height: 2}}, keys)
    await expectStoreError(store.commitBlock(skip.block, skip.commit, skip.execution), StoreErrorCode.BAD_HEIGHT)
    const replay = nextBlock({height: 0, hash: fixture.block.hash(), header: fixture.block.header}, keys)
    await expectStoreError(store.commitBlock(replay.block, replay.commit, replay.execution), StoreErrorCode.BAD_HEIGHT)
    const orphan = nextBlock({height: 1, hash: new Uint8Array(32).fill(9), header: b1.block.header}, keys, {writes: new Map([["acct/z", utf8("orphan")]])})
    await expectStoreError(store.commitBlock(orphan.block, orphan.commit, orphan.execution), StoreErrorCode.BAD_PARENT)
    // A certificate signed by too few validators, or for another block.
    const weak = nextBlock(before, keys, {commitKeys: keys.slice(0, 2), writes: new Map([["acct/z", utf8("weak")]])})
    await expectStoreError(store.commitBlock(weak.block, weak.commit, weak.execution), StoreErrorCode.BAD_COMMIT)
    await expectStoreError(store.commitBlock(good.block, b1.commit, good.execution), StoreErrorCode.BAD_COMMIT)
    // An execution that does not match the header's state root.
    await expectStoreError(
      store.commitBlock(good.block, good.commit, {...good.execution, stateRoot: new Uint8Array(32)}),
      StoreErrorCode.BAD_STATE_ROOT,
    )
    // A block naming a validator set other than the one in force.
    const outsiders = [testKey(0x60), testKey(0x61), testKey(0x62)]
    const foreign = nextBlock(before, outsiders)
    await expectStoreError(store.commitBlock(foreign.block, foreign.commit, foreign.execution), StoreErrorCode.BAD_VALIDATORS)
    const otherChain = nextBlock(before, keys, {chainId: "careledger-other"})
    await expectStoreError(store.commitBlock(otherChain.block, otherChain.commit, otherChain.execution), StoreErrorCode.WRONG_CHAIN)

    expect(store.head().height).to.equal(1)
    expect(await store.getBlock(2)).to.equal(undefined)
    expect(await store.getCommit(2)).to.equal(undefined)
    expect(await store.state().get("acct/z")).to.equal(undefined)
    expect(decode((await store.state().get("test/height"))!)).to.equal(1)

    // Reopening shows the same: refused commits left no trace on disk.
    await store.close()
    store = await ChainStore.open({dir})
    expect(store.head().height).to.equal(1)
    expect(await store.getBlock(2)).to.equal(undefined)
    await store.commitBlock(good.block, good.commit, good.execution)
    expect(await store.state().get("acct/z")).to.deep.equal(utf8("z"))
  })

  it("lets only one of two concurrent commits of the same height through", async function () {
    await store.initialize(fixture.genesis, fixture.block, fixture.execution)
    const a = nextBlock(store.head(), keys, {round: 0})
    const b = nextBlock(store.head(), keys, {round: 1})
    const results = await Promise.allSettled([
      store.commitBlock(a.block, a.commit, a.execution),
      store.commitBlock(b.block, b.commit, b.execution),
    ])
    expect(results.map((r) => r.status)).to.deep.equal(["fulfilled", "rejected"])
    expect(((results[1] as PromiseRejectedResult).reason as StoreError).code).to.equal(StoreErrorCode.BAD_HEIGHT)
    expect(store.head().hash).to.deep.equal(a.block.hash())
  })

  it("keeps the validator-set history: a change by block h applies from h + 1", async function () {
    await store.initialize(fixture.genesis, fixture.block, fixture.execution)
    const newcomer = testKey(0x20)
    const nextSet = [keys[0]!, keys[1]!, keys[2]!, newcomer]
    await commitNext()
    await commitNext({nextValidators: nextSet.map((k) => k.publicKey)})
    expect(hexList(store.validatorsAt(2))).to.deep.equal(hexList(keys.map((k) => k.publicKey)))
    expect(hexList(store.validatorsAt(3))).to.deep.equal(hexList(nextSet.map((k) => k.publicKey)))
    expect(hexList(store.validators())).to.deep.equal(hexList(nextSet.map((k) => k.publicKey)))

    // Block 3 must name and be signed by the new set.
    const stale = nextBlock(store.head(), keys)
    await expectStoreError(store.commitBlock(stale.block, stale.commit, stale.execution), StoreErrorCode.BAD_VALIDATORS)
    await commitNext({commitKeys: [keys[1]!, keys[2]!, newcomer]}, nextSet)
    expect(store.head().height).to.equal(3)

    await store.close()
    store = await ChainStore.open({dir})
    expect(hexList(store.validatorsAt(1))).to.deep.equal(hexList(keys.map((k) => k.publicKey)))
    expect(hexList(store.validatorsAt(3))).to.deep.equal(hexList(nextSet.map((k) => k.publicKey)))
    expect(hexList(store.validators())).to.deep.equal(hexList(nextSet.map((k) => k.publicKey)))
  })

  it("keeps everything across a reopen", async function () {
    await store.initialize(fixture.genesis, fixture.block, fixture.execution)
    const tx = registerTx(testKey(0x70), 0, testKey(0x71))
    await commitNext({txs: [tx], writes: new Map([["acct/a", utf8("1")]])})
    const b2 = await commitNext()
    await store.putConsensusRecord("vote/3/0/precommit", utf8("about to vote"))
    await store.close()
    await store.close()

    store = await ChainStore.open({dir})
    expect(store.isInitialized).to.equal(true)
    expect(store.head().height).to.equal(2)
    expect(toHex(store.head().hash)).to.equal(b2.block.hashHex())
    expect(store.genesis()).to.deep.equal(fixture.genesis)
    expect((await store.getBlock(1))?.txs[0]?.hashHex()).to.equal(tx.hashHex())
    expect((await store.getCommit(2))?.height).to.equal(2)
    expect(await store.getTxLocation(tx.hash())).to.deep.equal({height: 1, index: 0})
    expect(await store.state().get("acct/a")).to.deep.equal(utf8("1"))
    expect(await store.getConsensusRecord("vote/3/0/precommit")).to.deep.equal(utf8("about to vote"))
  })

  it("refuses a different genesis on an existing directory", async function () {
    await store.initialize(fixture.genesis, fixture.block, fixture.execution)
    await commitNext()
    await store.close()
    store = await ChainStore.open({dir})
    const other = genesisFixture(keys, "careledger-other")
    const err = await expectStoreError(store.initialize(other.genesis, other.block, other.execution), StoreErrorCode.GENESIS_MISMATCH)
    expect(err.details["givenGenesisHash"]).to.equal(other.block.hashHex())
    // Same block, different document (consensus parameters) is also another chain.
    const tweaked = {...fixture.genesis, consensus: {...fixture.genesis.consensus, roundTimeoutMs: 9999}}
    await expectStoreError(store.initialize(tweaked, fixture.block, fixture.execution), StoreErrorCode.GENESIS_MISMATCH)
    expect(store.head().height).to.equal(1)
    expect(store.genesis()).to.deep.equal(fixture.genesis)
  })

  it("refuses a genesis block that does not match its document or execution", async function () {
    const other = genesisFixture(keys, "careledger-other")
    await expectStoreError(store.initialize(fixture.genesis, other.block, fixture.execution), StoreErrorCode.BAD_GENESIS)
    await expectStoreError(store.initialize(fixture.genesis, fixture.block, other.execution), StoreErrorCode.BAD_GENESIS)
    expect(store.isInitialized).to.equal(false)
    await store.close()
    store = await ChainStore.open({dir})
    expect(store.isInitialized).to.equal(false)
  })

  it("stores, lists and deletes consensus records by prefix", async function () {
    await store.putConsensusRecord("vote/5/0/prevote", utf8("a"))
    await store.putConsensusRecord("vote/5/1/prevote", utf8("b"))
    await store.putConsensusRecord("vote/6/0/prevote", utf8("c"))
    await store.putConsensusRecord("evidence/abc", encode(["equivocation", 5]))
    expect(await store.getConsensusRecord("vote/5/1/prevote")).to.deep.equal(utf8("b"))
    expect((await store.listConsensusRecords("vote/5/", 10)).map((r) => r.key)).to.deep.equal(["vote/5/0/prevote", "vote/5/1/prevote"])
    expect(await store.deleteConsensusRecords("vote/5/")).to.equal(2)
    expect(await store.getConsensusRecord("vote/5/0/prevote")).to.equal(undefined)
    expect(await store.getConsensusRecord("vote/6/0/prevote")).to.deep.equal(utf8("c"))
    expect(await store.getConsensusRecord("evidence/abc")).to.deep.equal(encode(["equivocation", 5]))
    await expectStoreError(store.putConsensusRecord("", utf8("x")), StoreErrorCode.BAD_KEY)
    await expectStoreError(store.putConsensusRecord("k".repeat(300), utf8("x")), StoreErrorCode.BAD_KEY)
  })

  it("reports a typed error when the head and the persisted state root disagree", async function () {
    await store.initialize(fixture.genesis, fixture.block, fixture.execution)
    await commitNext()
    await store.close()
    // Simulate a torn or tampered store underneath the chain store.
    const db = await Database.open(dir)
    await db.batch([{type: "put", bucket: Bucket.meta, key: utf8("stateRoot"), value: new Uint8Array(32).fill(7)}], {sync: true})
    await db.close()
    await expectStoreError(ChainStore.open({dir}), StoreErrorCode.INCONSISTENT)
    // The failed open released the database: it can be opened again.
    const again = await Database.open(dir)
    await again.close()
  })

  it("refuses a second open of the same directory and use after close", async function () {
    await expectStoreError(ChainStore.open({dir}), StoreErrorCode.OPEN_FAILED)
    await store.close()
    await store.close()
    await expectStoreError(store.putConsensusRecord("a", utf8("b")), StoreErrorCode.CLOSED)
    expect(() => store.head()).to.throw(StoreError).with.property("code", StoreErrorCode.CLOSED)
  })
})

describe("store/CommittedState (the state cache)", function () {
  /** A state source whose reads wait until released, so a commit can land while they are in flight. */
  function slowSource(values: Record<string, Uint8Array>): {source: StateSource; diskReads: () => number; release: () => void} {
    let diskReads = 0
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const source = {
      get: async (key: string) => {
        diskReads++
        await gate
        return values[key]
      },
      entries: async () => [],
    } as unknown as StateSource
    return {source, diskReads: () => diskReads, release}
  }

  it("keeps a read that was in flight across a commit that did not write its key: the next read needs no disk", async function () {
    const {source, diskReads, release} = slowSource({})
    const state = new CommittedState(source, 100)
    const racing = state.get("acct/c")
    state.committed(new Map([["acct/a", utf8("1")]]))
    release()
    expect(await racing).to.equal(undefined)
    expect(await state.get("acct/c")).to.equal(undefined)
    expect(diskReads()).to.equal(1)
  })

  it("keeps a key read often while many others pass through, and stays bounded", async function () {
    const reads = new Map<string, number>()
    const source = {
      get: async (key: string) => {
        reads.set(key, (reads.get(key) ?? 0) + 1)
        return undefined
      },
      entries: async () => [],
    } as unknown as StateSource
    const state = new CommittedState(source, 4)
    for (let i = 0; i < 20; i++) {
      await state.get("hot")
      await state.get(`cold/${i}`)
    }
    expect(reads.get("hot")).to.equal(1)
    await state.get("cold/0")
    expect(reads.get("cold/0")).to.equal(2)
  })

  it("never keeps a read that was in flight across a commit that wrote its key", async function () {
    const {source, release} = slowSource({"acct/a": utf8("old")})
    const state = new CommittedState(source, 100)
    const racing = state.get("acct/a")
    state.committed(new Map([["acct/b", utf8("2")]]))
    state.committed(new Map([["acct/a", utf8("new")]]))
    release()
    await racing
    expect(await state.get("acct/a")).to.deep.equal(utf8("new"))
  })
})
