import type {NodeInfo} from "@careledger/client"
import type {CareLedgerNode} from "../node/node.js"
import {NODE_VERSION} from "../node/version.js"
import {method, type RpcNamespace} from "./method.js"
import {params} from "./params.js"

export type NodeRpcDeps = Pick<CareLedgerNode, "chainId" | "key" | "config" | "isValidator" | "knownHospitals" | "network" | "store" | "syncing">

export function nodeMethods(node: NodeRpcDeps): RpcNamespace {
  return {
    node_info: method(params({}), {
      permission: "read",
      summary: "who this node is: chain, key, peer ID, hospital, role, addresses, height",
      handler: (): NodeInfo => ({
        chainId: node.chainId,
        nodeKey: node.key.id,
        peerId: node.key.peerId,
        hospital: node.knownHospitals.find((h) => h.key === node.key.id)?.id ?? null,
        validator: node.isValidator,
        observer: !node.isValidator,
        version: NODE_VERSION,
        listenAddrs: node.network.addresses(),
        height: node.store.head().height,
        syncing: node.syncing,
      }),
    }),
  }
}
