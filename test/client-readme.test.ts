/**
 * packages/client/README.md as an integrator follows it: the two packages are packed and installed
 * into an empty directory, the README's snippets are joined into quickstart.mjs there, and it runs
 * against a real one-node devnet with the hospital's key file.
 */
import {expect} from "chai"
import {spawnSync} from "node:child_process"
import {readFileSync, readdirSync, writeFileSync} from "node:fs"
import {mkdir, mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join, resolve} from "node:path"
import {fileURLToPath} from "node:url"
import {prepareDevnet, spawnNode, stopNode, waitForRpc, type RunningNode} from "@careledger/node"

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)))
const README = readFileSync(join(REPO, "packages/client/README.md"), "utf8")

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  const result = spawnSync(command, args, {cwd, encoding: "utf8", timeout: 300_000, env: {...process.env, ...env}})
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

describe("client README snippets (multi-process)", function () {
  this.timeout(600_000)
  let dir: string
  let node: RunningNode | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-client-readme-"))
  })
  after(async () => {
    if (node !== undefined) await stopNode(node)
    await rm(dir, {recursive: true, force: true})
  })

  it("installs the packed packages into an empty project and runs every snippet against a devnet", async () => {
    // The README's install: npm pack of both packages, then npm install of the two tarballs.
    const pack = /^npm pack (.+) --pack-destination \/tmp\/careledger$/m.exec(README)
    expect(pack, "the README's npm pack command").to.not.equal(null)
    const tarballs = join(dir, "tarballs")
    await mkdir(tarballs)
    run("npm", ["pack", ...pack![1]!.split(" "), "--pack-destination", tarballs], REPO)
    const app = join(dir, "my-ehr-gateway")
    await mkdir(app)
    writeFileSync(join(app, "package.json"), JSON.stringify({name: "my-ehr-gateway", private: true, type: "module"}))
    const files = readdirSync(tarballs).sort()
    expect(files).to.deep.equal(["careledger-client-0.1.0.tgz", "careledger-core-0.1.0.tgz"])
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...files.map((f) => join(tarballs, f))], app)

    const plan = await prepareDevnet(join(dir, "devnet"), {nodes: 1, blockIntervalMs: 200})
    node = spawnNode(plan.nodes[0]!)
    await waitForRpc(plan.nodes[0]!.rpcUrl, 120_000)

    const snippets = [...README.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!)
    expect(snippets.length).to.be.at.least(7)
    writeFileSync(join(app, "quickstart.mjs"), snippets.join("\n"))
    const out = run("node", ["quickstart.mjs"], app, {
      CARELEDGER_RPC_URL: plan.nodes[0]!.rpcUrl,
      HOSPITAL_KEY: join(plan.nodes[0]!.dataDir, "node.key"),
    })
    expect(out).to.contain(`chain ${plan.chainId}; acting for hosp-0`)
    expect(out).to.match(/^read obs-\d+: release under consent [0-9a-f]+, value 6.1$/m)
    expect(out).to.match(/^refused after revocation: -32017 CONSENT_REVOKED$/m)
    expect(out).to.match(/^audit: .* release obs-\d+ for treatment/m)
    expect(out).to.match(/^audit: .* deny obs-\d+ for treatment/m)
  })
})
