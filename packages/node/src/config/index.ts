import {existsSync, readFileSync} from "node:fs"
import {isAbsolute, join, resolve} from "node:path"
import {LOG_LEVELS, type LogLevel} from "../logger/index.js"
import {NodeConfigError, NodeConfigErrorCode} from "./errors.js"
import {CONFIG_ENV, CONFIG_FILE, defaultConfig, defaultDataDir, type NodeConfig} from "./options.js"

export * from "./errors.js"
export * from "./options.js"

type Kind = "string" | "nullableString" | "path" | "nullablePath" | "port" | "int" | "nullableInt" | "bool" | "list" | "logLevel" | "logFormat"

interface Setting {
  kind: Kind
  env: string
  flag: string
  doc: string
}

/**
 * The single table of settings: config-file key (the object key), environment variable and CLI
 * flag. Precedence is defaults < config file < environment < flags.
 */
export const SETTINGS: {readonly [K in keyof NodeConfig]: Setting} = {
  dataDir: {kind: "path", env: "CARELEDGER_DATADIR", flag: "datadir", doc: "data directory (key, config, chain database)"},
  genesis: {kind: "path", env: "CARELEDGER_GENESIS", flag: "genesis", doc: "genesis file, relative to the data dir"},
  chainId: {kind: "nullableString", env: "CARELEDGER_CHAIN_ID", flag: "chain-id", doc: "expected chain id; refuse another genesis"},
  listen: {kind: "list", env: "CARELEDGER_LISTEN", flag: "listen", doc: "libp2p listen multiaddrs"},
  bootstrap: {kind: "list", env: "CARELEDGER_BOOTSTRAP", flag: "bootstrap", doc: "peers to dial at start: HOSPITAL@HOST:PORT or a multiaddr with /p2p/"},
  announce: {kind: "list", env: "CARELEDGER_ANNOUNCE", flag: "announce", doc: "multiaddrs other hospitals dial to reach this node (NAT, containers)"},
  rpcHost: {kind: "string", env: "CARELEDGER_RPC_HOST", flag: "rpc-host", doc: "JSON-RPC bind address"},
  rpcPort: {kind: "port", env: "CARELEDGER_RPC_PORT", flag: "rpc-port", doc: "JSON-RPC port (0 picks a free one)"},
  rpcTokens: {kind: "nullablePath", env: "CARELEDGER_RPC_TOKENS", flag: "rpc-tokens", doc: "tokens file; required off loopback"},
  rpcMaxBodyBytes: {kind: "int", env: "CARELEDGER_RPC_MAX_BODY_BYTES", flag: "rpc-max-body-bytes", doc: "largest request body"},
  rpcMaxBatch: {kind: "int", env: "CARELEDGER_RPC_MAX_BATCH", flag: "rpc-max-batch", doc: "most calls per batch"},
  rpcAllowedHosts: {kind: "list", env: "CARELEDGER_RPC_ALLOWED_HOSTS", flag: "rpc-allowed-hosts", doc: "Host names the RPC answers (default: bind address and localhost; * any)"},
  rpcCorsOrigins: {kind: "list", env: "CARELEDGER_RPC_CORS_ORIGINS", flag: "rpc-cors-origins", doc: "browser origins allowed cross-origin calls (default none; * any)"},
  rpcTlsCert: {kind: "nullablePath", env: "CARELEDGER_RPC_TLS_CERT", flag: "rpc-tls-cert", doc: "PEM certificate: serve HTTPS/WSS (with --rpc-tls-key)"},
  rpcTlsKey: {kind: "nullablePath", env: "CARELEDGER_RPC_TLS_KEY", flag: "rpc-tls-key", doc: "PEM private key of --rpc-tls-cert (mode 600)"},
  metrics: {kind: "bool", env: "CARELEDGER_METRICS", flag: "metrics", doc: "serve /metrics, /health, /ready"},
  metricsHost: {kind: "string", env: "CARELEDGER_METRICS_HOST", flag: "metrics-host", doc: "metrics bind address"},
  metricsPort: {kind: "port", env: "CARELEDGER_METRICS_PORT", flag: "metrics-port", doc: "metrics port (0 picks a free one)"},
  fhir: {kind: "bool", env: "CARELEDGER_FHIR", flag: "fhir", doc: "serve the FHIR R4 endpoint (docs/fhir.md)"},
  fhirHost: {kind: "string", env: "CARELEDGER_FHIR_HOST", flag: "fhir-host", doc: "FHIR bind address (loopback unless --fhir-tls-cert/--fhir-tls-key are set)"},
  fhirPort: {kind: "port", env: "CARELEDGER_FHIR_PORT", flag: "fhir-port", doc: "FHIR port (0 picks a free one)"},
  fhirPublicUrl: {kind: "nullableString", env: "CARELEDGER_FHIR_PUBLIC_URL", flag: "fhir-public-url", doc: "FHIR base URL behind a TLS proxy"},
  fhirAllowedHosts: {kind: "list", env: "CARELEDGER_FHIR_ALLOWED_HOSTS", flag: "fhir-allowed-hosts", doc: "Host names the FHIR endpoint answers (default: bind address and localhost; * any)"},
  fhirTlsCert: {kind: "nullablePath", env: "CARELEDGER_FHIR_TLS_CERT", flag: "fhir-tls-cert", doc: "PEM certificate: serve FHIR over HTTPS (with --fhir-tls-key)"},
  fhirTlsKey: {kind: "nullablePath", env: "CARELEDGER_FHIR_TLS_KEY", flag: "fhir-tls-key", doc: "PEM private key of --fhir-tls-cert (mode 600)"},
  fhirAuditors: {kind: "list", env: "CARELEDGER_FHIR_AUDITORS", flag: "fhir-auditors", doc: "keys (hex) of auditors: FHIR Consent and AuditEvent of any patient"},
  observer: {kind: "bool", env: "CARELEDGER_OBSERVER", flag: "observer", doc: "follow without voting"},
  logLevel: {kind: "logLevel", env: "CARELEDGER_LOG_LEVEL", flag: "log-level", doc: "fatal|error|warn|info|debug|trace|silent"},
  logFormat: {kind: "logFormat", env: "CARELEDGER_LOG_FORMAT", flag: "log-format", doc: "auto|pretty|json"},
  blockIntervalMs: {kind: "nullableInt", env: "CARELEDGER_BLOCK_INTERVAL_MS", flag: "block-interval", doc: "override genesis block interval (ms)"},
}

