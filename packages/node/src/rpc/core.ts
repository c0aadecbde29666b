import {adminMethods, type AdminRpcDeps} from "./admin.js"
import {chainMethods, type ChainRpcDeps} from "./chain.js"
import {consensusMethods, type ConsensusRpcDeps} from "./consensus.js"
import type {RpcNamespace} from "./method.js"
import {netMethods, type NetRpcDeps} from "./net.js"
import {nodeMethods, type NodeRpcDeps} from "./node.js"
import {txMethods, type TxRpcDeps} from "./tx.js"
import {validatorMethods, type ValidatorRpcDeps} from "./validator.js"

/** Everything the core namespaces use of the node, each namespace declaring only its own part. */
export type CoreRpcDeps = NodeRpcDeps & NetRpcDeps & AdminRpcDeps & ChainRpcDeps & TxRpcDeps & ValidatorRpcDeps & ConsensusRpcDeps

export function coreNamespaces(node: CoreRpcDeps): RpcNamespace[] {
  return [nodeMethods(node), netMethods(node), adminMethods(node), chainMethods(node), txMethods(node), validatorMethods(node), consensusMethods(node)]
}
