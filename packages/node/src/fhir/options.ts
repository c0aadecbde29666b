import type {NodeConfig} from "../config/options.js"

export interface FhirServerOptions {
  /** Bind address; loopback by default like the RPC. A non-loopback one needs TLS (tlsCert and tlsKey). */
  host: string
  /** 0 picks a free port. */
  port: number
  /**
   * The base URL clients use (e.g. https://fhir.hospital.example/fhir behind a TLS proxy): it is the
   * token endpoint's audience and the base of links. Null: the bound loopback address.
   */
  publicUrl: string | null
  /** Lifetime of issued access tokens in seconds (SMART recommends no more than 5 minutes). */
  tokenLifetimeSeconds: number
  /** Most live access tokens held; beyond it the oldest are dropped first. */
  maxTokens: number
  /** Largest request body; sized for a scanned PDF inside a DocumentReference (base64 adds a third). */
  maxBodyBytes: number
  /** Request body bytes held at once across all requests (503 beyond). */
  maxBodyBytesInFlight: number
  /** Most entries in one search page (`_count` is clamped to it). */
  maxPageSize: number
  /** Default search page size. */
  defaultPageSize: number
  /** How long a write waits for its anchor to be final before answering 504. */
  finalityTimeoutMs: number
  /**
   * Host names (without port) a request's `Host` header may carry, as for the RPC; "*" any. Empty:
   * the bind address and the loopback names (plus the machine's addresses when bound to every interface).
   */
  allowedHosts: string[]
  /** PEM certificate chain and private key files: when both are set the endpoint speaks HTTPS only. */
  tlsCert: string | null
  tlsKey: string | null
  /**
   * Keys (64 hex) of auditors: their tokens may hold system/Consent.read and system/AuditEvent.read
   * and search any patient's consents and audit trail here, and nothing else.
   */
  auditors: string[]
}

export const defaultFhirServerOptions: FhirServerOptions = {
  host: "127.0.0.1",
  port: 8547,
  publicUrl: null,
  tokenLifetimeSeconds: 300,
  maxTokens: 10_000,
  maxBodyBytes: 10 * 1024 * 1024,
  maxBodyBytesInFlight: 64 * 1024 * 1024,
  maxPageSize: 100,
  defaultPageSize: 20,
  finalityTimeoutMs: 30_000,
  allowedHosts: [],
  tlsCert: null,
  tlsKey: null,
  auditors: [],
}

/** The FHIR server's options from the node's config (the rest keep their defaults). */
export function fhirServerOptionsOf(config: NodeConfig): FhirServerOptions {
  return {
    ...defaultFhirServerOptions,
    host: config.fhirHost,
    port: config.fhirPort,
    publicUrl: config.fhirPublicUrl,
    allowedHosts: config.fhirAllowedHosts,
    tlsCert: config.fhirTlsCert,
    tlsKey: config.fhirTlsKey,
    auditors: config.fhirAuditors,
  }
}
