#!/usr/bin/env node
// The `careledger` command. npm links a package's bin at install time, before any build, so the bin
// is this committed launcher: it runs the built CLI, and in a source checkout where the build has
// not run yet it builds first (once).
import {spawnSync} from "node:child_process"
import {existsSync} from "node:fs"
import {fileURLToPath} from "node:url"

const cli = new URL("../dist/src/cli/main.js", import.meta.url)
if (!existsSync(fileURLToPath(cli))) {
  const root = fileURLToPath(new URL("../../../", import.meta.url))
  if (!existsSync(`${root}package.json`) || !existsSync(`${root}packages/node/tsconfig.json`)) {
    process.stderr.write("careledger: the CLI is not built and this is not a source checkout; reinstall the package\n")
    process.exit(1)
  }
  process.stderr.write("careledger: building CareLedger once (npm run build)...\n")
  const npm = process.platform === "win32" ? "npm.cmd" : "npm"
  const build = spawnSync(npm, ["run", "build", "--silent"], {cwd: root, stdio: ["ignore", "inherit", "inherit"]})
  if (build.status !== 0 || !existsSync(fileURLToPath(cli))) {
    process.stderr.write("careledger: the build failed; run `npm run build` to see why\n")
    process.exit(1)
  }
}
await import(cli.href)
