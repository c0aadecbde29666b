/**
 * What `careledger COMMAND [SUBCOMMAND] --help` prints. It lives apart from the commands and imports
 * nothing, so help never loads a command's dependencies.
 */
export interface HelpEntry {
  summary: string
  usage: string
  /** [flag, meaning] pairs. */
  flags: readonly (readonly [string, string])[]
  examples: readonly string[]
  /** Subcommands (keys) or actions (health), each with its own help. */
  subcommands?: Readonly<Record<string, HelpEntry>>
}

const URL_FLAGS = [
  ["--url URL", "node JSON-RPC URL (default $CARELEDGER_RPC_URL, else http://127.0.0.1:8545)"],
  ["--token-file FILE", "file (mode 600) holding the bearer token when the RPC port requires one (default $CARELEDGER_RPC_TOKEN); never a token in argv"],
] as const

const HEALTH_COMMON = [
  ...URL_FLAGS,
  ["--chain-id ID", "chain id to sign for (default: asked from the node with node_info)"],
] as const
const KEY = ["--key FILE", "key file of the acting person (careledger keys generate --out FILE)"] as const
const RECORD_ID = ["--record-id ID", "record id (1..64 of A-Z a-z 0-9 . _ -)"] as const
const PURPOSES = "treatment, research, public-health, operations, payment"

function action(summary: string, name: string, flags: readonly (readonly [string, string])[], example: string): HelpEntry {
  const required = flags.filter(([, doc]) => doc.startsWith("(required)")).map(([flag]) => flag)
  return {
    summary,
    usage: `careledger health ${name} ${required.join(" ")} [options]`.replace(/ +\[options\]$/, " [options]"),
    flags: [...flags, ...HEALTH_COMMON],
    examples: [example],
  }
}

const HEALTH_ACTIONS: Record<string, HelpEntry> = {
  put: action(
    "a provider of the custodian hospital stores a FHIR resource there and anchors its hash on chain",
    "put",
    [
      ["--key FILE", "(required) key file of the provider"],
      ["--record-id ID", "(required) record id (1..64 of A-Z a-z 0-9 . _ -)"],
      ["--patient HEX", "(required) the patient's public key (64 hex)"],
      ["--custodian HOSPITAL", "(required) hospital id of the custodian (the node at --url)"],
      ["--resource FILE", "(required) FHIR R4 resource as JSON"],
      ["--version N", "version number for an update (default 1)"],
      ["--previous HEX", "content hash of the version this one replaces"],
    ],
    "careledger health put --key dr.key --record-id obs-1 --patient <64 hex> --custodian hosp-1 --resource obs.json",
  ),
  read: action(
    "read a record; the custodian checks consent and writes an access.log either way",
    "read",
    [
      ["--key FILE", "(required) key file of the reader"],
      ["--record-id ID", "(required) record id"],
      ["--purpose P", `(required) one of ${PURPOSES}`],
      ["--break-glass REASON", "emergency access without consent, giving the reason (providers only; flagged in the audit)"],
    ],
    "careledger health read --key dr.key --record-id obs-1 --purpose treatment",
  ),
  grant: action(
    "a patient grants consent to a person or a hospital",
    "grant",
    [
      ["--key FILE", "(required) key file of the patient"],
      ["--grantee HEX", "public key of the person granted (or --grantee-hospital)"],
      ["--grantee-hospital ID", "hospital id granted (or --grantee)"],
      ["--types LIST", "comma-separated FHIR resource types (or --records)"],
      ["--records LIST", "comma-separated record ids (or --types)"],
      ["--purposes LIST", `(required) comma-separated, of ${PURPOSES}`],
      ["--days N", "days until the consent expires (default 30)"],
    ],
    "careledger health grant --key patient.key --grantee <64 hex> --types Observation --purposes treatment --days 30",
  ),
  revoke: action(
    "a patient revokes one of their consents",
    "revoke",
    [
      ["--key FILE", "(required) key file of the patient"],
      ["--consent ID", "(required) consent id printed by grant"],
    ],
    "careledger health revoke --key patient.key --consent <consent id>",
  ),
  erase: action(
    "erase a record (patient, or custodian provider with --legal-basis): crypto-shredding",
    "erase",
    [
      ["--key FILE", "(required) key file of the patient or provider"],
      ["--record-id ID", "(required) record id"],
      ["--legal-basis TEXT", "why a provider erases (required when not the patient)"],
    ],
    "careledger health erase --key patient.key --record-id obs-1",
  ),
  audit: action(
    "the acting person's audit trail: who accessed what, when, why",
    "audit",
    [["--key FILE", "(required) key file of the patient (or provider)"]],
    "careledger health audit --key patient.key",
  ),
  export: action(
    "the audit trail as FHIR AuditEvent resources",
    "export",
    [["--key FILE", "(required) key file of the patient"]],
    "careledger health export --key patient.key",
  ),
  history: action("every anchored version of a record", "history", [["--record-id ID", "(required) record id"]], "careledger health history --record-id obs-1"),
  verify: action(
    "check a resource you hold against its on-chain anchor",
    "verify",
    [
      ["--record-id ID", "(required) record id"],
      ["--resource FILE", "(required) FHIR resource as JSON"],
      ["--salt HEX", "(required) salt printed by put"],
      ["--version N", "version to check (default: latest)"],
    ],
    "careledger health verify --record-id obs-1 --resource obs.json --salt <64 hex>",
  ),
  "trial-register": action(
    "a researcher pre-registers a trial protocol (its hash goes on chain)",
    "trial-register",
    [
      ["--key FILE", "(required) key file of the researcher"],
      ["--trial-id ID", "(required) trial id"],
      ["--protocol FILE", "(required) protocol document"],
    ],
    "careledger health trial-register --key researcher.key --trial-id t-1 --protocol protocol.txt",
  ),
  "trial-amend": action(
    "amend a registered trial's protocol",
    "trial-amend",
    [
      ["--key FILE", "(required) key file of the researcher"],
      ["--trial-id ID", "(required) trial id"],
      ["--protocol FILE", "(required) amended protocol document"],
    ],
    "careledger health trial-amend --key researcher.key --trial-id t-1 --protocol protocol-v2.txt",
  ),
  "trial-result": action(
    "publish a trial's results (and optionally a dataset) as hashes on chain",
    "trial-result",
    [
      ["--key FILE", "(required) key file of the researcher"],
      ["--trial-id ID", "(required) trial id"],
      ["--results FILE", "(required) results document"],
      ["--dataset FILE", "dataset file"],
    ],
    "careledger health trial-result --key researcher.key --trial-id t-1 --results results.txt",
  ),
  "trial-verify": action(
    "check protocol, results or dataset files against a trial's anchors",
    "trial-verify",
    [
      ["--trial-id ID", "(required) trial id"],
      ["--protocol FILE", "protocol document to check"],
      ["--results FILE", "results document to check"],
      ["--dataset FILE", "dataset to check"],
    ],
    "careledger health trial-verify --trial-id t-1 --protocol protocol.txt",
  ),
}

