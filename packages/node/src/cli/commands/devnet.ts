import {parseArgs} from "node:util"
import {join} from "node:path"
import {CareLedgerClient, TxSender} from "@careledger/client"
import {PrivateKey, Role} from "@careledger/core"
import {prepareDevnet, spawnNode, stopNode, waitForRpc, type RunningNode} from "../../devnet/index.js"
import {readKeyFile} from "../../keystore/index.js"
import {seedHealthDemo} from "../../health/demo.js"
import {intArg, UsageError, type CliIo} from "../io.js"

interface NodeStatus {
  height: number | null
  peers: number | null
  txRate: number | null
}

/**
 * Runs a local consortium: N validator nodes as separate processes on loopback, a status line, and
 * a clean stop of every node it started on Ctrl-C or SIGTERM.
 */
export async function devnetCommand(args: string[], io: CliIo): Promise<number> {
  const {values} = parseArgs({
    args,
    options: {
      nodes: {type: "string", default: "4"},
      dir: {type: "string", default: ".devnet"},
      fresh: {type: "boolean"},
      demo: {type: "boolean"},
      "block-interval": {type: "string"},
    },
    strict: true,
  })
  const count = intArg("--nodes", values.nodes)
  if (count < 1 || count > 16) throw new UsageError("--nodes must be 1..16")
  const plan = await prepareDevnet(values.dir, {
    nodes: count,
    fresh: values.fresh === true,
    ...(values["block-interval"] === undefined ? {} : {blockIntervalMs: intArg("--block-interval", values["block-interval"])}),
  })
  io.out(`devnet ${plan.chainId}: ${count} validators in ${plan.dir}${values.fresh === true ? " (fresh)" : ""}`)
  const running: RunningNode[] = plan.nodes.map((spec) => spawnNode(spec, [], io.env))
  let stopping = false
  const stopAll = async (): Promise<void> => {
    stopping = true
    await Promise.all(running.map((node) => stopNode(node)))
  }
  // Timers (status line, demo traffic) end before the nodes, so nothing talks to a stopping node.
  const cleanups: (() => void)[] = []
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      if (stopping) return
      stopping = true
      for (const cleanup of cleanups) cleanup()
      io.out("\nstopping every devnet node...")
      void stopAll().then(resolve)
    }
    process.once("SIGINT", onSignal)
    process.once("SIGTERM", onSignal)
  })
  for (const node of running) {
    void node.exited.then((code) => {
      if (!stopping) io.err(`\n${node.spec.hospital} exited (${code}); its log: ${join(node.spec.dataDir, "node.log")}`)
    })
  }
  try {
    await Promise.all(running.map((node) => waitForRpc(node.spec.rpcUrl, 60_000)))
  } catch (err) {
    io.err(`nodes did not come up: ${(err as Error).message}; logs are in ${plan.dir}/node-*/node.log`)
    await stopAll()
    return 1
  }
  for (const {spec} of running) {
    io.out(`  ${spec.hospital.padEnd(8)} rpc ${spec.rpcUrl}  metrics ${spec.metricsUrl}/metrics  fhir ${spec.fhirUrl}  log ${join(spec.dataDir, "node.log")}`)
  }
  io.out(`try: npx careledger rpc chain_head --url ${running[0]!.spec.rpcUrl}`)
  io.out("Ctrl-C stops every node.")

  let demo: NodeJS.Timeout | undefined
  cleanups.push(() => {
    if (demo !== undefined) clearInterval(demo)
  })
  if (values.demo === true) demo = startDemo(running[0]!.spec.rpcUrl, readKeyFile(join(running[0]!.spec.dataDir, "node.key")), io)
  if (values.demo === true) {
    // Health flows between hospitals 1 and 2 (hospital 0's key is busy with the enrolment traffic above).
    if (running.length >= 3) {
      const hospital = (node: RunningNode) => ({id: node.spec.hospital, rpcUrl: node.spec.rpcUrl, key: readKeyFile(join(node.spec.dataDir, "node.key"))})
      void seedHealthDemo(plan.chainId, hospital(running[1]!), hospital(running[2]!), (line) => io.out(`\n${line}`), join(plan.dir, "demo-keys")).catch(
        (err: Error) => io.err(`\nhealth demo stopped: ${err.message}`),
      )
    } else {
      io.out("the health-data demo needs --nodes 3 or more")
    }
  }
  const clients = running.map(({spec}) => new CareLedgerClient({url: spec.rpcUrl, timeoutMs: 2000}))
  let tick = 0
  const status = setInterval(() => {
    tick++
    void Promise.all(running.map((node, i) => readStatus(clients[i]!, node.spec.metricsUrl))).then((statuses) => {
      if (stopping) return
      const heights = statuses.map((s) => s.height).filter((h): h is number => h !== null)
      const line =
        `height ${heights.length === 0 ? "-" : Math.max(...heights)}  finalized ${heights.length === 0 ? "-" : Math.min(...heights)}` +
        `  peers ${statuses.map((s) => s.peers ?? "-").join("/")}  tx/s ${statuses[0]?.txRate ?? "-"}  up ${heights.length}/${running.length}`
      if (io.isTty) process.stdout.write(`\r\x1b[2K${line}`)
      else if (tick % 5 === 0) io.out(line)
    })
  }, 1000)
  cleanups.push(() => clearInterval(status))
  await stopped
  clearInterval(status)
  if (demo !== undefined) clearInterval(demo)
  io.out("devnet stopped")
  return 0
}

async function readStatus(client: CareLedgerClient, metricsUrl: string): Promise<NodeStatus> {
  const out: NodeStatus = {height: null, peers: null, txRate: null}
  try {
    out.height = (await client.head()).finalizedHeight
    const text = await (await fetch(`${metricsUrl}/metrics`, {signal: AbortSignal.timeout(2000)})).text()
    out.peers = metric(text, "careledger_peers")
    out.txRate = metric(text, "careledger_tx_per_second")
  } catch {
    // A node that does not answer shows as "-" until it does.
  }
  return out
}

function metric(text: string, name: string): number | null {
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text)
  return match === null ? null : Number(match[1])
}

/** Keeps some traffic going: hospital 0 enrols a new pseudonymous patient key every half second. */
function startDemo(url: string, hospitalKey: PrivateKey, io: CliIo): NodeJS.Timeout {
  const sender = new TxSender(new CareLedgerClient(url), hospitalKey)
  let busy = false
  return setInterval(() => {
    if (busy) return
    busy = true
    void sender
      .registerIdentity(PrivateKey.generate().publicKey, Role.Patient)
      .catch((err: Error) => io.err(`\ndemo tx refused: ${err.message}`))
      .finally(() => (busy = false))
  }, 500)
}
