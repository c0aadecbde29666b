import {expect} from "chai"
import {TxErrorCode, getValidators, listValidatorProposals} from "../../src/index.js"
import {TestChain, TxType, caught, keyOf} from "./fixture.js"

type Action = "add" | "remove" | "withdraw-add" | "withdraw-remove"

const vote = (chain: TestChain, voter: string, action: Action, hospital: string) =>
  chain.sign(keyOf(voter), TxType.ValidatorVote, {action, hospital, key: keyOf(hospital).publicKey, name: action === "add" ? `Hospital ${hospital}` : ""})

describe("state/validators: withdrawing a vote", function () {
  it("a validator withdraws its vote; the proposal keeps the other votes and goes when none is left", async function () {
    const chain = new TestChain(["hosp-a", "hosp-b", "hosp-c", "hosp-d"])
    await chain.block([await vote(chain, "hosp-a", "add", "hosp-e"), await vote(chain, "hosp-b", "add", "hosp-e")])
    expect((await listValidatorProposals(chain.state))[0]!.voters).to.deep.equal([keyOf("hosp-a").id, keyOf("hosp-b").id])

    await chain.block([await vote(chain, "hosp-a", "withdraw-add", "hosp-e")])
    expect((await listValidatorProposals(chain.state))[0]!.voters).to.deep.equal([keyOf("hosp-b").id])
    // Withdrawn votes no longer count: two more votes are needed (3 of 4), not one.
    await chain.block([await vote(chain, "hosp-c", "add", "hosp-e")])
    expect(await getValidators(chain.state)).to.have.length(4)

    // Only a vote that was cast can be withdrawn.
    const never = await vote(chain, "hosp-d", "withdraw-add", "hosp-e")
    expect((await caught(chain.check(never))).code).to.equal(TxErrorCode.NOT_FOUND)
    const noProposal = await vote(chain, "hosp-a", "withdraw-remove", "hosp-b")
    expect((await caught(chain.check(noProposal))).code).to.equal(TxErrorCode.NOT_FOUND)

    await chain.block([await vote(chain, "hosp-b", "withdraw-add", "hosp-e"), await vote(chain, "hosp-c", "withdraw-add", "hosp-e")])
    expect(await listValidatorProposals(chain.state)).to.deep.equal([])
  })

})
