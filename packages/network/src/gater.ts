import type {ConnectionGater, PeerId} from "@libp2p/interface"
import {peerIdOf, publicKeyFromAccountId} from "@careledger/core"
import {NetworkError, NetworkErrorCode} from "./errors.js"

/**
 * Admits only member peers: current validators plus configured observers, minus banned peers.
 * The checks run on the remote peer id right after the Noise handshake (inbound) and before any
 * dial (outbound), so a stranger never reaches multistream-select or any of our protocols.
 */
export class MembershipGater {
  private members = new Set<string>()
  private observers = new Set<string>()
  private readonly banned = new Map<string, number>()
  private readonly selfPeerId: string

  constructor(selfPeerId: string, members: readonly string[], observers: readonly string[]) {
    this.selfPeerId = selfPeerId
    this.observers = new Set(observers.map(toPeerId))
    this.members = new Set(members.map(toPeerId))
  }

  /** Replaces the member keys (hex); returns the peer ids that are no longer admitted. */
  setMembers(keys: readonly string[]): Set<string> {
    const next = new Set(keys.map(toPeerId))
    const removed = new Set<string>()
    for (const id of this.members) if (!next.has(id) && !this.observers.has(id)) removed.add(id)
    this.members = next
    return removed
  }

  setObservers(keys: readonly string[]): Set<string> {
    const next = new Set(keys.map(toPeerId))
    const removed = new Set<string>()
    for (const id of this.observers) if (!next.has(id) && !this.members.has(id)) removed.add(id)
    this.observers = next
    return removed
  }

  ban(peerId: string, untilMs: number): void {
    this.banned.set(peerId, untilMs)
  }

  isBanned(peerId: string): boolean {
    const until = this.banned.get(peerId)
    if (until === undefined) return false
    if (until <= Date.now()) {
      this.banned.delete(peerId)
      return false
    }
    return true
  }

  admits(peerId: string): boolean {
    if (peerId === this.selfPeerId) return false
    return (this.members.has(peerId) || this.observers.has(peerId)) && !this.isBanned(peerId)
  }

  /** The libp2p hooks; each returns true to deny. */
  connectionGater(): ConnectionGater {
    const deny = (peer: PeerId): boolean => !this.admits(peer.toString())
    return {
      denyDialPeer: deny,
      denyOutboundConnection: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
      denyInboundUpgradedConnection: deny,
      denyOutboundUpgradedConnection: deny,
    }
  }
}

function toPeerId(hexKey: string): string {
  const key = publicKeyFromAccountId(hexKey)
  if (key === undefined) throw new NetworkError(NetworkErrorCode.BAD_OPTIONS, `member key ${hexKey} is not a hex Ed25519 public key`)
  return peerIdOf(key)
}
