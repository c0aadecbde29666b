/**
 * Round-robin authority consensus with immediate finality (DESIGN.md §5, docs/consensus.md).
 *
 * `ConsensusMachine` is a pure state machine: the host feeds it inputs and carries out the actions
 * it returns, in order.
 *   inputs:  start(), onMessage(msg), onTimeout({height, round, step}), onProposalBuilt(block),
 *            onBlockValidated(hash, ok), onTxsAvailable(), onCommitApplied(nextValidators),
 *            onFinalizedElsewhere(block, certificate, nextValidators)
 *   actions: broadcast, persist (durable before the next action), schedule-timeout, build-proposal,
 *            validate-block, commit, evidence, request-sync, peer-behind
 * Messages (proposals, prevotes, precommits) are signed, canonical CBOR; precommits sign core's
 * `precommitSigningBytes`, so a quorum of them is a `CommitCertificate` checked by `verifyCommit`.
 * The simulator (`test/sim/`, `npm run sim`) runs the same machine under a seeded, faulty virtual network.
 */
export * from "./errors.js"
export * from "./options.js"
export * from "./messages.js"
export * from "./frame.js"
export * from "./records.js"
export * from "./machine.js"
