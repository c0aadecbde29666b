import {describeError, UsageError, type CliIo, type Command} from "./io.js"
import {keysCommand, keysUsage} from "./commands/keys.js"
import {genesisCommand, genesisUsage} from "./commands/genesis.js"
import {initCommand, initUsage} from "./commands/init.js"
import {rpcCommand, rpcUsage} from "./commands/rpc.js"
import {startCommand, startUsage} from "./commands/start.js"
import {devnetCommand, devnetUsage} from "./commands/devnet.js"
import {composeCommand, composeUsage} from "./compose.js"
import {healthCommand, healthUsage} from "./commands/health.js"

const COMMANDS: Record<string, {run: Command; usage: string; summary: string}> = {
  keys: {run: keysCommand, usage: keysUsage, summary: "generate or show an Ed25519 node key"},
  genesis: {run: genesisCommand, usage: genesisUsage, summary: "write a genesis file"},
  init: {run: initCommand, usage: initUsage, summary: "prepare a data dir (key, genesis, config)"},
  start: {run: startCommand, usage: startUsage, summary: "run a hospital's node until Ctrl-C / SIGTERM"},
  devnet: {run: devnetCommand, usage: devnetUsage, summary: "run N validator nodes on loopback"},
  compose: {run: composeCommand, usage: composeUsage, summary: "write a docker-compose network of N hospitals"},
  rpc: {run: rpcCommand, usage: rpcUsage, summary: "call a JSON-RPC method"},
  health: {run: healthCommand, usage: healthUsage, summary: "health-data flows signed with a person's key file"},
}

function help(): string {
  const lines = ["usage: careledger COMMAND [options]", ""]
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${c.summary}`, `           ${c.usage}`)
  lines.push("", "Settings, environment variables and defaults: docs/operations.md")
  return lines.join("\n")
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.out(help())
    return name === undefined ? 1 : 0
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    io.err(`unknown command ${name}\n\n${help()}`)
    return 1
  }
  try {
    return await command.run(args, io)
  } catch (err) {
    if (err instanceof UsageError || isArgumentParseError(err)) {
      io.err(`${(err as Error).message}\nusage: ${command.usage}`)
      return 2
    }
    io.err(`error: ${describeError(err)}`)
    return 1
  }
}


/** node:util parseArgs failures carry a string code; RPC errors carry a numeric one. */
function isArgumentParseError(err: unknown): boolean {
  const code = (err as {code?: unknown}).code
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")
}
