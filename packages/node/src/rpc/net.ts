import type {PeerInfo} from "@careledger/client"
import {peerIdOf, type HospitalRecord} from "@careledger/core"
import type {NetworkHost} from "@careledger/network"
import {method, type RpcNamespace} from "./method.js"
import {params} from "./params.js"

/** What net_ reads of the node: its peers and the member hospitals. */
export interface NetRpcDeps {
  readonly network: Pick<NetworkHost, "peers">
  readonly knownHospitals: readonly HospitalRecord[]
}

export function netMethods(node: NetRpcDeps): RpcNamespace {
  return {
    net_peers: method(params({}), {
      permission: "read",
      summary: "connected peers with their hospital and announced height",
      handler: (): PeerInfo[] => {
        const byPeerId = new Map(node.knownHospitals.map((h) => [peerIdOf(hexToBytes(h.key)), h]))
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
      },
    }),
  }
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, "hex"))
}
