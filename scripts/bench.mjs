#!/usr/bin/env node
// Hot-path benchmark of @careledger/core: `npm run bench` (builds first). Prints the median of
// several runs; numbers depend on the machine and its load, so they are reported, never asserted.
import {mkdtempSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {performance} from "node:perf_hooks"
import {
  Block,
  ChainStore,
  Mempool,
  PrivateKey,
  Role,
  Transaction,
  TxType,
  DEFAULT_CONSENSUS_PARAMS,
  MemoryState,
  buildNextBlock,
  decode,
  encode,
  executeBlock,
  genesisBlock,
  genesisExecution,
  precommitSigningBytes,
  proposerOf,
  quorumSize,
  sha256,
  stateMempoolChecks,
  utf8,
  validateNextBlock,
  validateTx,
  validatorsHashOf,
} from "@careledger/core"
import {median} from "./bench-stats.mjs"

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const TXS_PER_BLOCK = 1000
const CHAIN_ID = "careledger-bench"

const seedKey = (label, i) => PrivateKey.fromSeed(sha256(utf8(`bench/${label}/${i}`)))
const hospitals = Array.from({length: 4}, (_, i) => seedKey("hospital", i))
const genesis = {
  chainId: CHAIN_ID,
  timestamp: 1_700_000_000_000,
  hospitals: hospitals.map((key, i) => ({id: `hosp-${i}`, name: `Hospital ${i}`, key: key.id, validator: true})),
  consensus: {...DEFAULT_CONSENSUS_PARAMS},
}
const genesisExec = genesisExecution(genesis)
const genesisBlk = genesisBlock(genesis, genesisExec)

let patientCounter = 0
/** `count` identity.register txs spread over the four hospitals, continuing each one's nonces. */
const nonces = [0, 0, 0, 0]
function enrolments(count) {
  const txs = []
  for (let i = 0; i < count; i++) {
    const h = i % hospitals.length
    const patient = seedKey("patient", patientCounter++)
    txs.push(Transaction.sign({chainId: CHAIN_ID, type: TxType.IdentityRegister, nonce: nonces[h]++, payload: {key: patient.publicKey, role: Role.Patient}}, hospitals[h]))
  }
  return txs
}

function finalize(head, txs, execution, timestamp) {
  const height = head.height + 1
  const block = Block.create(
    {
      chainId: CHAIN_ID,
      height,
      round: 0,
      parentHash: head.hash,
      timestamp,
      proposer: hospitals[height % hospitals.length].publicKey,
      stateRoot: execution.stateRoot,
      validatorsHash: validatorsHashOf(hospitals.map((k) => k.publicKey)),
      lastCommit: null,
    },
    txs,
  )
  const message = precommitSigningBytes(CHAIN_ID, height, 0, block.hash())
  const signatures = hospitals.slice(0, quorumSize(hospitals.length)).map((key) => ({validator: key.publicKey, signature: key.sign(message)}))
  return {block, commit: {height, round: 0, blockHash: block.hash(), signatures}}
}

const format = (n) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2))
const rows = []
function report(name, samples, unit, note = "") {
  const value = median(samples)
  rows.push({name, value, unit, runs: samples.length, note: typeof note === "function" ? note(value) : note})
}

// 1. Transaction decode + signature verification (what every gossiped tx costs).
{
  const samples = []
  for (let run = 0; run < RUNS; run++) {
    // Fresh transactions each run: a node decodes the same bytes only once.
    const wire = enrolments(2000).map((tx) => tx.serialize())
    const start = performance.now()
    for (const bytes of wire) validateTx(Transaction.decode(bytes), CHAIN_ID)
    samples.push(wire.length / ((performance.now() - start) / 1000))
  }
  report("tx decode + verify", samples, "tx/s", "2000 txs per run")
}

// 2. Block apply: executeBlock with 1,000 identity.register txs on the genesis state (in memory).
{
  const base = new MemoryState()
  base.apply(genesisExec.writes)
  const ctx = {chainId: CHAIN_ID, height: 1, timestamp: genesis.timestamp + 1000, parentStateRoot: genesisExec.stateRoot}
  const withSig = []
  const withoutSig = []
  for (let run = 0; run < RUNS; run++) {
    nonces.fill(0)
    // Decode fresh copies so no hash or signature result is cached from signing.
    const txs = enrolments(TXS_PER_BLOCK).map((tx) => Transaction.decode(tx.serialize()))
    let start = performance.now()
    await executeBlock(base, ctx, txs)
    withSig.push(1000 / (performance.now() - start))
    start = performance.now()
    await executeBlock(base, ctx, txs, {verifySignatures: false})
    withoutSig.push(1000 / (performance.now() - start))
  }
  report("block apply, 1,000 txs, verifying signatures", withSig, "blocks/s", (v) => `= ${format(v * TXS_PER_BLOCK)} tx/s`)
  report("block apply, 1,000 txs, signatures pre-verified", withoutSig, "blocks/s", (v) => `= ${format(v * TXS_PER_BLOCK)} tx/s (the mempool verified them)`)
}