const KEYS = Object.keys(SETTINGS) as (keyof NodeConfig)[]

/** A partial config from one source, values not yet checked. */
export type ConfigLayer = Partial<Record<keyof NodeConfig, unknown>>

/** The `node:util` parseArgs option spec of every setting plus `--config PATH`, for the CLI. */
export function configFlagSpec(): Record<string, {type: "string" | "boolean"; multiple?: boolean}> {
  const spec: Record<string, {type: "string" | "boolean"; multiple?: boolean}> = {config: {type: "string"}}
  for (const key of KEYS) {
    const s = SETTINGS[key]
    spec[s.flag] = s.kind === "bool" ? {type: "boolean"} : s.kind === "list" ? {type: "string", multiple: true} : {type: "string"}
  }
  return spec
}

/** Picks this module's settings out of parsed CLI flags (values as parseArgs returns them). */
export function layerFromFlags(values: Record<string, unknown>): ConfigLayer {
  const layer: ConfigLayer = {}
  for (const key of KEYS) {
    const value = values[SETTINGS[key].flag]
    if (value !== undefined) layer[key] = value
  }
  return layer
}

/** Picks `CARELEDGER_*` variables out of an environment record (lists comma-separated). */
export function layerFromEnv(env: Readonly<Record<string, string | undefined>>): ConfigLayer {
  const layer: ConfigLayer = {}
  for (const key of KEYS) {
    const value = env[SETTINGS[key].env]
    if (value !== undefined && value !== "") layer[key] = value
  }
  return layer
}

/**
 * Reads a config file (absent: empty layer, unless `required`). Unknown keys are refused, catching
 * typos.
 */
export function readConfigFile(path: string, required = false): ConfigLayer {
  if (!existsSync(path)) {
    if (required) throw new NodeConfigError(NodeConfigErrorCode.BAD_FILE, `no config file at ${path}`, {path})
    return {}
  }
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, "utf8"))
  } catch (err) {
    throw new NodeConfigError(NodeConfigErrorCode.BAD_FILE, `${path}: ${(err as Error).message}`, {path})
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new NodeConfigError(NodeConfigErrorCode.BAD_FILE, `${path}: expected a JSON object`, {path})
  }
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(SETTINGS, key)) throw new NodeConfigError(NodeConfigErrorCode.BAD_FILE, `${path}: unknown setting ${key}`, {path, key})
  }
  return raw as ConfigLayer
}

export interface ConfigSources {
  env?: Readonly<Record<string, string | undefined>>
  flags?: ConfigLayer
  /** `--config PATH`: a config file anywhere, read instead of `<dataDir>/config.json`. */
  configPath?: string
  /** Skips reading the config file (tests of precedence pass `file` instead). */
  file?: ConfigLayer
}

