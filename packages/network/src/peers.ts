import type {Libp2p} from "libp2p"
import type {Ping} from "@libp2p/ping"
import {peerIdFromString} from "@libp2p/peer-id"
import type {PeerId} from "@libp2p/interface"
import {multiaddr, type Multiaddr} from "@multiformats/multiaddr"
import {toHex} from "@careledger/core"
import {NetworkError, NetworkErrorCode} from "./errors.js"
import type {NetworkOptions} from "./options.js"
import type {Logger} from "./metrics.js"
import type {MembershipGater} from "./gater.js"

/** A member we keep connected to: bootstrap, added by an operator, or seen connected. */
export interface KnownPeer {
  peerId: PeerId
  /** Dial addresses given by the operator; empty when we rely on the peer store (identify). */
  addrs: Multiaddr[]
  attempts: number
  timer: NodeJS.Timeout | undefined
  dialing: boolean
  /** A ping is in flight (one at a time per peer). */
  pinging: boolean
  /** Pings in a row that got no answer within the request timeout. */
  missedPings: number
  latencyMs: number | undefined
}

export interface PeerDialerDependencies {
  gater: MembershipGater
  /** The running libp2p node, or undefined while the host is stopped. */
  libp2p(): Libp2p<{ping: Ping}> | undefined
  /** Aborted when the host stops. */
  signal(): AbortSignal
  log: Logger
}

/**
 * Peers and dialing: the members we keep connected to, a redial loop with bounded exponential
 * backoff, hang-ups of peers no longer admitted, and ping latency.
 */
export class PeerDialer {
  private readonly known = new Map<string, KnownPeer>()

  constructor(
    private readonly options: NetworkOptions,
    private readonly deps: PeerDialerDependencies,
  ) {}

  get(id: string): KnownPeer | undefined {
    return this.known.get(id)
  }

  ids(): string[] {
    return [...this.known.keys()]
  }

  remember({peerId, addr}: {peerId: PeerId; addr?: Multiaddr}): KnownPeer {
    const id = peerId.toString()
    let peer = this.known.get(id)
    if (peer === undefined) {
      peer = {peerId, addrs: [], attempts: 0, timer: undefined, dialing: false, pinging: false, missedPings: 0, latencyMs: undefined}
      this.known.set(id, peer)
    }
    if (addr !== undefined && !peer.addrs.some((a) => a.equals(addr))) peer.addrs.push(addr)
    return peer
  }

  /** A peer connected: remember it, and stop any pending redial. */
  connected(peerId: PeerId): KnownPeer {
    const peer = this.remember({peerId})
    peer.attempts = 0
    peer.missedPings = 0
    if (peer.timer !== undefined) clearTimeout(peer.timer)
    peer.timer = undefined
    return peer
  }

  /** Schedules a redial of every known peer that is admitted and not connected. */
  redialAll(immediate: boolean): void {
    for (const peer of this.known.values()) this.scheduleRedial(peer, immediate)
  }

  redialIfKnown(id: string): void {
    const peer = this.known.get(id)
    if (peer !== undefined) this.scheduleRedial(peer, false)
  }

  /** Clears every redial timer (the host stopped). */
  stop(): void {
    for (const peer of this.known.values()) {
      if (peer.timer !== undefined) clearTimeout(peer.timer)
      peer.timer = undefined
      peer.attempts = 0
      peer.dialing = false
      peer.pinging = false
      peer.missedPings = 0
    }
  }

  async hangUp(peerIds: Set<string>): Promise<void> {
    const node = this.deps.libp2p()
    if (node === undefined) return
    await Promise.all(
      [...peerIds].map(async (id) => {
        const peer = this.known.get(id)
        if (peer?.timer !== undefined) {
          clearTimeout(peer.timer)
          peer.timer = undefined
        }
        await node.hangUp(peerIdFromString(id)).catch((err: Error) => this.deps.log.debug({peerId: id, err: err.message}, "hang up failed"))
      }),
    )
  }

  /**
   * Redials a known member with exponential backoff (base * 2^attempts, capped, minus jitter) until
   * it is connected again; a member restarted on the same key and address comes back by itself.
   */
  scheduleRedial(peer: KnownPeer, immediate: boolean): void {
    const node = this.deps.libp2p()
    if (node === undefined || peer.timer !== undefined || peer.dialing) return
    const id = peer.peerId.toString()
    if (!this.deps.gater.admits(id) || node.getConnections(peer.peerId).length > 0) return
    const o = this.options
    const backoff = Math.min(o.redialMaxMs, o.redialBaseMs * 2 ** peer.attempts)
    const delay = immediate ? 0 : Math.round(backoff * (1 - o.redialJitter * Math.random()))
    peer.timer = setTimeout(() => {
      peer.timer = undefined
      void this.redial(peer)
    }, delay)
    peer.timer.unref()
  }

