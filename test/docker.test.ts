/**
 * The 4-hospital docker-compose network, end to end (opt-in: needs a Docker daemon and takes a few
 * minutes): builds the base image and the node image from this checkout, writes the network with
 * `careledger compose --nodes 4`, brings it up, checks that every hospital finalizes the same chain,
 * stops one container and checks the other three keep finalizing, restarts it and checks it catches
 * up, kills another with SIGKILL and checks it restarts from its volume and catches up, then tears
 * everything down (containers, network, volumes, the images it built).
 *
 *   npm run test:docker                                        (= CARELEDGER_DOCKER_TEST=1 mocha ...)
 *   CARELEDGER_DOCKER_IMAGE=careledger:local npm run test:docker   (use an existing image; not removed)
 */
import {expect} from "chai"
import {execFile} from "node:child_process"
import {mkdtempSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {dirname, join, resolve} from "node:path"
import {fileURLToPath} from "node:url"
import {promisify} from "node:util"
import {CLI_PATH} from "@careledger/node"
import {eventually} from "./helpers/cluster.js"

const run = promisify(execFile)
const ENABLED = process.env.CARELEDGER_DOCKER_TEST === "1"
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
const HOSPITALS = ["hospital-0", "hospital-1", "hospital-2", "hospital-3"]
/**
 * Bound of every wait on the network. Each poll runs `careledger rpc` in a container (a node start
 * per call), so on a busy 2-core machine a poll of four hospitals alone takes several seconds.
 */
const WAIT_MS = 300_000

interface Head {
  finalizedHeight: number
  finalizedHash: string
}

describe(`docker-compose network of 4 hospitals${ENABLED ? "" : " (skipped: set CARELEDGER_DOCKER_TEST=1 or run npm run test:docker; needs a Docker daemon)"}`, function () {
  this.timeout(15 * 60_000)
  let dir: string
  let project: string
  let compose: string[]
  let image: string
  const built: string[] = []
  let up = false

  const composeRun = (...args: string[]) =>
    run(compose[0]!, [...compose.slice(1), "-p", project, "-f", join(dir, "docker-compose.yml"), ...args], {cwd: dir, maxBuffer: 16 * 1024 * 1024})

  /** `careledger rpc` inside a hospital's container, with its own token from rpc.env. */
  async function rpc<T>(hospital: string, method: string, ...params: string[]): Promise<T> {
    const {stdout} = await composeRun("exec", "-T", hospital, "careledger", "rpc", method, ...params)
    return JSON.parse(stdout) as T
  }

  const head = (hospital: string) => rpc<Head>(hospital, "chain_head")
  const heads = (hospitals: string[]) => Promise.all(hospitals.map(head))

  /** Resolves once every listed hospital has finalized `blocks` more blocks than in `from`. */
  async function grows(hospitals: string[], from: Head[], blocks: number, what: string): Promise<Head[]> {
    let seen: Head[] = from
    try {
      return await eventually(
        async () => {
          seen = await heads(hospitals)
          return seen.every((h, i) => h.finalizedHeight >= from[i]!.finalizedHeight + blocks) ? seen : undefined
        },
        what,
        WAIT_MS,
      )
    } catch (err) {
      // Say where each node got stuck, with the end of its log, so a failure can be read from CI output.
      const logs = await composeRun("logs", "--no-color", "--tail", "15", ...hospitals).then(
        (r) => r.stdout,
        (e: Error) => e.message,
      )
      const heights = hospitals.map((h, i) => `${h} ${from[i]!.finalizedHeight} -> ${seen[i]!.finalizedHeight}`).join(", ")
      throw new Error(`${(err as Error).message}; finalized heights ${heights}\n${logs}`)
    }
  }

  async function sameHashAt(hospitals: string[], height: number): Promise<void> {
    const hashes = await Promise.all(hospitals.map(async (h) => (await rpc<{hash: string} | null>(h, "chain_getBlock", JSON.stringify({height})))?.hash))
    expect(hashes[0], `block ${height}`).to.be.a("string")
    expect(new Set(hashes).size, `hashes at height ${height}: ${hashes.join(" ")}`).to.equal(1)
  }

  before(async function () {
    if (!ENABLED) this.skip()
    await run("docker", ["info"]).catch((err: Error) => {
      throw new Error(`CARELEDGER_DOCKER_TEST=1 but the Docker daemon does not answer: ${err.message}`)
    })
    compose = await run("docker", ["compose", "version"]).then(
      () => ["docker", "compose"],
      () => ["docker-compose"],
    )
    const tag = `test-${process.pid}`
    if (process.env.CARELEDGER_DOCKER_IMAGE !== undefined) {
      image = process.env.CARELEDGER_DOCKER_IMAGE
    } else {
      const base = `careledger-base:${tag}`
      image = `careledger:${tag}`
      await run(join(REPO, "scripts/docker-base-image.sh"), [base], {cwd: REPO})
      built.push(base)
      await run(join(REPO, "scripts/docker-build.sh"), [image], {cwd: REPO, env: {...process.env, BASE_IMAGE: base}, maxBuffer: 64 * 1024 * 1024})
      built.push(image)
    }
    dir = mkdtempSync(join(tmpdir(), "careledger-docker-"))
    project = `careledger${tag.replace(/-/g, "")}`
    await run(process.execPath, [CLI_PATH, "compose", "--nodes", "4", "--out", dir, "--image", image, "--chain-id", "docker-test", "--network", "p2p"])
    up = true
    await composeRun("up", "-d")
  })

  after(async function () {
    if (!ENABLED) return
    if (up) await composeRun("down", "-v", "--remove-orphans").catch(() => undefined)
    if (dir !== undefined) rmSync(dir, {recursive: true, force: true})
    // Only images this test built are removed; an image named by CARELEDGER_DOCKER_IMAGE is the caller's.
    for (const tag of built.reverse()) await run("docker", ["image", "rm", tag]).catch(() => undefined)
  })

  it("finalizes blocks on every hospital, all with the same hash at a height", async () => {
    const start = await eventually(async () => heads(HOSPITALS), "every hospital's RPC to answer", WAIT_MS)
    const later = await grows(HOSPITALS, start, 3, "every hospital to finalize 3 more blocks")
    await sameHashAt(HOSPITALS, Math.min(...later.map((h) => h.finalizedHeight)))
  })

  it("keeps finalizing on the other three while one container is stopped, and the restarted one catches up", async () => {
    const [stopped, ...others] = HOSPITALS as [string, ...string[]]
    await composeRun("stop", stopped)
    const before = await heads(others)
    const after = await grows(others, before, 3, "the three remaining hospitals to finalize 3 more blocks")
    await sameHashAt(others, Math.min(...after.map((h) => h.finalizedHeight)))

    await composeRun("start", stopped)
    const target = Math.max(...after.map((h) => h.finalizedHeight))
    await eventually(async () => ((await head(stopped)).finalizedHeight >= target ? true : undefined), `${stopped} to catch up to height ${target}`, WAIT_MS)
    await sameHashAt(HOSPITALS, target)
  })

  it("a container killed with SIGKILL (docker kill) starts again from its volume and catches up", async () => {
    const victim = HOSPITALS[2]!
    const others = HOSPITALS.filter((h) => h !== victim)
    await composeRun("kill", "-s", "SIGKILL", victim)
    const before = await heads(others)
    const after = await grows(others, before, 2, `the three hospitals other than ${victim} to finalize 2 more blocks`)
    await composeRun("start", victim)
    const target = Math.max(...after.map((h) => h.finalizedHeight))
    await eventually(async () => ((await head(victim)).finalizedHeight >= target ? true : undefined), `${victim} to catch up to height ${target} after SIGKILL`, WAIT_MS)
    await grows(HOSPITALS, await heads(HOSPITALS), 2, "all four hospitals to finalize 2 more blocks after the restart")
    await sameHashAt(HOSPITALS, target)
  })
})