/** Flags of `start` and `init` beyond the settings table (which config/index.ts documents). */
export const START_EXTRA_FLAGS = [["--config PATH", "config file to read (default <datadir>/config.json; $CARELEDGER_CONFIG)"]] as const

export const HELP: Readonly<Record<string, HelpEntry>> = {
  keys: {
    summary: "generate or show an Ed25519 node or person key",
    usage: "careledger keys generate|show [options]",
    flags: [],
    examples: ["careledger keys generate --out hosp-a.key", "careledger keys show --key hosp-a.key --json"],
    subcommands: {
      generate: {
        summary: "make a new key; without --out the private key is printed (the only copy)",
        usage: "careledger keys generate [--out FILE] [--json]",
        flags: [
          ["--out FILE", "write the key (libp2p protobuf, mode 0600) to FILE"],
          ["--json", "print one JSON object (publicKey, peerId, file or privateKey)"],
        ],
        examples: ["careledger keys generate --out hosp-a.key --json"],
      },
      show: {
        summary: "print a key file's public key and libp2p peer id",
        usage: "careledger keys show --key FILE [--json]",
        flags: [
          ["--key FILE", "(required) key file"],
          ["--json", "print one JSON object"],
        ],
        examples: ["careledger keys show --key hosp-a.key"],
      },
    },
  },
  genesis: {
    summary: "write a genesis file",
    usage: "careledger genesis --chain-id ID --hospital ID:NAME:KEYHEX[:observer] ... --out FILE [options]",
    flags: [
      ["--chain-id ID", "(required) chain id"],
      ["--hospital ID:NAME:KEYHEX[:observer]", "(required, repeatable) a hospital; NAME may contain colons; :observer adds a non-validator member"],
      ["--out FILE", "(required) where to write the genesis"],
      ["--block-interval MS", "target pause between blocks (default 1000)"],
      ["--round-timeout MS", "round timeout before the next proposer (default 1000)"],
      ["--no-empty-blocks", "do not propose empty blocks when idle"],
    ],
    examples: ['careledger genesis --chain-id regional-hie --hospital "hosp-a:General Hospital A:<64 hex>" --hospital "hosp-b:Clinic B:<64 hex>" --out genesis.json'],
  },
  init: {
    summary: "prepare a data dir (key, genesis, config)",
    usage: "careledger init --datadir DIR --genesis FILE [--key FILE] [any start flag, saved to DIR/config.json]",
    flags: [["--key FILE", "import this key as the node key (when the data dir has none)"]],
    examples: ["careledger init --datadir /var/lib/careledger --genesis genesis.json --key hosp-a.key --listen /ip4/0.0.0.0/tcp/30400"],
  },
  start: {
    summary: "run a hospital's node until Ctrl-C / SIGTERM",
    usage: "careledger start [--datadir DIR] [--config PATH] [options]",
    flags: [],
    examples: ["careledger start --datadir /var/lib/careledger", "careledger start --config /etc/careledger/node.json --log-level debug"],
  },
  devnet: {
    summary: "run N validator nodes on loopback",
    usage: "careledger devnet [--nodes N] [--dir DIR] [--fresh] [--demo] [--block-interval MS]",
    flags: [
      ["--nodes N", "validators, 1..16 (default 4)"],
      ["--dir DIR", "keys, genesis and data dirs, kept across runs (default .devnet)"],
      ["--fresh", "wipe --dir first"],
      ["--demo", "keep traffic going and seed the health-data demo"],
      ["--block-interval MS", "block interval of a new devnet's genesis"],
    ],
    examples: ["careledger devnet --nodes 4 --dir .devnet"],
  },
  compose: {
    summary: "write a docker-compose network of N hospitals",
    usage: "careledger compose [--nodes N] [--out DIR] [--chain-id ID] [--image TAG] [--block-interval MS] [--network NAME]",
    flags: [
      ["--nodes N", "validator hospitals, 1..16 (default 4)"],
      ["--out DIR", "where to write docker-compose.yml, genesis and data dirs (must not exist)"],
      ["--chain-id ID", "chain id"],
      ["--image TAG", "node image"],
      ["--block-interval MS", "block interval"],
      ["--network NAME", "compose network name"],
    ],
    examples: ["careledger compose --nodes 4 --out compose-net"],
  },
  rpc: {
    summary: "call a JSON-RPC method and print the result as JSON",
    usage: "careledger rpc METHOD [PARAMS-JSON | ARG ...] [--url URL] [--token-file FILE] [--timeout MS]",
    flags: [
      ...URL_FLAGS,
      ["--timeout MS", "give up after MS milliseconds (default 60000, above the 30 s a node holds a wait: true call)"],
      ["PARAMS-JSON", "one JSON object or array is the params; other arguments are positional params (JSON values or plain strings); text starting with { [ or \" must be valid JSON"],
    ],
    examples: ["careledger rpc chain_head", "careledger rpc chain_getBlock '{\"height\": 1}' --url http://127.0.0.1:8545"],
  },
  health: {
    summary: "health-data flows signed with a person's key file (docs/health-data.md)",
    usage: "careledger health ACTION --key FILE [options]   (ACTION: put read grant revoke erase audit export history verify trial-register trial-amend trial-result trial-verify)",
    flags: [KEY, RECORD_ID, ...HEALTH_COMMON],
    examples: ["careledger health audit --key patient.key --url http://127.0.0.1:8545", "careledger health read --help"],
    subcommands: HEALTH_ACTIONS,
  },
}

export function formatHelp(entry: HelpEntry, extraFlags: readonly (readonly [string, string])[] = []): string {
  const lines = [`usage: ${entry.usage}`, "", entry.summary]
  const flags = [...entry.flags, ...extraFlags]
  if (flags.length > 0) {
    const width = Math.min(36, Math.max(...flags.map(([flag]) => flag.length)))
    lines.push("", "options:")
    for (const [flag, doc] of flags) lines.push(`  ${flag.padEnd(width)}  ${doc}`)
  }
  if (entry.subcommands !== undefined) {
    lines.push("", "subcommands (each takes --help):")
    for (const [name, sub] of Object.entries(entry.subcommands)) lines.push(`  ${name.padEnd(15)} ${sub.summary}`)
  }
  lines.push("", entry.examples.length === 1 ? "example:" : "examples:", ...entry.examples.map((e) => `  ${e}`))
  lines.push("", "exit codes: 0 ok, 1 runtime error (node unreachable, refused, bad file), 2 usage error")
  return lines.join("\n")
}