// 3. Store write: commitBlock (one synced LevelDB batch) with 1,000 txs and with 0 txs.
{
  const dir = mkdtempSync(join(tmpdir(), "careledger-bench-"))
  const store = await ChainStore.open({dir})
  try {
    await store.initialize(genesis, genesisBlk, genesisExec)
    nonces.fill(0)
    const measure = async (txCount, blocks) => {
      const samples = []
      for (let i = 0; i < blocks; i++) {
        const head = store.head()
        const txs = enrolments(txCount)
        const timestamp = head.header.timestamp + 1000
        const execution = await executeBlock(store.state(), {chainId: CHAIN_ID, height: head.height + 1, timestamp, parentStateRoot: head.header.stateRoot}, txs)
        const {block, commit} = finalize(head, txs, execution, timestamp)
        const start = performance.now()
        await store.commitBlock(block, commit, execution)
        samples.push(performance.now() - start)
      }
      return samples
    }
    report("store commitBlock, 1,000 txs", await measure(TXS_PER_BLOCK, Math.max(RUNS, 5)), "ms/block", "synced atomic batch")
    report("store commitBlock, 0 txs", await measure(0, Math.max(RUNS * 4, 20)), "ms/block", "synced atomic batch")
  } finally {
    await store.close()
    rmSync(dir, {recursive: true, force: true})
  }
}

// 4. A follower's CPU per transaction: decode gossiped batches of 64 and verify, admit to the mempool,
// then decode each block that carries them (250 txs), validate it against the store, commit it and
// prune the pool. CPU time of the whole process (all threads), so a loaded machine inflates it less
// than it inflates wall time. The proposer's work (building the blocks) is not counted.
{
  const samples = []
  for (let run = 0; run < RUNS; run++) {
    const dir = mkdtempSync(join(tmpdir(), "careledger-bench-"))
    const store = await ChainStore.open({dir})
    try {
      await store.initialize(genesis, genesisBlk, genesisExec)
      nonces.fill(0)
      const clock = {nextHeight: () => store.head().height + 1, now: () => Date.now()}
      const mempool = new Mempool({}, {chainId: CHAIN_ID, reader: store.state(), ...stateMempoolChecks(CHAIN_ID, clock)})
      const validators = hospitals.map((key) => key.publicKey)
      let cpu = 0
      let txCount = 0
      const timed = async (work) => {
        const before = process.cpuUsage()
        const result = await work()
        const used = process.cpuUsage(before)
        cpu += used.user + used.system
        return result
      }
      for (let b = 0; b < 16; b++) {
        const batches = []
        const txs = enrolments(250)
        for (let i = 0; i < txs.length; i += 64) batches.push(encode(txs.slice(i, i + 64).map((tx) => tx.serialize())))
        await timed(async () => {
          for (const batch of batches) {
            for (const bytes of decode(batch)) {
              const tx = Transaction.decode(bytes)
              validateTx(tx, CHAIN_ID)
              await mempool.add(tx)
            }
          }
        })
        const head = store.head()
        const height = head.height + 1
        const {block: built} = await buildNextBlock(store, mempool, {round: 0, proposer: proposerOf(validators, height, 0), now: head.header.timestamp + 1000, maxTxs: 5000, maxBytes: 4 * 1024 * 1024})
        const wire = built.serialize()
        const message = precommitSigningBytes(CHAIN_ID, height, 0, built.hash())
        const commit = {height, round: 0, blockHash: built.hash(), signatures: hospitals.slice(0, quorumSize(hospitals.length)).map((key) => ({validator: key.publicKey, signature: key.sign(message)}))}
        await timed(async () => {
          const block = Block.decode(wire)
          const execution = await validateNextBlock(store, block)
          await store.commitBlock(block, commit, execution)
          await mempool.onBlockCommitted(block, store.state())
        })
        txCount += built.txs.length
      }
      samples.push(cpu / txCount)
    } finally {
      await store.close()
      rmSync(dir, {recursive: true, force: true})
    }
  }
  report("follower CPU per tx (gossip in, block validated and committed)", samples, "us/tx", "4,000 txs per run, blocks of 250")
}

const width = Math.max(...rows.map((r) => r.name.length))
process.stdout.write(`CareLedger core benchmark (node ${process.version}, median of runs)\n\n`)
process.stdout.write(`${"measure".padEnd(width)}  ${"median".padStart(10)}  ${"unit".padEnd(9)}  runs  note\n`)
process.stdout.write(`${"-".repeat(width)}  ${"-".repeat(10)}  ${"-".repeat(9)}  ----  ----\n`)
for (const r of rows) {
  process.stdout.write(`${r.name.padEnd(width)}  ${format(r.value).padStart(10)}  ${r.unit.padEnd(9)}  ${String(r.runs).padStart(4)}  ${r.note}\n`)
}
