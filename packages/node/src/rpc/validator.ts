import type {PendingValidatorVote, TxSubmitted, ValidatorInfo} from "@careledger/client"
import {fromHex, listHospitals, listValidatorProposals, peerIdOf, toHex, type ChainStore, type HospitalRecord, type ValidatorVoteAction} from "@careledger/core"
import {RpcErrorCode, RpcServerError} from "./errors.js"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"

/** What validator_ uses of the node: the validator sets in the store and the node key's vote. */
export interface ValidatorRpcDeps {
  readonly store: Pick<ChainStore, "validators" | "validatorsAt" | "head" | "state">
  proposeValidator(payload: {action: ValidatorVoteAction; hospital: string; key: Uint8Array; name: string}): Promise<string>
}

const hospitalId = () => p.string({min: 1, max: 32, pattern: /^[a-z0-9-]+$/})

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
    validator_list: method(params({}), {
      permission: "read",
      summary: "the validator set in proposer order, with hospital names",
      handler: async (): Promise<ValidatorInfo[]> => describe(node.store.validators(), await listHospitals(node.store.state())),
    }),
    validator_getValidatorsByHeight: method(params({height: p.uint()}), {
      permission: "read",
      summary: "the validator set that had to sign the block at a height (as Besu's qbft_getValidatorsByBlockNumber)",
      handler: async ({height}): Promise<ValidatorInfo[]> => {
        const next = node.store.head().height + 1
        if (height > next) throw new RpcServerError(RpcErrorCode.NOT_FOUND, `height ${height} is beyond the next block (${next})`, {height})
        return describe(node.store.validatorsAt(height), await listHospitals(node.store.state()))
      },
    }),
    validator_getPendingVotes: method(params({}), {
      permission: "read",
      summary: "proposals to add or remove a hospital that have not passed yet, with their votes and how many are needed",
      handler: async (): Promise<PendingValidatorVote[]> => {
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
      },
    }),
    validator_propose: method(
      params({
        action: p.oneOf("add", "remove"),
        hospital: hospitalId(),
        key: p.hex({bytes: 32}),
        name: p.optional(p.string({min: 1, max: 128})),
      }),
      {
        permission: "admin",
        summary: "this validator votes (a validator.vote tx signed by the node key) to add or remove a hospital",
        handler: async ({action, hospital, key, name}): Promise<TxSubmitted> => ({hash: await vote({action, hospital, key, name: name ?? hospital})}),
      },
    ),
    validator_discardVote: method(params({action: p.oneOf("add", "remove"), hospital: hospitalId(), key: p.hex({bytes: 32})}), {
      permission: "admin",
      summary: "this validator takes back its vote on a pending proposal (as Besu's qbft_discardValidatorVote)",
      handler: async ({action, hospital, key}): Promise<TxSubmitted> => ({hash: await vote({action: `withdraw-${action}`, hospital, key, name: ""})}),
    }),
  }
}
