import {expect} from "chai"
import fc from "fast-check"
import {bytesEqual} from "../../src/encoding/bytes.js"
import {encode} from "../../src/encoding/index.js"
import {verifyCommit, type CommitCertificate} from "../../src/block/commit.js"
import {
  ConsensusError,
  ConsensusErrorCode,
  MAX_CONSENSUS_MESSAGE_BYTES,
  VoteKind,
  consensusRecordEntries,
  decodeConsensusMessage,
  restoreConsensusRecords,
  decodeEvidence,
  encodeEvidence,
  encodeConsensusMessage,
  signProposal,
  signVote,
  verifyConsensusMessage,
  type Vote,
} from "../../src/consensus/index.js"
import {CHAIN, keys, makeBlock} from "./helpers.js"

function expectConsensusError(fn: () => unknown, code: ConsensusErrorCode): void {
  try {
    fn()
  } catch (err) {
    expect(err).to.be.instanceOf(ConsensusError)
    expect((err as ConsensusError).code).to.equal(code)
    return
  }
  expect.fail(`expected ConsensusError ${code}`)
}

describe("consensus/messages", function () {
  const validators = keys(4)
  const set = validators.map((k) => k.publicKey)

  it("round-trips votes through canonical bytes and still verifies them", function () {
    fc.assert(
      fc.property(
        fc.integer({min: 1, max: 1_000_000}),
        fc.integer({min: 0, max: 10_000}),
        fc.option(fc.uint8Array({minLength: 32, maxLength: 32})),
        fc.constantFrom(VoteKind.Prevote, VoteKind.Precommit),
        fc.integer({min: 0, max: 3}),
        (height, round, blockHash, kind, who) => {
          const vote = signVote({kind, chainId: CHAIN, height, round, blockHash}, validators[who]!)
          const decoded = decodeConsensusMessage(encodeConsensusMessage(vote)) as Vote
          expect(decoded.type).to.equal("vote")
          expect(decoded.kind).to.equal(kind)
          expect(decoded.height).to.equal(height)
          expect(decoded.round).to.equal(round)
          expect(decoded.blockHash === null ? null : Array.from(decoded.blockHash)).to.deep.equal(blockHash === null ? null : Array.from(blockHash))
          verifyConsensusMessage(decoded, CHAIN)
        },
      ),
      {numRuns: 60},
    )
  })

  it("round-trips a proposal with its block and valid round", function () {
    const block = makeBlock(7, 1, validators[0]!, set)
    const proposal = signProposal({chainId: CHAIN, height: 7, round: 3, validRound: 1, block}, validators[0]!)
    const decoded = decodeConsensusMessage(encodeConsensusMessage(proposal))
    if (decoded.type !== "proposal") expect.fail("expected a proposal")
    expect(decoded.validRound).to.equal(1)
    expect(decoded.block.hashHex()).to.equal(block.hashHex())
    verifyConsensusMessage(decoded, CHAIN)
    const fresh = signProposal({chainId: CHAIN, height: 7, round: 0, validRound: -1, block: makeBlock(7, 0, validators[0]!, set)}, validators[0]!)
    const again = decodeConsensusMessage(encodeConsensusMessage(fresh))
    expect(again.type === "proposal" && again.validRound).to.equal(-1)
  })

  it("rejects a tampered signature, a foreign chain, junk and oversized input with typed errors", function () {
    const vote = signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 5, round: 0, blockHash: null}, validators[1]!)
    const bytes = encodeConsensusMessage(vote)
    const tampered = decodeConsensusMessage(bytes.map((b, i) => (i === bytes.length - 1 ? b ^ 1 : b)))
    expectConsensusError(() => verifyConsensusMessage(tampered, CHAIN), ConsensusErrorCode.BAD_SIGNATURE)
    expectConsensusError(() => verifyConsensusMessage(vote, "other-chain"), ConsensusErrorCode.WRONG_CHAIN)
    expectConsensusError(() => decodeConsensusMessage(new Uint8Array([1, 2, 3])), ConsensusErrorCode.MALFORMED)
    expectConsensusError(() => decodeConsensusMessage(encode(["vote?", CHAIN, 1, 0, null])), ConsensusErrorCode.MALFORMED)
    expectConsensusError(() => decodeConsensusMessage(new Uint8Array(MAX_CONSENSUS_MESSAGE_BYTES + 1)), ConsensusErrorCode.TOO_LARGE)
  })

  it("separates domains: a prevote signature is not a precommit signature", function () {
    const hash = makeBlock(3, 0, validators[3]!, set).hash()
    const prevote = signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 3, round: 0, blockHash: hash}, validators[2]!)
    const forged: Vote = {...prevote, kind: VoteKind.Precommit}
    expectConsensusError(() => verifyConsensusMessage(forged, CHAIN), ConsensusErrorCode.BAD_SIGNATURE)
  })

  it("assembles precommits directly into a commit certificate that verifyCommit accepts", function () {
    const block = makeBlock(9, 2, validators[1]!, set)
    const precommits = validators.slice(0, 3).map((k) => signVote({kind: VoteKind.Precommit, chainId: CHAIN, height: 9, round: 2, blockHash: block.hash()}, k))
    const cert: CommitCertificate = {
      height: 9,
      round: 2,
      blockHash: block.hash(),
      signatures: precommits.map((v) => ({validator: v.validator, signature: v.signature})),
    }
    verifyCommit(CHAIN, cert, {height: 9, blockHash: block.hash()}, set)
  })

  it("round-trips persisted records and gives each slot its own key", function () {
    const block = makeBlock(4, 0, validators[0]!, set)
    const vote = signVote({kind: VoteKind.Precommit, chainId: CHAIN, height: 4, round: 0, blockHash: block.hash()}, validators[0]!)
    const proposal = signProposal({chainId: CHAIN, height: 4, round: 0, validRound: -1, block}, validators[0]!)
    const records = [
      {type: "vote", vote} as const,
      {type: "proposal", proposal} as const,
      {type: "lock", height: 4, round: 0, block, prevotes: [vote]} as const,
    ]
    const entries = records.flatMap(consensusRecordEntries)
    const back = restoreConsensusRecords(entries)
    expect(back.map((r) => r.type).sort()).to.deep.equal(["lock", "proposal", "vote"])
    for (const record of records) {
      const again = back.find((r) => r.type === record.type)!
      expect(consensusRecordEntries(again)).to.deep.equal(consensusRecordEntries(record))
    }
    // Each slot has its own key, and the lock keeps its block in an entry of its own.
    expect(new Set(entries.map((e) => e.key)).size).to.equal(4)
    expect(entries.every((e) => e.key.startsWith("h/000000000004/"))).to.equal(true)
    expectConsensusError(() => restoreConsensusRecords([{key: "k", value: encode(["lock", 1])}]), ConsensusErrorCode.UNREADABLE_RECORD)
  })

  it("round-trips equivocation evidence and refuses a pair that does not conflict", function () {
    const a = signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 6, round: 1, blockHash: null}, validators[2]!)
    const b = signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 6, round: 1, blockHash: makeBlock(6, 1, validators[3]!, set).hash()}, validators[2]!)
    const evidence = decodeEvidence(encodeEvidence({validator: a.validator, height: 6, round: 1, kind: VoteKind.Prevote, first: a, second: b}), CHAIN)
    expect(evidence.kind).to.equal(VoteKind.Prevote)
    expect(bytesEqual(evidence.validator, validators[2]!.publicKey)).to.equal(true)
    const other = signVote({kind: VoteKind.Prevote, chainId: CHAIN, height: 6, round: 2, blockHash: null}, validators[2]!)
    expectConsensusError(
      () => decodeEvidence(encodeEvidence({validator: a.validator, height: 6, round: 1, kind: VoteKind.Prevote, first: a, second: other}), CHAIN),
      ConsensusErrorCode.MALFORMED,
    )
  })
})
