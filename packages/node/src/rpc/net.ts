import {coreRoutes, fromHex, peerIdOf, type HospitalRecord} from "@careledger/core"
import type {NetworkHost} from "@careledger/network"
import {serve, type RpcNamespace} from "./method.js"

/** What net_ reads of the node: its peers and the member hospitals. */
export interface NetRpcDeps {
  readonly network: Pick<NetworkHost, "peers">
  readonly knownHospitals: readonly HospitalRecord[]
}

export function netMethods(node: NetRpcDeps): RpcNamespace {
  return {
    net_peers: serve(coreRoutes.net_peers, () => {
      const byPeerId = new Map(node.knownHospitals.map((h) => [peerIdOf(fromHex(h.key)!), h]))
      return node.network
        .peers()
        .filter((p) => p.status === "connected")
        .map((p) => {
          const hospital = byPeerId.get(p.peerId)
          return {
            peerId: p.peerId,
            addrs: p.addresses,
            key: hospital?.key ?? null,
            hospital: hospital?.id ?? null,
            height: p.chain?.finalizedHeight ?? null,
          }
        })
    }),
  }
}