/**
 * Resolves the node config: defaults, then the config file, then environment, then flags. The config
 * file is `--config PATH` (or `$CARELEDGER_CONFIG`) when given, else `<dataDir>/config.json`. The
 * data dir itself comes from flags, then environment, then a given config file, then the default.
 */
export function resolveConfig(sources: ConfigSources): NodeConfig {
  const envLayer = layerFromEnv(sources.env ?? {})
  const flagLayer = sources.flags ?? {}
  const explicitPath = sources.configPath ?? sources.env?.[CONFIG_ENV]
  const explicitLayer = sources.file ?? (explicitPath === undefined || explicitPath === "" ? undefined : readConfigFile(resolve(explicitPath), true))
  const dataDirRaw = flagLayer.dataDir ?? envLayer.dataDir ?? explicitLayer?.dataDir ?? defaultDataDir()
  const dataDir = resolve(parseValue("dataDir", dataDirRaw, "flags") as string)
  const fileLayer = explicitLayer ?? readConfigFile(join(dataDir, CONFIG_FILE))
  const config = defaultConfig(dataDir)
  const target = config as unknown as Record<string, unknown>
  for (const [name, layer] of [["config file", fileLayer], ["environment", envLayer], ["flags", flagLayer]] as const) {
    for (const key of KEYS) {
      if (key === "dataDir" || layer[key] === undefined) continue
      target[key] = parseValue(key, layer[key], name)
    }
  }
  config.genesis = resolvePath(dataDir, config.genesis)
  if (config.rpcTokens !== null) config.rpcTokens = resolvePath(dataDir, config.rpcTokens)
  if (config.rpcTlsCert !== null) config.rpcTlsCert = resolvePath(dataDir, config.rpcTlsCert)
  if (config.rpcTlsKey !== null) config.rpcTlsKey = resolvePath(dataDir, config.rpcTlsKey)
  if (config.fhirTlsCert !== null) config.fhirTlsCert = resolvePath(dataDir, config.fhirTlsCert)
  if (config.fhirTlsKey !== null) config.fhirTlsKey = resolvePath(dataDir, config.fhirTlsKey)
  return config
}

/** Checks and normalises every value of a layer (e.g. "9000" becomes 9000) so it can be saved. */
export function parseLayer(layer: ConfigLayer, source: string): ConfigLayer {
  const out: ConfigLayer = {}
  for (const key of KEYS) if (layer[key] !== undefined) out[key] = parseValue(key, layer[key], source)
  return out
}

function resolvePath(dataDir: string, path: string): string {
  return isAbsolute(path) ? path : join(dataDir, path)
}

function parseValue(key: keyof NodeConfig, raw: unknown, source: string): unknown {
  const setting = SETTINGS[key]
  const fail = (expected: string): never => {
    throw new NodeConfigError(NodeConfigErrorCode.BAD_VALUE, `${key} from ${source} must be ${expected}, got ${JSON.stringify(raw)}`, {
      key,
      source,
    })
  }
  const asInt = (min: number, max: number): number => {
    const n = typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw) : raw
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min || n > max) fail(`an integer in ${min}..${max}`)
    return n as number
  }
  switch (setting.kind) {
    case "string":
    case "path":
      return typeof raw === "string" && raw.length > 0 ? raw : fail("a non-empty string")
    case "nullableString":
    case "nullablePath":
      return raw === null ? null : typeof raw === "string" && raw.length > 0 ? raw : fail("a non-empty string")
    case "port":
      return asInt(0, 65535)
    case "int":
      return asInt(1, Number.MAX_SAFE_INTEGER)
    case "nullableInt":
      return raw === null ? null : asInt(1, 3_600_000)
    case "bool":
      if (typeof raw === "boolean") return raw
      if (typeof raw === "string" && /^(1|true|yes|on)$/i.test(raw)) return true
      if (typeof raw === "string" && /^(0|false|no|off)$/i.test(raw)) return false
      return fail("a boolean")
    case "list": {
      const list = typeof raw === "string" ? raw.split(",") : raw
      if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) return fail("a list of strings")
      return (list as string[]).map((s) => s.trim()).filter((s) => s.length > 0)
    }
    case "logLevel":
      return LOG_LEVELS.includes(raw as LogLevel) ? raw : fail(LOG_LEVELS.join("|"))
    case "logFormat":
      return raw === "auto" || raw === "pretty" || raw === "json" ? raw : fail("auto|pretty|json")
  }
}
