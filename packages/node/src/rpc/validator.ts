import type {TxSubmitted, ValidatorInfo} from "@careledger/client"
import {fromHex, getValidators, listHospitals, peerIdOf, toHex} from "@careledger/core"
import type {CareLedgerNode} from "../node/node.js"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"

export type ValidatorRpcDeps = Pick<CareLedgerNode, "store" | "proposeValidator">

export function validatorMethods(node: ValidatorRpcDeps): RpcNamespace {
  return {
    validator_list: method(params({}), {
      permission: "read",
      summary: "the validator set in proposer order, with hospital names",
      handler: async (): Promise<ValidatorInfo[]> => {
        const state = node.store.state()
        const hospitals = new Map((await listHospitals(state)).map((h) => [h.key, h]))
        return (await getValidators(state)).map((key) => {
          const id = toHex(key)
          const h = hospitals.get(id)
          return {hospital: h?.id ?? "", name: h?.name ?? "", key: id, peerId: peerIdOf(key)}
        })
      },
    }),
    validator_propose: method(
      params({
        action: p.oneOf("add", "remove"),
        hospital: p.string({min: 1, max: 32, pattern: /^[a-z0-9-]+$/}),
        key: p.hex({bytes: 32}),
        name: p.optional(p.string({min: 1, max: 128})),
      }),
      {
        permission: "admin",
        summary: "this validator votes (a validator.vote tx signed by the node key) to add or remove a hospital",
        handler: async ({action, hospital, key, name}): Promise<TxSubmitted> => ({
          hash: await node.proposeValidator({action, hospital, key: fromHex(key)!, name: name ?? hospital}),
        }),
      },
    ),
  }
}
