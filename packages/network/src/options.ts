import {NetworkError, NetworkErrorCode} from "./errors.js"

/** Typed options of the network host, with the defaults a small hospital consortium needs. */
export interface NetworkOptions {
  /** Chain id: every topic and protocol name is scoped by it, so two chains never mix. */
  chainId: string
  /** Multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/30333`. */
  listen: string[]
  /** Multiaddrs with `/p2p/<peer id>` of peers to dial at start and keep redialling (see bootstrapAddress). */
  bootstrap: string[]
  /** Multiaddrs announced to peers instead of the listen addresses (NAT, containers); empty: listen addresses. */
  announce: string[]
  /** Hex public keys admitted besides the validators (observer nodes). */
  observers: string[]
  /** Initial member keys (hex); the node replaces them with `setMembers` when the set changes. */
  members: string[]
  /** An observer node follows consensus but never publishes on its topic (not even a relay of its own making). */
  observer: boolean

  /** Redial backoff: first delay, cap, and the jitter fraction taken off each delay. */
  redialBaseMs: number
  redialMaxMs: number
  redialJitter: number
  /**
   * How often connected peers are pinged (latency, liveness) and asked for their status again.
   * `maxMissedPings` pings in a row unanswered within `requestTimeoutMs` close the connection, and
   * the redial loop takes over.
   */
  pingIntervalMs: number
  maxMissedPings: number
  /**
   * Inbound connections accepted per second from one IP address, and inbound handshakes under way at
   * once. Every member may dial us in the same second (all start together), and members on one host
   * (a devnet) or behind one NAT address share an address; libp2p's own limits (5 a second, 10 at
   * once) refused most of a 10-member start. Strangers are still cut by the gater after the handshake.
   */
  maxInboundConnectionsPerHostPerSecond: number
  maxPendingInboundConnections: number
  /** How long a peer that served forged data is refused. */
  banMs: number

  /** Gossip limits. */
  maxTxsPerMessage: number
  maxTxMessageBytes: number
  maxConsensusMessageBytes: number
  /** Tx batching: flush after this long even if the batch is not full. */
  txBatchDelayMs: number
  /** Txs waiting to be batched; beyond it `publishTxs` refuses. */
  maxQueuedTxs: number
  /** Gossip publishes in flight at once, and consensus publishes allowed to wait for a slot. */
  maxPublishInFlight: number
  maxPublishWaiting: number
  /** Incoming gossip messages validated at once, and waiting; beyond that they are dropped (ignored). */
  maxValidationsInFlight: number
  maxValidationsWaiting: number
  /** Bytes of incoming gossip waiting for or in validation, in total and from one peer; beyond, dropped (ignored). */
  maxValidationBytes: number
  maxValidationBytesPerPeer: number

  /** Request/response limits. */
  requestTimeoutMs: number
  maxInboundStreamsPerProtocol: number
  /** Of those, how many one peer may hold at once (so one member cannot deny status, sync or records to the others). */
  maxInboundStreamsPerPeer: number
  maxBlocksPerRequest: number
  maxRecordBytes: number

  /** Gossipsub heartbeat; lower in tests to form meshes faster. */
  heartbeatMs: number
}

export const defaultNetworkOptions: Omit<NetworkOptions, "chainId"> = {
  listen: ["/ip4/127.0.0.1/tcp/0"],
  bootstrap: [],
  announce: [],
  observers: [],
  members: [],
  observer: false,
  redialBaseMs: 500,
  redialMaxMs: 10_000,
  redialJitter: 0.3,
  pingIntervalMs: 15_000,
  maxMissedPings: 3,
  maxInboundConnectionsPerHostPerSecond: 64,
  maxPendingInboundConnections: 64,
  banMs: 10 * 60_000,
  maxTxsPerMessage: 64,
  maxTxMessageBytes: 512 * 1024,
  maxConsensusMessageBytes: 4 * 1024 * 1024 + 64 * 1024,
  txBatchDelayMs: 20,
  maxQueuedTxs: 4096,
  maxPublishInFlight: 32,
  maxPublishWaiting: 256,
  maxValidationsInFlight: 64,
  maxValidationsWaiting: 4096,
  maxValidationBytes: 128 * 1024 * 1024,
  maxValidationBytesPerPeer: 32 * 1024 * 1024,
  requestTimeoutMs: 10_000,
  maxInboundStreamsPerProtocol: 16,
  maxInboundStreamsPerPeer: 4,
  maxBlocksPerRequest: 64,
  maxRecordBytes: 8 * 1024 * 1024,
  heartbeatMs: 700,
}

/**
 * One bootstrap entry as a dialable multiaddr. `HOSPITAL@HOST:PORT` names a member hospital: the
 * peer id is derived from its node key (the node key is the libp2p key), so an operator needs only
 * the host and port. A multiaddr is returned as given. `peerIdOf` maps a hospital id to its peer id.
 */
export function bootstrapAddress(entry: string, peerIdOf: (hospital: string) => string | undefined): string {
  if (entry.startsWith("/")) return entry
  const match = /^([a-z0-9-]+)@(\[[0-9a-fA-F:.]+\]|[^:@/\s]+):(\d{1,5})$/.exec(entry.trim())
  if (match === null) throw new NetworkError(NetworkErrorCode.BAD_MULTIADDR, `bootstrap ${JSON.stringify(entry)}: expected HOSPITAL@HOST:PORT or a multiaddr`)
  const [, hospital, host, port] = match as unknown as [string, string, string, string]
  const peerId = peerIdOf(hospital)
  if (peerId === undefined) throw new NetworkError(NetworkErrorCode.BAD_MULTIADDR, `bootstrap ${JSON.stringify(entry)}: no hospital ${hospital} in the genesis or state`)
  if (Number(port) < 1 || Number(port) > 65535) throw new NetworkError(NetworkErrorCode.BAD_MULTIADDR, `bootstrap ${JSON.stringify(entry)}: bad port`)
  const proto = host.startsWith("[") ? "ip6" : /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ? "ip4" : "dns4"
  return `/${proto}/${host.replace(/^\[|\]$/g, "")}/tcp/${port}/p2p/${peerId}`
}

export function resolveOptions(options: Partial<NetworkOptions> & {chainId: string}): NetworkOptions {
  return {...defaultNetworkOptions, ...options}
}
