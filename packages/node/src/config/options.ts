import {homedir} from "node:os"
import {join} from "node:path"
import type {LogLevel} from "../logger/index.js"

/** Everything `careledger start` can be told, flat so file keys, env vars and flags line up one to one. */
export interface NodeConfig {
  dataDir: string
  /** Genesis file; relative paths are resolved against the data dir. */
  genesis: string
  /** When set, the node refuses a genesis of another chain id. */
  chainId: string | null
  /** libp2p listen multiaddrs. */
  listen: string[]
  /**
   * Peers dialled at start: `HOSPITAL@HOST:PORT` (the peer id comes from that hospital's key in the
   * genesis) or a full multiaddr with /p2p/<peer id>.
   */
  bootstrap: string[]
  /** Multiaddrs other hospitals should dial to reach this node (behind NAT or in a container); empty: the listen addresses. */
  announce: string[]
  rpcHost: string
  rpcPort: number
  /** Tokens file; required when rpcHost is not loopback. */
  rpcTokens: string | null
  rpcMaxBodyBytes: number
  rpcMaxBatch: number
  /** `Host` names the RPC answers; empty: the bind address and loopback names; "*": any. */
  rpcAllowedHosts: string[]
  /** Browser origins allowed cross-origin calls (CORS); empty: none; "*": any. */
  rpcCorsOrigins: string[]
  /** PEM certificate and key: with both the RPC serves HTTPS and WSS only. */
  rpcTlsCert: string | null
  rpcTlsKey: string | null
  metrics: boolean
  metricsHost: string
  metricsPort: number
  /** Serve the FHIR R4 endpoint (docs/fhir.md). */
  fhir: boolean
  fhirHost: string
  fhirPort: number
  /** Base URL clients use when a TLS proxy fronts the endpoint (token audience, links); null: the bound address. */
  fhirPublicUrl: string | null
  /** `Host` names the FHIR endpoint answers; empty: the bind address and loopback names; "*": any. */
  fhirAllowedHosts: string[]
  /** PEM certificate and key: with both the FHIR endpoint serves HTTPS only (and may bind beyond loopback). */
  fhirTlsCert: string | null
  fhirTlsKey: string | null
  /** Keys (hex) this node accepts as auditors on the FHIR endpoint (Consent and AuditEvent of any patient). */
  fhirAuditors: string[]
  /** Follow the chain without voting even when this node's key is a validator. */
  observer: boolean
  logLevel: LogLevel
  /** auto: pretty on a terminal, JSON otherwise. */
  logFormat: "auto" | "pretty" | "json"
  /** Overrides genesis' target block interval for blocks this node proposes (null: use genesis). */
  blockIntervalMs: number | null
}

export const CONFIG_FILE = "config.json"
/** Environment variable naming a config file anywhere (the `--config` flag wins over it). */
export const CONFIG_ENV = "CARELEDGER_CONFIG"

export function defaultDataDir(): string {
  return join(homedir(), ".careledger")
}

export function defaultConfig(dataDir: string): NodeConfig {
  return {
    dataDir,
    genesis: "genesis.json",
    chainId: null,
    listen: ["/ip4/0.0.0.0/tcp/30400"],
    bootstrap: [],
    announce: [],
    rpcHost: "127.0.0.1",
    rpcPort: 8545,
    rpcTokens: null,
    rpcMaxBodyBytes: 1024 * 1024,
    rpcMaxBatch: 100,
    rpcAllowedHosts: [],
    rpcCorsOrigins: [],
    rpcTlsCert: null,
    rpcTlsKey: null,
    metrics: true,
    metricsHost: "127.0.0.1",
    metricsPort: 9464,
    fhir: true,
    fhirHost: "127.0.0.1",
    fhirPort: 8547,
    fhirPublicUrl: null,
    fhirAllowedHosts: [],
    fhirTlsCert: null,
    fhirTlsKey: null,
    fhirAuditors: [],
    observer: false,
    logLevel: "info",
    logFormat: "auto",
    blockIntervalMs: null,
  }
}
