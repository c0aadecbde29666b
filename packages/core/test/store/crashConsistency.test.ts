import {expect} from "chai"
import {spawn, type ChildProcess} from "node:child_process"
import {fileURLToPath} from "node:url"
import {decode} from "../../src/encoding/index.js"
import {bytesEqual, utf8} from "../../src/encoding/bytes.js"
import {ChainStore} from "../../src/store/chainStore.js"
import {tempDir} from "./helpers.js"

const WRITER = fileURLToPath(new URL("./fixtures/crashWriter.js", import.meta.url))
const KILLS = 20

/** mulberry32: a seeded PRNG so a failing run can be replayed with its printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Run {
  /** Highest height the child reported as committed. */
  reported: number
  /** Highest height whose vote record the child reported as persisted. */
  voted: number
  code: number | null
  signal: NodeJS.Signals | null
}

/**
 * Runs the writer and SIGKILLs it: `delayMs` after it spawned when `afterReady` is false (a kill
 * during start-up, open or genesis), else `delayMs` after it reported ready (a kill among commits).
 */
function runAndKill(child: ChildProcess, delayMs: number, afterReady: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    let reported = -1
    let voted = -1
    let buffered = ""
    let timer: NodeJS.Timeout | undefined
    const arm = (): void => {
      timer ??= setTimeout(() => child.kill("SIGKILL"), delayMs)
    }
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (chunk: string) => {
      buffered += chunk
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      for (const line of lines) {
        if (line.startsWith("ready")) arm()
        if (/^\d+$/.test(line)) reported = Math.max(reported, Number(line))
        const vote = /^vote (\d+)$/.exec(line)
        if (vote !== null) voted = Math.max(voted, Number(vote[1]))
      }
    })
    let stderr = ""
    child.stderr!.setEncoding("utf8")
    child.stderr!.on("data", (chunk: string) => (stderr += chunk))
    if (!afterReady) arm()
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      if (signal !== "SIGKILL") reject(new Error(`writer exited on its own (code ${code}): ${stderr}`))
      else resolve({reported, voted, code, signal})
    })
  })
}

describe("store/crash consistency", function () {
  this.timeout(90_000)
  let child: ChildProcess | undefined
  let removeDir: (() => void) | undefined

  afterEach(function () {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    removeDir?.()
  })

  it(`opens consistent after ${KILLS} SIGKILLs at random points, missing no reported block`, async function () {
    const seed = Number(process.env["CRASH_SEED"] ?? Date.now() % 1_000_000)
    const random = prng(seed)
    const {dir, remove} = tempDir("crash")
    removeDir = remove
    let highestReported = 0
    let verifiedUpTo = 0
    let killedMidWrite = 0
    let previousHead = 0
    for (let round = 0; round < KILLS; round++) {
      // One kill in five lands during start-up; the rest among commits, at a random instant.
      const duringStartup = random() < 0.2
      const delay = duringStartup ? Math.floor(random() * 250) : 10 + Math.floor(random() * 250)
      child = spawn(process.execPath, [WRITER, dir], {stdio: ["ignore", "pipe", "pipe"]})
      const run = await runAndKill(child, delay, !duringStartup)
      highestReported = Math.max(highestReported, run.reported)

      const store = await ChainStore.open({dir}).catch((err: Error) => {
        throw new Error(`seed ${seed}, kill ${round}: store does not open: ${err.message}`)
      })
      try {
        if (!store.isInitialized) {
          expect(highestReported, `seed ${seed}: a block was reported but genesis is gone`).to.be.lessThan(1)
          continue
        }
        const head = store.head()
        const context = `seed ${seed}, kill ${round}, head ${head.height}, reported ${highestReported}`
        expect(head.height, context).to.be.at.least(highestReported)
        // One commit is in flight at a time: a kill can land after it is durable but before its report.
        expect(head.height, `${context}: more than the in-flight block appeared`).to.be.at.most(Math.max(run.reported, previousHead) + 1)
        if (head.height > Math.max(run.reported, previousHead)) killedMidWrite++
        previousHead = head.height
        // Every block the state was built from is there, linked, certified and indexed.
        for (let h = Math.max(1, verifiedUpTo); h <= head.height; h++) {
          const block = await store.getBlock(h)
          expect(block, `${context}: block ${h} missing`).to.not.equal(undefined)
          const parent = await store.getBlock(h - 1)
          expect(bytesEqual(block!.header.parentHash, parent!.hash()), `${context}: block ${h} not linked`).to.equal(true)
          expect((await store.getCommit(h))?.height, `${context}: commit ${h}`).to.equal(h)
          for (const [index, tx] of block!.txs.entries()) {
            expect(await store.getTxLocation(tx.hash()), `${context}: tx index`).to.deep.equal({height: h, index})
          }
        }
        verifiedUpTo = head.height
        const state = store.state()
        if (head.height > 0) {
          expect(decode((await state.get("test/height"))!), context).to.equal(head.height)
          expect(await state.get(`test/block/${head.height}`), context).to.deep.equal(utf8(`block ${head.height}`))
          expect(await state.get(`test/block/${head.height - 2}`), context).to.equal(undefined)
        }
        expect(await store.getBlock(head.height + 1), context).to.equal(undefined)
        // A vote announced for the height being decided when the kill came is still on disk.
        if (run.voted > head.height) {
          expect(await store.getConsensusRecord(`vote/${run.voted}`), `${context}: vote ${run.voted} lost`).to.deep.equal(utf8(`precommit ${run.voted}`))
        }
      } finally {
        await store.close()
      }
    }
    expect(highestReported, `seed ${seed}: the writer never got to commit`).to.be.greaterThan(0)
    // Informational: how often the kill landed after a durable write but before its report.
    this.test!.title += ` (seed ${seed}, ${highestReported} blocks, ${killedMidWrite} kills left the in-flight block committed)`
  })
})
