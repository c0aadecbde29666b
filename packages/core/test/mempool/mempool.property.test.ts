import {expect} from "chai"
import fc from "fast-check"
import {decode, encode} from "../../src/encoding/index.js"
import {Block} from "../../src/block/block.js"
import type {Transaction} from "../../src/tx/transaction.js"
import type {StateReader} from "../../src/state/types.js"
import {Mempool} from "../../src/mempool/mempool.js"
import {MempoolError} from "../../src/mempool/errors.js"
import {genesisFixture, registerTx, testKey, validatorKeys, TEST_CHAIN_ID} from "../store/helpers.js"

const senders = [testKey(0x31), testKey(0x32), testKey(0x33)]
const NONCES = 8
/** Signed once: txs[sender][nonce]. */
const txs: Transaction[][] = senders.map((key) => Array.from({length: NONCES}, (_, n) => registerTx(key, n, testKey(0x50))))
const genesis = genesisFixture(validatorKeys(4)).block

class NonceState implements StateReader {
  constructor(readonly nonces: Map<string, number>) {}
  async get(key: string): Promise<Uint8Array | undefined> {
    const nonce = this.nonces.get(key.slice("nonce/".length))
    return nonce === undefined ? undefined : encode(nonce)
  }
  async keys(): Promise<string[]> {
    return []
  }
}

type Op = {kind: "add"; sender: number; nonce: number} | {kind: "block"; take: number}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {weight: 4, arbitrary: fc.record({kind: fc.constant("add" as const), sender: fc.nat(senders.length - 1), nonce: fc.nat(NONCES - 1)})},
  {weight: 1, arbitrary: fc.record({kind: fc.constant("block" as const), take: fc.nat(6)})},
)

describe("mempool/Mempool properties", function () {
  it("stays bounded and always reaps per-sender consecutive nonces from the state's", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, {maxLength: 40}), async (ops) => {
        const nonces = new Map<string, number>()
        let state = new NonceState(new Map(nonces))
        const txBytes = txs[0]![0]!.serialize().length
        const options = {maxTxs: 6, maxBytes: 5 * txBytes + 10, maxFutureNonces: 2}
        const mempool = new Mempool(options, {
          chainId: TEST_CHAIN_ID,
          reader: state,
          nonceOf: async (reader, sender) => {
            const bytes = await reader.get(`nonce/${Buffer.from(sender).toString("hex")}`)
            return bytes === undefined ? 0 : (decode(bytes) as number)
          },
          checkTx: async () => undefined,
        })
        let height = 0
        for (const op of ops) {
          if (op.kind === "add") {
            const tx = txs[op.sender]![op.nonce]!
            try {
              await mempool.add(tx)
              expect(mempool.has(tx.hashHex())).to.equal(true)
            } catch (err) {
              expect(err).to.be.instanceOf(MempoolError)
            }
          } else {
            const included = mempool.reap(op.take, Number.MAX_SAFE_INTEGER)
            for (const tx of included) nonces.set(tx.senderId, tx.nonce + 1)
            height++
            const block = Block.create({...genesis.header, height, parentHash: genesis.hash()}, included)
            state = new NonceState(new Map(nonces))
            await mempool.onBlockCommitted(block, state)
            for (const tx of included) expect(mempool.has(tx.hashHex())).to.equal(false)
          }
          expect(mempool.size).to.be.at.most(options.maxTxs)
          expect(mempool.bytes).to.be.at.most(options.maxBytes)
          // What a proposer gets is executable: each sender's nonces run on from its state nonce.
          const next = new Map(nonces)
          const reaped = mempool.reap(100, Number.MAX_SAFE_INTEGER)
          for (const tx of reaped) {
            expect(tx.nonce).to.equal(next.get(tx.senderId) ?? 0)
            next.set(tx.senderId, tx.nonce + 1)
          }
          expect(reaped.length).to.equal(mempool.metrics().executable)
        }
      }),
      {numRuns: 150},
    )
  })
})
