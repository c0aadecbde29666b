import {expect} from "chai"
import fc from "fast-check"
import {PrivateKey, encode} from "@careledger/core"
import {
  BoundedPublisher,
  NetworkError,
  NetworkErrorCode,
  TxBatcher,
  decodeTxBatch,
  encodeTxBatch,
  resolveOptions,
  topicName,
  type GossipTopic,
} from "../../src/index.js"
import {CHAIN_ID, makeTx} from "../helpers.js"

const options = resolveOptions({chainId: CHAIN_ID})
const key = PrivateKey.generate()

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).to.be.instanceOf(NetworkError)
    return (err as NetworkError).code
  }
  return undefined
}

describe("gossip topics", () => {
  it("names topics per chain id", () => {
    expect(topicName("chain-a", "tx")).to.equal("/careledger/chain-a/tx/1")
    expect(topicName("chain-a", "consensus")).to.equal("/careledger/chain-a/consensus/1")
  })

  it("round-trips a batch of signed transactions", () => {
    const txs = [0, 1, 2].map((n) => makeTx(key, n))
    const decoded = decodeTxBatch(encodeTxBatch(txs.map((t) => t.serialize())), options)
    expect(decoded.map((t) => t.hashHex())).to.deep.equal(txs.map((t) => t.hashHex()))
  })

  it("rejects empty, oversized, foreign-chain and badly signed batches", () => {
    const tx = makeTx(key, 0).serialize()
    expect(codeOf(() => decodeTxBatch(encodeTxBatch([]), options))).to.equal(NetworkErrorCode.MALFORMED)
    expect(codeOf(() => decodeTxBatch(encodeTxBatch(Array.from({length: 65}, () => tx)), options))).to.equal(NetworkErrorCode.MALFORMED)
    expect(codeOf(() => decodeTxBatch(new Uint8Array(options.maxTxMessageBytes + 1), options))).to.equal(NetworkErrorCode.TOO_LARGE)
    expect(codeOf(() => decodeTxBatch(encode(["not bytes"]), options))).to.equal(NetworkErrorCode.MALFORMED)
    const foreign = resolveOptions({chainId: "another-chain"})
    expect(codeOf(() => decodeTxBatch(encodeTxBatch([tx]), foreign))).to.equal(NetworkErrorCode.MALFORMED)
    const forged = tx.slice()
    forged[forged.length - 1]! ^= 1
    expect(codeOf(() => decodeTxBatch(encodeTxBatch([forged]), options))).to.equal(NetworkErrorCode.MALFORMED)
  })

  it("never throws anything but a NetworkError on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 512}), (bytes) => {
        try {
          decodeTxBatch(bytes, options)
        } catch (err) {
          return err instanceof NetworkError
        }
        return true
      }),
      {numRuns: 500},
    )
  })
})

describe("bounded publishing", () => {
  it("batches queued txs within the count and byte limits and refuses a full queue", async () => {
    const sent: Array<{topic: GossipTopic; data: Uint8Array}> = []
    const publisher = new BoundedPublisher(async (topic, data) => void sent.push({topic, data}), 4, 4)
    const batcher = new TxBatcher(publisher, {maxTxs: 64, maxBytes: 4096, maxQueued: 200, delayMs: 1000}, (err) => {
      throw err
    })
    const txs = Array.from({length: 150}, (_, n) => makeTx(key, n).serialize())
    // All or nothing: a call that would overflow the queue queues none of its txs.
    expect(codeOf(() => batcher.enqueue([...txs, ...txs.slice(0, 51)]))).to.equal(NetworkErrorCode.QUEUE_FULL)
    expect(batcher.queued).to.equal(0)
    batcher.enqueue(txs)
    await batcher.flush()
    expect(batcher.queued).to.equal(0)
    const batches = sent.map((s) => decodeTxBatch(s.data, {...options, maxTxMessageBytes: 4096}))
    expect(batches.flat()).to.have.length(150)
    for (const s of sent) expect(s.data.length).to.be.at.most(4096)
    for (const b of batches) expect(b.length).to.be.at.most(64)
    batcher.stop()
  })

  it("caps publishes in flight and refuses callers beyond the waiting queue", async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let active = 0
    let peak = 0
    const publisher = new BoundedPublisher(
      async () => {
        peak = Math.max(peak, ++active)
        await gate
        active--
      },
      2,
      3,
    )
    const accepted = [1, 2, 3, 4, 5].map(() => publisher.publish("consensus", new Uint8Array([1])))
    let refused: unknown
    try {
      await publisher.publish("consensus", new Uint8Array([1]))
    } catch (err) {
      refused = err
    }
    expect((refused as NetworkError).code).to.equal(NetworkErrorCode.QUEUE_FULL)
    release()
    await Promise.all(accepted)
    expect(peak).to.equal(2)
  })
})
