/**
 * Flood benchmark: an admitted observer hospital publishes hundreds of maximal proposals signed by
 * throwaway keys to a validator running as its own process, and the validator's resident memory
 * (RSS) is reported before, at its peak during and after the flood, with whether it kept finalizing.
 * Figures depend on the machine and its load, so they are reported, never asserted.
 * Run: `npm run bench:flood` (BENCH_FLOOD_PROPOSALS, BENCH_FLOOD_TXS to change the flood).
 */
import {mkdtemp, readFile, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {Block, PrivateKey, Purpose, Transaction, TxType, encodeConsensusFrame, signProposal} from "@careledger/core"
import {NetworkHost} from "@careledger/network"
import {CareLedgerClient} from "@careledger/client"
import {loadOrCreateNodeKey, prepareDevnet, spawnNode, stopNode, waitForRpc} from "../src/index.js"

const PROPOSALS = Number(process.env.BENCH_FLOOD_PROPOSALS ?? 400)
/** About 1,760 grants of 32 record ids make a block of close to 4 MiB, the largest a proposal can carry. */
const TXS = Number(process.env.BENCH_FLOOD_TXS ?? 1760)
const CHAIN_ID = "flood-bench"

const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8")
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN)
  return Math.round((kib / 1024) * 10) / 10
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "careledger-bench-flood-"))
  const plan = await prepareDevnet(join(dir, "devnet"), {nodes: 1, observers: 1, chainId: CHAIN_ID, blockIntervalMs: 500})
  const validator = plan.nodes[0]!
  const observer = plan.nodes[1]!
  const running = spawnNode(validator, [], process.env)
  let flooder: NetworkHost | undefined
  try {
    await waitForRpc(validator.rpcUrl, 60_000)
    const client = new CareLedgerClient({url: validator.rpcUrl, timeoutMs: 10_000})
    const pid = running.child.pid!
    const observerKey = loadOrCreateNodeKey(observer.dataDir).key
    flooder = new NetworkHost(
      {chainId: CHAIN_ID, members: [validator.key], bootstrap: [`/ip4/127.0.0.1/tcp/${validator.p2pPort}/p2p/${validator.peerId}`], heartbeatMs: 200},
      {
        privateKey: observerKey,
        gossipHandlers: {tx: async () => "ignore", consensus: async () => "ignore"},
        getStatus: () => ({headHeight: 0, headHash: new Uint8Array(32), finalizedHeight: 0, finalizedHash: new Uint8Array(32)}),
        readBlocks: async function* () {},
      },
    )
    await flooder.start()
    for (let i = 0; i < 400 && !flooder.topicPeers("consensus").includes(validator.peerId); i++) await sleep(50)

    // Legal transactions of valid size, shared by every block (distinct headers make distinct blocks).
    const recordIds = Array.from({length: 32}, (_, i) => `${String(i).padStart(3, "0")}-${"r".repeat(60)}`)
    const filler = Array.from({length: TXS}, (_, nonce) =>
      Transaction.sign(
        {
          chainId: CHAIN_ID,
          type: TxType.ConsentGrant,
          nonce,
          payload: {grantee: {kind: "hospital", hospital: "hosp-a"}, scope: {kind: "records", recordIds}, purposes: [Purpose.Treatment], expiresAt: 2_000_000_000_000},
        },
        observerKey,
      ),
    )
    await sleep(2000)
    const before = await rssMiB(pid)
    const headBefore = (await client.head()).height
    let peak = before
    let sent = 0
    let refused = 0
    let bytes = 0
    const started = Date.now()
    for (let i = 0; i < PROPOSALS; i++) {
      const throwaway = PrivateKey.generate()
      const height = headBefore + 1 + (i % 3)
      const block = Block.create(
        {
          chainId: CHAIN_ID,
          height,
          round: 0,
          parentHash: new Uint8Array(32),
          timestamp: Date.now() + i,
          proposer: throwaway.publicKey,
          stateRoot: new Uint8Array(32),
          validatorsHash: new Uint8Array(32),
          lastCommit: null,
        },
        filler,
      )
      const frame = encodeConsensusFrame(signProposal({chainId: CHAIN_ID, height, round: 0, validRound: -1, block}, throwaway), i)
      try {
        await flooder.publish("consensus", frame)
        sent++
        bytes += frame.length
      } catch {
        refused++
      }
      if (i % 10 === 0) peak = Math.max(peak, await rssMiB(pid))
    }
    const floodMs = Date.now() - started
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, await rssMiB(pid))
      await sleep(250)
    }
    const after = await rssMiB(pid)
    const headAfter = (await client.head()).height
    out(`flood: ${sent} proposals of ${Math.round(bytes / Math.max(sent, 1) / 1024)} KiB from throwaway keys in ${(floodMs / 1000).toFixed(1)} s (${refused} refused by our own publisher)`)
    out(`validator RSS: before ${before} MiB, peak ${peak} MiB, after ${after} MiB (growth ${Math.round((after - before) * 10) / 10} MiB)`)
    out(`validator kept finalizing: height ${headBefore} -> ${headAfter}`)
  } finally {
    await flooder?.stop()
    await stopNode(running, 10_000)
    await rm(dir, {recursive: true, force: true})
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-flood failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
