import {describeError, isUsageError, type CliIo, type Command} from "./io.js"
import {formatHelp, HELP, START_EXTRA_FLAGS, type HelpEntry} from "./help.js"

/**
 * Each command's module is imported only when that command runs, so `careledger rpc` does not
 * load libp2p, LevelDB or the FHIR validator.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  keys: async () => (await import("./commands/keys.js")).keysCommand,
  genesis: async () => (await import("./commands/genesis.js")).genesisCommand,
  init: async () => (await import("./commands/init.js")).initCommand,
  start: async () => (await import("./commands/start.js")).startCommand,
  devnet: async () => (await import("./commands/devnet.js")).devnetCommand,
  compose: async () => (await import("./compose.js")).composeCommand,
  rpc: async () => (await import("./commands/rpc.js")).rpcCommand,
  health: async () => (await import("./commands/health.js")).healthCommand,
}

const HELP_FLAGS = new Set(["--help", "-h"])

function overview(): string {
  const lines = ["usage: careledger COMMAND [options]", "", "commands:"]
  for (const [name, entry] of Object.entries(HELP)) lines.push(`  ${name.padEnd(8)} ${entry.summary}`)
  lines.push(
    "",
    "`careledger COMMAND --help` shows a command's options and an example.",
    "example:",
    "  careledger rpc chain_head --url http://127.0.0.1:8545",
    "",
    "exit codes: 0 ok, 1 runtime error (node unreachable, refused, bad file), 2 usage error",
    "Settings, environment variables and defaults: docs/operations.md",
  )
  return lines.join("\n")
}

/** `start` and `init` take every node setting as a flag; their table lives with the config. */
async function settingFlags(name: string): Promise<(readonly [string, string])[]> {
  if (name !== "start" && name !== "init") return []
  const {SETTINGS} = await import("../config/index.js")
  const flags: (readonly [string, string])[] = Object.values(SETTINGS).map((s) => {
    const value = s.kind === "bool" ? "" : s.kind === "list" ? " VALUE (repeatable)" : " VALUE"
    return [`--${s.flag}${value}`, `${s.doc} ($${s.env})`] as const
  })
  return [...flags, ...START_EXTRA_FLAGS]
}

/** The help entry for `argv` ([command, subcommand?, ...]), or undefined when the subcommand is unknown. */
function helpEntry(name: string, args: string[]): {entry: HelpEntry; usage: string} {
  const entry = HELP[name]!
  const sub = args[0]
  const subEntry = sub === undefined || entry.subcommands === undefined ? undefined : entry.subcommands[sub]
  return {entry: subEntry ?? entry, usage: (subEntry ?? entry).usage}
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv
  if (name === "help" || (name !== undefined && HELP_FLAGS.has(name))) {
    io.out(overview())
    return 0
  }
  if (name === undefined) {
    io.err(overview())
    return 2
  }
  const load = COMMANDS[name]
  if (load === undefined) {
    io.err(`unknown command ${name}\n\n${overview()}`)
    return 2
  }
  const {entry, usage} = helpEntry(name, args)
  if (args.some((arg) => HELP_FLAGS.has(arg))) {
    io.out(formatHelp(entry, entry === HELP[name] ? await settingFlags(name) : []))
    return 0
  }
  const needsSub = HELP[name]!.subcommands !== undefined
  if (needsSub && (args[0] === undefined || args[0].startsWith("-"))) {
    io.err(`careledger ${name} needs a subcommand\nusage: ${usage}\n(careledger ${name} --help lists them)`)
    return 2
  }
  if (needsSub && HELP[name]!.subcommands![args[0]!] === undefined) {
    io.err(`unknown ${name} subcommand ${JSON.stringify(args[0])}\nusage: ${usage}\n(careledger ${name} --help lists them)`)
    return 2
  }
  try {
    const command = await load()
    return await command(args, io)
  } catch (err) {
    if (isUsageError(err)) {
      io.err(`${(err as Error).message}\nusage: ${usage}\n(careledger ${needsSub ? `${name} ${args[0]}` : name} --help for more)`)
      return 2
    }
    io.err(`error: ${describeError(err)}`)
    return 1
  }
}
