/**
 * Multi-process test helpers: a devnet of real `careledger start` processes on loopback, each
 * cleaned up by `stopAll` (SIGTERM, then SIGKILL after a grace period).
 */
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {CareLedgerClient, RpcError} from "@careledger/client"
import {prepareDevnet, spawnNode, stopNode, waitForRpc, type DevnetPlan, type DevnetNodeSpec, type PrepareOptions, type RunningNode} from "@careledger/node"

/** Awaits a call that must be refused over JSON-RPC and returns the error; any other outcome fails the test. */
export async function rpcFailure(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call
  } catch (err) {
    if (err instanceof RpcError) return err
    throw err
  }
  throw new Error("expected the call to be refused with an RPC error")
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` until it returns a value other than undefined; fails naming `what` after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError === undefined ? "" : ` (last error: ${(lastError as Error).message})`}`)
    await sleep(250)
  }
}

export class Cluster {
  readonly running = new Map<number, RunningNode>()

  private constructor(
    readonly dir: string,
    readonly plan: DevnetPlan,
  ) {}

  static async create(options: PrepareOptions): Promise<Cluster> {
    const dir = await mkdtemp(join(tmpdir(), "careledger-cluster-"))
    return new Cluster(dir, await prepareDevnet(join(dir, "devnet"), options))
  }

  spec(index: number): DevnetNodeSpec {
    return this.plan.nodes[index]!
  }

  start(index: number, extraArgs: string[] = []): RunningNode {
    const node = spawnNode(this.spec(index), extraArgs, process.env)
    this.running.set(index, node)
    return node
  }

  /** The node answers RPC and is not behind its peers (a node still catching up refuses submissions). */
  async ready(index: number, token?: string): Promise<void> {
    await waitForRpc(this.spec(index).rpcUrl, 60_000, token)
    await eventually(async () => ((await this.client(index, token).nodeInfo()).syncing ? undefined : true), `node ${index} in sync`)
  }

  client(index: number, token?: string): CareLedgerClient {
    return new CareLedgerClient({url: this.spec(index).rpcUrl, timeoutMs: 5000, ...(token === undefined ? {} : {token})})
  }

  /** SIGKILL: no shutdown code runs, as when a machine loses power. */
  async kill(index: number): Promise<void> {
    const node = this.running.get(index)
    if (node === undefined) return
    node.child.kill("SIGKILL")
    await node.exited
    this.running.delete(index)
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((node) => stopNode(node, 10_000)))
    this.running.clear()
  }

  async destroy(): Promise<void> {
    await this.stopAll()
    await rm(this.dir, {recursive: true, force: true})
  }
}
