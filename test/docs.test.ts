/**
 * The documentation, run as written against one devnet with the health-data demo, brought up with
 * the README's own command (`npm run devnet -- --demo`; the set-up's `npm ci` is what CI ran first):
 * - README.md: its commands (`npx careledger rpc`, `--help`, `health audit`);
 * - docs/rpc.md: every `sh` example, from the directory holding `.devnet/`, with CARELEDGER_RPC_URL
 *   (hosp-3), HOSP1_RPC_URL and HOSP2_RPC_URL set as the document says; an example followed by an error
 *   object must fail with that code, any other must succeed and print JSON;
 * - packages/client/README.md: the two packages packed and installed into an empty project, the
 *   snippets joined into quickstart.mjs and run with hosp-2's key (hosp-0's key is busy with the
 *   demo's enrolments, hosp-3's with the rpc.md examples).
 * Deviations for the test's sake: the devnet gets `--dir` in a temp dir, not `.devnet/` in the
 * checkout, and `--block-interval 2500`. The demo's examples (README's `health audit`, rpc.md's
 * `health read`) need the demo to have finished; when it stopped (it stops at the first refused
 * call, e.g. -32016 from a node lagging on an overloaded machine) those are reported as pending,
 * with the demo's error, and everything else still runs.
 */
import {expect} from "chai"
import {spawnSync} from "node:child_process"
import {chmodSync, existsSync, readFileSync, readdirSync, writeFileSync} from "node:fs"
import {mkdir, mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {eventually, sleep} from "./helpers/cluster.js"
import {BIN, CliDevnet, REPO} from "./helpers/cli.js"

const README = readFileSync(join(REPO, "README.md"), "utf8")
const RPC_DOC = readFileSync(join(REPO, "docs/rpc.md"), "utf8")
const CLIENT_README = readFileSync(join(REPO, "packages/client/README.md"), "utf8")

/** Every shell command the README shows: lines of ```sh blocks and inline `npm ...` / `npx ...`. */
function readmeCommands(): string[] {
  const commands: string[] = []
  for (const block of README.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split("\n")) {
      const command = line.replace(/\s+#.*$/, "").trim()
      if (command !== "") commands.push(command)
    }
  }
  for (const inline of README.matchAll(/`((?:npm|npx) [^`]+)`/g)) commands.push(inline[1]!)
  return [...new Set(commands)]
}

interface Example {
  command: string
  /** The JSON block right after the example, when there is one. */
  expected: string | undefined
}

/** Each command of every ```sh block (backslash continuations joined), with the block after it. */
function examples(markdown: string): Example[] {
  const blocks = [...markdown.matchAll(/```(\w*)\n([\s\S]*?)```\n?/g)].map((m) => ({lang: m[1]!, body: m[2]!, start: m.index, end: m.index + m[0].length}))
  const out: Example[] = []
  for (const [i, block] of blocks.entries()) {
    if (block.lang !== "sh") continue
    const next = blocks[i + 1]
    const expected = next !== undefined && next.lang === "json" && next.start === block.end ? next.body : undefined
    const commands = block.body.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
    for (const command of commands) out.push({command, expected})
  }
  return out
}

function run(command: string, args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv} = {}): {status: number | null; stdout: string; stderr: string} {
  const result = spawnSync(command, args, {cwd: options.cwd ?? REPO, env: options.env ?? process.env, encoding: "utf8", timeout: 300_000})
  return {status: result.status, stdout: result.stdout, stderr: result.stderr}
}

function succeed(command: string, args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv} = {}): string {
  const result = run(command, args, options)
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

describe("documentation, run as written (multi-process, one devnet with the demo)", function () {
  this.timeout(900_000)
  let dir: string
  let devnet: CliDevnet
  let urls: Map<string, string>
  /** Why the demo did not finish, when it did not. */
  let demoFailure: string | undefined
  const needsDemo = (test: Mocha.Context): void => {
    if (demoFailure === undefined) return
    console.warn(`    skipped: the devnet's demo stopped (${demoFailure})`)
    test.skip()
  }

  before(async function () {
    this.timeout(900_000)
    dir = await mkdtemp(join(tmpdir(), "careledger-docs-"))
    // A slower block pace keeps a node loaded by the demo within the few blocks of its peers that
    // the node requires before it takes a transaction (-32016 otherwise), on a busy CI machine too.
    devnet = new CliDevnet("npm", ["run", "devnet", "--", "--demo", "--dir", join(dir, ".devnet"), "--block-interval", "2500"], REPO)
    urls = await devnet.urls(4)
    // The demo either finishes or says it stopped.
    for (const deadline = Date.now() + 300_000; ; await sleep(250)) {
      const stopped = /health demo stopped: (.*)/.exec(devnet.output())
      if (stopped !== null) {
        demoFailure = stopped[1]!
        break
      }
      if (devnet.output().includes("pre-registered DEMO-TRIAL-1") && existsSync(join(dir, ".devnet/demo-keys/demo.json"))) break
      if (Date.now() > deadline) throw new Error("timed out waiting for the demo")
    }
  })
  after(async () => {
    await devnet?.stop()
    await rm(dir, {recursive: true, force: true})
  })

  it("README: lists only commands this test runs", () => {
    expect(readmeCommands().sort()).to.deep.equal(
      [
        "npm ci && npm run devnet",
        "npm run devnet -- --demo",
        "npx careledger health audit --key .devnet/demo-keys/patient-3.key --url <hosp-1 rpc url>",
        "npx careledger rpc chain_head --url <a printed RPC URL>",
        "npx careledger --help",
        "npx careledger COMMAND --help",
        "npm ci && npm test",
        // Mentioned in prose: the set-up command, the build, the command itself.
        "npm ci",
        "npm run build",
        "npx careledger",
        "npm run sim -- --seeds N --validators K",
        "npm run bench",
        "npm run bench:devnet",
        // The opt-in hospital add/remove procedure (test/operations.test.ts).
        "npm run test:operations",
      ].sort(),
    )
  })

  it("README: the devnet answers through npx careledger", () => {
    expect(devnet.output()).to.contain(`try: npx careledger rpc chain_head --url ${urls.get("hosp-0")}`)
    const head = JSON.parse(succeed("npx", ["careledger", "rpc", "chain_head", "--url", urls.get("hosp-0")!])) as {finalizedHeight: unknown}
    expect(head.finalizedHeight).to.be.a("number")
    expect(succeed("npx", ["careledger", "--help"])).to.contain("usage: careledger")
    expect(succeed("npx", ["careledger", "rpc", "--help"])).to.contain("usage: careledger rpc")
  })

  it("README: the demo's people can go on by hand (health audit)", function () {
    needsDemo(this)
    // `--key .devnet/demo-keys/patient-3.key --url <hosp-1 rpc url>`; the refused read is in that trail.
    const audit = succeed("npx", ["careledger", "health", "audit", "--key", join(dir, ".devnet/demo-keys/patient-3.key"), "--url", urls.get("hosp-1")!])
    expect(audit).to.contain('"deny"')
  })

  it("rpc.md: no … placeholder in any example command", () => {
    const found = examples(RPC_DOC)
    expect(found.length).to.be.at.least(8)
    for (const {command} of found) expect(command, command).to.not.contain("…")
  })

  it("rpc.md: every example runs as written", async function () {
    // `careledger` on the PATH, as after a global install (in the checkout: npx careledger).
    const bin = join(dir, "bin")
    await mkdir(bin)
    writeFileSync(join(bin, "careledger"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`)
    chmodSync(join(bin, "careledger"), 0o755)
    const env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ""}`,
      CARELEDGER_RPC_URL: urls.get("hosp-3")!,
      HOSP1_RPC_URL: urls.get("hosp-1")!,
      HOSP2_RPC_URL: urls.get("hosp-2")!,
    }
    const failures: string[] = []
    const all = examples(RPC_DOC)
    const runnable = demoFailure === undefined ? all : all.filter(({command}) => !command.includes("demo-keys") && !command.includes("DEMO-"))
    for (const {command, expected} of runnable) {
      const result = run("bash", ["-c", command], {cwd: dir, env})
      const errorCode = expected === undefined ? undefined : /^\s*\{"code":(-\d+)/.exec(expected)?.[1]
      if (errorCode !== undefined) {
        if (result.status !== 1 || !result.stderr.includes(`RPC error ${errorCode}`)) {
          failures.push(`${command}\n  expected RPC error ${errorCode}, got exit ${result.status}: ${result.stderr}${result.stdout}`)
        }
        continue
      }
      if (result.status !== 0) {
        failures.push(`${command}\n  exit ${result.status}: ${result.stderr}`)
        continue
      }
      try {
        JSON.parse(result.stdout)
      } catch {
        failures.push(`${command}\n  did not print JSON: ${result.stdout}`)
      }
    }
    expect(failures, failures.join("\n")).to.deep.equal([])
    if (runnable.length < all.length) needsDemo(this)
  })

  it("client README: the packed packages install into an empty project and every snippet runs", async () => {
    const pack = /^npm pack (.+) --pack-destination \/tmp\/careledger$/m.exec(CLIENT_README)
    expect(pack, "the README's npm pack command").to.not.equal(null)
    const tarballs = join(dir, "tarballs")
    await mkdir(tarballs)
    succeed("npm", ["pack", ...pack![1]!.split(" "), "--pack-destination", tarballs])
    const app = join(dir, "my-ehr-gateway")
    await mkdir(app)
    writeFileSync(join(app, "package.json"), JSON.stringify({name: "my-ehr-gateway", private: true, type: "module"}))
    const files = readdirSync(tarballs).sort()
    expect(files).to.deep.equal(["careledger-client-0.1.0.tgz", "careledger-core-0.1.0.tgz"])
    succeed("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...files.map((f) => join(tarballs, f))], {cwd: app})

    const snippets = [...CLIENT_README.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!)
    expect(snippets.length).to.be.at.least(7)
    writeFileSync(join(app, "quickstart.mjs"), snippets.join("\n"))
    const out = succeed("node", ["quickstart.mjs"], {
      cwd: app,
      env: {...process.env, CARELEDGER_RPC_URL: urls.get("hosp-2")!, HOSPITAL_KEY: join(dir, ".devnet/node-2/node.key")},
    })
    expect(out).to.match(/^chain careledger-devnet; acting for hosp-2 /m)
    expect(out).to.match(/^read obs-\d+: release under consent [0-9a-f]+, value 6.1$/m)
    expect(out).to.match(/^refused after revocation: -32017 CONSENT_REVOKED$/m)
    expect(out).to.match(/^audit: .* release obs-\d+ for treatment/m)
    expect(out).to.match(/^audit: .* deny obs-\d+ for treatment/m)
  })

  it("README: Ctrl-C stops every node", async () => {
    await devnet.stop()
    for (const url of urls.values()) {
      const stopped = async () => ((await fetch(url, {method: "POST", body: "{}", headers: {"content-type": "application/json"}}).then(() => false, () => true)) ? true : undefined)
      await eventually(stopped, `${url} stopped`)
    }
  })
})
