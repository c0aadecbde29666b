import type {NetworkHost} from "@careledger/network"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"

/** What admin_ uses of the node: dialling peers. */
export interface AdminRpcDeps {
  readonly network: Pick<NetworkHost, "addPeer">
}

export function adminMethods(node: AdminRpcDeps): RpcNamespace {
  return {
    admin_addPeer: method(params({multiaddr: p.string({min: 1, max: 512, pattern: /\/p2p\/\w+$/})}), {
      permission: "admin",
      summary: "dial a member peer (multiaddr ending in /p2p/<peer id>) and keep redialling it",
      handler: async ({multiaddr}): Promise<{peerId: string | null; connected: boolean}> => {
        await node.network.addPeer(multiaddr)
        return {peerId: multiaddr.split("/p2p/").pop() ?? null, connected: true}
      },
    }),
  }
}
