import {expect} from "chai"
import {DEFAULT_TIMEOUT_MS} from "@careledger/client"
import {MAX_TX_WAIT_MS} from "../../src/rpc/chain.js"

describe("rpc: the client outwaits the node", () => {
  it("gives up later than the longest a node holds a call (chain_waitForTx, wait: true)", () => {
    // A node holds chain_waitForTx up to MAX_TX_WAIT_MS and a `wait: true` record_put up to 30 s;
    // the client's default timeout must be longer, or the caller sees a client timeout instead of
    // the node's answer.
    expect(DEFAULT_TIMEOUT_MS).to.be.greaterThan(MAX_TX_WAIT_MS)
    expect(DEFAULT_TIMEOUT_MS).to.be.greaterThan(30_000)
  })
})
