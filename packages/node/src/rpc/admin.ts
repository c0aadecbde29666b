import {coreRoutes} from "@careledger/core"
import type {NetworkHost} from "@careledger/network"
import {serve, type RpcNamespace} from "./method.js"

/** What admin_ uses of the node: dialling peers. */
export interface AdminRpcDeps {
  readonly network: Pick<NetworkHost, "addPeer">
}

export function adminMethods(node: AdminRpcDeps): RpcNamespace {
  return {
    admin_addPeer: serve(coreRoutes.admin_addPeer, async ({multiaddr}) => {
      await node.network.addPeer(multiaddr)
      return {peerId: multiaddr.split("/p2p/").pop() ?? null, connected: true}
    }),
  }
}
