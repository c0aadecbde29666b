import {coreRoutes, type ChainStore, type HospitalRecord, type PrivateKey} from "@careledger/core"
import type {NetworkHost} from "@careledger/network"
import {serve, type RpcNamespace} from "./method.js"

/** What node_ reads of the node: who it is, its role, addresses, height and whether it is syncing. */
export interface NodeRpcDeps {
  readonly chainId: string
  readonly key: Pick<PrivateKey, "id" | "peerId">
  readonly isValidator: boolean
  readonly knownHospitals: readonly HospitalRecord[]
  readonly network: Pick<NetworkHost, "addresses">
  readonly store: Pick<ChainStore, "head">
  readonly syncing: boolean
  /** The software version this node runs. */
  readonly version: string
}

export function nodeMethods(node: NodeRpcDeps): RpcNamespace {
  return {
    node_info: serve(coreRoutes.node_info, () => ({
      chainId: node.chainId,
      nodeKey: node.key.id,
      peerId: node.key.peerId,
      hospital: node.knownHospitals.find((h) => h.key === node.key.id)?.id ?? null,
      validator: node.isValidator,
      observer: !node.isValidator,
      version: node.version,
      listenAddrs: node.network.addresses(),
      height: node.store.head().height,
      syncing: node.syncing,
    })),
  }
}
