import type {CareLedgerNode} from "../node/node.js"
import {adminMethods} from "./admin.js"
import {chainMethods} from "./chain.js"
import {consensusMethods} from "./consensus.js"
import type {RpcNamespace} from "./method.js"
import {netMethods} from "./net.js"
import {nodeMethods} from "./node.js"
import {txMethods} from "./tx.js"
import {validatorMethods} from "./validator.js"

/** The node's own namespaces; health-data namespaces are added by the node's `extraNamespaces`. */
export function coreNamespaces(node: CareLedgerNode): RpcNamespace[] {
  return [nodeMethods(node), netMethods(node), adminMethods(node), chainMethods(node), txMethods(node), validatorMethods(node), consensusMethods(node)]
}
