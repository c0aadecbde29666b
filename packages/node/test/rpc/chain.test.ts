import {expect} from "chai"
import type {TxLookup} from "@careledger/core"
import {chainMethods, type ChainRpcDeps} from "../../src/rpc/chain.js"
import {HeadFeed} from "../../src/rpc/index.js"

describe("rpc/chain", function () {
  it("answers a held chain_waitForTx as soon as the node's stop signal aborts, leaving no listener behind", async () => {
    const feed = new HeadFeed()
    const abort = new AbortController()
    // A transaction nobody knows: the call is held for its whole timeout unless the node stops.
    const store = {getTx: async () => undefined, getTxLocation: async () => undefined} as unknown as ChainRpcDeps["store"]
    const methods = chainMethods({store, mempool: {get: () => undefined}, feed, nextNonce: async () => 0, signal: abort.signal})
    const held = methods.chain_waitForTx!.invoke({hash: "ab".repeat(32), timeoutMs: 30_000}, {permission: "read", clientAddress: "test"}) as Promise<TxLookup | null>
    for (let i = 0; i < 1000 && feed.subscribers === 0; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(feed.subscribers).to.equal(1)
    abort.abort()
    expect(feed.subscribers).to.equal(0)
    expect(await held).to.equal(null)
    // Once stopped, a new call answers at once instead of being held.
    const late = methods.chain_waitForTx!.invoke({hash: "cd".repeat(32)}, {permission: "read", clientAddress: "test"})
    expect(await late).to.equal(null)
    expect(feed.subscribers).to.equal(0)
  })
})
