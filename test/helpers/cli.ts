/** A `careledger devnet` started as a user would (the bin or `npm run devnet`), read from its output. */
import {spawn, type ChildProcess} from "node:child_process"
import {join, resolve} from "node:path"
import {fileURLToPath} from "node:url"
import {eventually} from "./cluster.js"

export const REPO = resolve(fileURLToPath(new URL("../../..", import.meta.url)))
/** The committed launcher npm links as `careledger`. */
export const BIN = join(REPO, "packages/node/bin/careledger.js")

export class CliDevnet {
  private text = ""
  private readonly child: ChildProcess
  private readonly exited: Promise<unknown>

  /** Runs `command args` in its own process group, so stopping it reaches npm and the CLI behind it. */
  constructor(command: string, args: string[], cwd: string) {
    this.child = spawn(command, args, {cwd, detached: true, stdio: ["ignore", "pipe", "pipe"]})
    this.exited = new Promise((r) => this.child.once("exit", r))
    this.child.stdout!.on("data", (chunk: Buffer) => (this.text += chunk.toString()))
    this.child.stderr!.on("data", (chunk: Buffer) => (this.text += chunk.toString()))
  }

  output(): string {
    return this.text
  }

  /** The RPC URL of each hospital, once the devnet printed all `count` of them (it builds first). */
  async urls(count: number): Promise<Map<string, string>> {
    try {
      return await eventually(
        async () => {
          const found = [...this.text.matchAll(/^\s+(hosp-\d+)\s+rpc (http:\/\/127\.0\.0\.1:\d+)/gm)].map((m) => [m[1]!, m[2]!] as const)
          return found.length === count ? new Map(found) : undefined
        },
        `${count} RPC URLs printed`,
        600_000,
      )
    } catch (err) {
      throw new Error(`${(err as Error).message}; the devnet printed:\n${this.text.slice(-2000)}`)
    }
  }

  /** Ctrl-C: SIGINT to the process group; waits for the process to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    process.kill(-this.child.pid!, "SIGINT")
    await this.exited
  }
}
