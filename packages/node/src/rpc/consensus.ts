import {coreRoutes, toHex, toJsonValue, type ConsensusMachine, type ConsensusTimeout, type Evidence} from "@careledger/core"
import {serve, type RpcNamespace} from "./method.js"

/** What consensus_ reads of the node: the machine's status, recent timeouts and evidence. */
export interface ConsensusRpcDeps {
  readonly machine: Pick<ConsensusMachine, "status" | "proposerOf">
  readonly timeouts: readonly ConsensusTimeout[]
  readonly evidence: readonly Evidence[]
}

export function consensusMethods(node: ConsensusRpcDeps): RpcNamespace {
  return {
    consensus_status: serve(coreRoutes.consensus_status, () => {
      const status = node.machine.status
      return {
        height: status.height,
        round: status.round,
        step: status.step,
        proposer: toHex(node.machine.proposerOf(status.height, status.round)),
        validator: status.isValidator,
        validators: status.validators,
        lastTimeouts: node.timeouts.map((t) => ({height: t.height, round: t.round, step: t.step, at: t.at})),
        evidence: node.evidence.map((e) =>
          toJsonValue({
            validator: e.validator,
            height: e.height,
            round: e.round,
            kind: e.kind,
            first: e.first.signature,
            second: e.second.signature,
          }),
        ),
      }
    }),
  }
}
