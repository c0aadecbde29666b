#!/usr/bin/env node
// End-to-end throughput of a real 4-validator consortium on loopback: `npm run bench:devnet`.
// Each hospital submits enrolments through its own node's JSON-RPC (one sender per hospital, in
// nonce order); we time acceptance and the moment the last one is in a finalized block. Reports
// the median of several runs; figures depend on the machine and its load and are never asserted.
import {mkdtempSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {performance} from "node:perf_hooks"
import {PrivateKey, Role, TxType} from "@careledger/core"
import {CareLedgerClient, TxSender} from "@careledger/client"
import {prepareDevnet, readKeyFile, spawnNode, stopNode, waitForRpc} from "@careledger/node"
import {median} from "./bench-stats.mjs"

const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const TXS_PER_HOSPITAL = Number(process.env.BENCH_TXS_PER_HOSPITAL ?? 250)
const NODES = 4
/** Upper bound of one run, so a stalled network ends the benchmark instead of hanging it. */
const RUN_DEADLINE_MS = 120_000

async function oneRun(plan, clients) {
  const senders = plan.nodes.map((spec, i) => new TxSender(clients[i], readKeyFile(join(spec.dataDir, "node.key"))))
  const startHeight = (await clients[0].head()).finalizedHeight
  const total = senders.length * TXS_PER_HOSPITAL
  const started = performance.now()
  await Promise.all(
    senders.map(async (sender) => {
      for (let i = 0; i < TXS_PER_HOSPITAL; i++) {
        await sender.send(TxType.IdentityRegister, {key: PrivateKey.generate().publicKey, role: Role.Patient})
      }
    }),
  )
  const accepted = performance.now()
  let finalized = 0
  let lateRounds = 0
  let next = startHeight + 1
  while (finalized < total) {
    if (performance.now() - started > RUN_DEADLINE_MS) throw new Error(`only ${finalized} of ${total} txs final after ${RUN_DEADLINE_MS} ms`)
    const head = (await clients[0].head()).finalizedHeight
    for (; next <= head; next++) {
      const block = await clients[0].getBlock(next)
      finalized += block.txs.length
      if (block.header.round > 0) lateRounds++
    }
    if (finalized < total) await new Promise((r) => setTimeout(r, 50))
  }
  const final = performance.now()
  return {total, acceptSeconds: (accepted - started) / 1000, finalSeconds: (final - started) / 1000, blocks: next - 1 - startHeight, lateRounds}
}

const dir = mkdtempSync(join(tmpdir(), "careledger-bench-devnet-"))
const plan = await prepareDevnet(dir, {nodes: NODES, fresh: true, chainId: "careledger-bench"})
const nodes = plan.nodes.map((spec) => spawnNode(spec))
try {
  await Promise.all(plan.nodes.map((spec) => waitForRpc(spec.rpcUrl, 60_000)))
  const clients = plan.nodes.map((spec) => new CareLedgerClient({url: spec.rpcUrl, timeoutMs: 10_000}))
  // Let the validators connect and finalize a few blocks before measuring.
  while ((await clients[0].head()).finalizedHeight < 3) await new Promise((r) => setTimeout(r, 200))
  console.log(`CareLedger devnet benchmark (${NODES} validator processes on loopback, node ${process.version})`)
  const runs = []
  for (let run = 1; run <= RUNS; run++) {
    const result = await oneRun(plan, clients)
    runs.push(result)
    console.log(
      `run ${run}: ${result.total} txs accepted in ${result.acceptSeconds.toFixed(2)} s, all final in ${result.finalSeconds.toFixed(2)} s over ${result.blocks} blocks (${result.lateRounds} needed a second round)`,
    )
  }
  const total = runs[0].total
  console.log(`median of ${RUNS} runs:`)
  console.log(`  accepted by the 4 nodes' RPC: ${Math.round(median(runs.map((r) => total / r.acceptSeconds)))} tx/s`)
  console.log(`  submitted to finalized (read on hospital 0): ${Math.round(median(runs.map((r) => total / r.finalSeconds)))} tx/s`)
  console.log(`  time until the last tx is final: ${median(runs.map((r) => r.finalSeconds)).toFixed(2)} s`)
} finally {
  await Promise.all(nodes.map((node) => stopNode(node)))
  rmSync(dir, {recursive: true, force: true})
}
