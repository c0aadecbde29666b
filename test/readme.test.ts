/**
 * The README's commands, run as a new user would after `npm ci`: the devnet comes up (with the
 * health-data demo) and answers through `npx careledger`. Two deviations, both for the test's sake:
 * the devnet gets `--dir` in a temp dir instead of `.devnet/` in the checkout, and `npm ci && npm
 * test` is what CI itself runs, so it is only checked to be there.
 */
import {expect} from "chai"
import {spawn, spawnSync} from "node:child_process"
import {existsSync, readFileSync} from "node:fs"
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join, resolve} from "node:path"
import {fileURLToPath} from "node:url"
import {eventually} from "./helpers/cluster.js"

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)))
const README = readFileSync(join(REPO, "README.md"), "utf8")

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

function run(command: string, args: string[]): {status: number | null; stdout: string; stderr: string} {
  const result = spawnSync(command, args, {cwd: REPO, encoding: "utf8", timeout: 120_000})
  return {status: result.status, stdout: result.stdout, stderr: result.stderr}
}

describe("README commands (multi-process)", function () {
  this.timeout(600_000)
  let dir: string
  let devnet: ReturnType<typeof spawn> | undefined
  let exited: Promise<unknown> | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-readme-"))
  })
  after(async () => {
    if (devnet !== undefined && devnet.exitCode === null && devnet.signalCode === null) {
      process.kill(-devnet.pid!, "SIGTERM")
      await exited
    }
    await rm(dir, {recursive: true, force: true})
  })

  it("lists only commands this test runs", () => {
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
      ].sort(),
    )
  })

  it("brings up the devnet with the demo and answers through npx careledger", async () => {
    const devnetDir = join(dir, ".devnet")
    // `npm run devnet -- --demo` (the set-up command's `npm ci` is what CI ran before the tests).
    devnet = spawn("npm", ["run", "devnet", "--", "--demo", "--dir", devnetDir], {cwd: REPO, detached: true, stdio: ["ignore", "pipe", "pipe"]})
    exited = new Promise((r) => devnet!.once("exit", r))
    let output = ""
    devnet.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    devnet.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const urls = await eventually(
      async () => {
        const found = [...output.matchAll(/^\s+(hosp-\d+)\s+rpc (http:\/\/127\.0\.0\.1:\d+)/gm)].map((m) => [m[1]!, m[2]!] as const)
        return found.length === 4 ? new Map(found) : undefined
      },
      "four RPC URLs printed",
      300_000,
    )
    expect(output).to.contain(`try: npx careledger rpc chain_head --url ${urls.get("hosp-0")}`)

    const head = run("npx", ["careledger", "rpc", "chain_head", "--url", urls.get("hosp-0")!])
    expect(head.status, head.stderr).to.equal(0)
    expect(JSON.parse(head.stdout)).to.have.property("finalizedHeight").that.is.a("number")

    const help = run("npx", ["careledger", "--help"])
    expect(help.status, help.stderr).to.equal(0)
    expect(help.stdout).to.contain("usage: careledger")
    const commandHelp = run("npx", ["careledger", "rpc", "--help"])
    expect(commandHelp.status, commandHelp.stderr).to.equal(0)
    expect(commandHelp.stdout).to.contain("usage: careledger rpc")

    const patientKey = join(devnetDir, "demo-keys", "patient-3.key")
    await eventually(async () => (existsSync(patientKey) ? true : undefined), "the demo's key files", 300_000)
    const audit = run("npx", ["careledger", "health", "audit", "--key", patientKey, "--url", urls.get("hosp-1")!])
    expect(audit.status, audit.stderr).to.equal(0)
    // The README says the refused read is in patient 3's trail.
    expect(audit.stdout).to.contain("deny")

    // Ctrl-C (SIGINT to the terminal's process group) stops every node.
    process.kill(-devnet.pid!, "SIGINT")
    await exited
    for (const url of urls.values()) {
      await eventually(async () => ((await fetch(url, {method: "POST", body: "{}", headers: {"content-type": "application/json"}}).then(() => false, () => true)) ? true : undefined), `${url} stopped`)
    }
  })
})
