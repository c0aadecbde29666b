import {
  coreRoutes,
  fromHex,
  listHospitals,
  listValidatorProposals,
  peerIdOf,
  toHex,
  type ChainStore,
  type HospitalRecord,
  type ValidatorInfo,
  type ValidatorVoteAction,
} from "@careledger/core"
import {RpcErrorCode, RpcServerError} from "./errors.js"
import {serve, type RpcNamespace} from "./method.js"

/** What validator_ uses of the node: the validator sets in the store and the node key's vote. */
export interface ValidatorRpcDeps {
  readonly store: Pick<ChainStore, "validators" | "validatorsAt" | "head" | "state">
  proposeValidator(payload: {action: ValidatorVoteAction; hospital: string; key: Uint8Array; name: string}): Promise<string>
}

function describe(keys: readonly Uint8Array[], hospitals: readonly HospitalRecord[]): ValidatorInfo[] {
  const byKey = new Map(hospitals.map((h) => [h.key, h]))
  return keys.map((key) => {
    const id = toHex(key)
    const h = byKey.get(id)
    return {hospital: h?.id ?? "", name: h?.name ?? "", key: id, peerId: peerIdOf(key)}
  })
}

export function validatorMethods(node: ValidatorRpcDeps): RpcNamespace {
  const vote = (payload: {action: ValidatorVoteAction; hospital: string; key: string; name: string}): Promise<string> =>
    node.proposeValidator({...payload, key: fromHex(payload.key)!})
  return {
    validator_list: serve(coreRoutes.validator_list, async () => describe(node.store.validators(), await listHospitals(node.store.state()))),
    validator_getValidatorsByHeight: serve(coreRoutes.validator_getValidatorsByHeight, async ({height}) => {
      const next = node.store.head().height + 1
      if (height > next) throw new RpcServerError(RpcErrorCode.NOT_FOUND, `height ${height} is beyond the next block (${next})`, {height})
      return describe(node.store.validatorsAt(height), await listHospitals(node.store.state()))
    }),
    validator_getPendingVotes: serve(coreRoutes.validator_getPendingVotes, async () => {
      const state = node.store.state()
      const validators = node.store.validators().map(toHex)
      const hospitals = await listHospitals(state)
      const byKey = new Map(hospitals.map((h) => [h.key, h.id]))
      return (await listValidatorProposals(state)).map((proposal) => {
        // Votes of validators that have left the set no longer count (the state rule).
        const counted = proposal.voters.filter((v) => validators.includes(v))
        return {
          action: proposal.action,
          hospital: proposal.hospital,
          key: proposal.key,
          name: proposal.name,
          voters: counted.map((key) => ({hospital: byKey.get(key) ?? "", key})),
          votes: counted.length,
          needed: Math.floor(validators.length / 2) + 1,
          validators: validators.length,
        }
      })
    }),
    validator_propose: serve(coreRoutes.validator_propose, async ({action, hospital, key, name}) => ({
      hash: await vote({action, hospital, key, name: name ?? hospital}),
    })),
    validator_discardVote: serve(coreRoutes.validator_discardVote, async ({action, hospital, key}) => ({
      hash: await vote({action: `withdraw-${action}`, hospital, key, name: ""}),
    })),
  }
}