  private async redial(peer: KnownPeer): Promise<void> {
    const node = this.deps.libp2p()
    if (node === undefined) return
    const id = peer.peerId.toString()
    if (!this.deps.gater.admits(id) || node.getConnections(peer.peerId).length > 0) return
    peer.dialing = true
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(this.options.requestTimeoutMs), this.deps.signal()])
      // Operator-given addresses first; otherwise the peer store's (learned through identify).
      if (peer.addrs.length > 0) await node.dial(peer.addrs, {signal})
      else await node.dial(peer.peerId, {signal})
      peer.attempts = 0
    } catch (err) {
      peer.attempts = Math.min(peer.attempts + 1, 30)
      this.deps.log.debug({peerId: id, attempts: peer.attempts, err: (err as Error).message}, "redial failed")
    } finally {
      peer.dialing = false
    }
    if (this.deps.libp2p() !== undefined && node.getConnections(peer.peerId).length === 0) this.scheduleRedial(peer, false)
  }

  /**
   * Measures a member's round trip, one ping at a time per peer. `maxMissedPings` pings in a row
   * unanswered within the request timeout mean the peer is gone while its connection still looks
   * open: the connection is closed and the redial loop takes over. One late answer is not enough:
   * a member starved of CPU (many nodes on few cores) answers late but is still there.
   */
  async ping(peer: KnownPeer): Promise<void> {
    const node = this.deps.libp2p()
    if (node === undefined || peer.pinging) return
    peer.pinging = true
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs)
    try {
      peer.latencyMs = await node.services.ping.ping(peer.peerId, {signal: AbortSignal.any([timeout, this.deps.signal()])})
      peer.missedPings = 0
    } catch (err) {
      const id = peer.peerId.toString()
      this.deps.log.debug({peerId: id, err: (err as Error).message}, "ping failed")
      if (timeout.aborted) peer.missedPings++
      if (peer.missedPings >= this.options.maxMissedPings && this.deps.libp2p() === node) {
        peer.missedPings = 0
        this.deps.log.warn({peerId: id, missed: this.options.maxMissedPings, timeoutMs: this.options.requestTimeoutMs}, "peer did not answer pings: closing the connection")
        await node.hangUp(peer.peerId).catch((hangUpErr: Error) => this.deps.log.debug({peerId: id, err: hangUpErr.message}, "hang up failed"))
      }
    } finally {
      peer.pinging = false
    }
  }
}

/** Parses `/ip4/.../tcp/.../p2p/<id>`; the peer id is required so the gater can check membership. */
export function parsePeerAddress(address: string): {peerId: PeerId; addr: Multiaddr} {
  let addr: Multiaddr
  try {
    addr = multiaddr(address)
  } catch (err) {
    throw new NetworkError(NetworkErrorCode.BAD_MULTIADDR, `${address}: ${(err as Error).message}`, {address})
  }
  const p2p = addr.getComponents().find((c) => c.name === "p2p")?.value
  if (p2p === undefined) throw new NetworkError(NetworkErrorCode.BAD_MULTIADDR, `${address} has no /p2p/ peer id`, {address})
  try {
    return {peerId: peerIdFromString(p2p), addr}
  } catch (err) {
    throw new NetworkError(NetworkErrorCode.BAD_MULTIADDR, `${address}: bad peer id (${(err as Error).message})`, {address})
  }
}

/** Parses a peer id string, with a typed error for anything else. */
export function parsePeerId(peerId: string): PeerId {
  try {
    return peerIdFromString(peerId)
  } catch (err) {
    throw new NetworkError(NetworkErrorCode.BAD_PEER_ID, `${peerId} is not a peer id: ${(err as Error).message}`, {peerId})
  }
}

/** The hex Ed25519 public key (account id) behind a peer id, if it embeds one. */
export function publicKeyHexOfPeer(peerId: string): string | undefined {
  const key = parsePeerId(peerId).publicKey
  return key === undefined ? undefined : toHex(key.raw)
}
