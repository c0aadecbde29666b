/**
 * Transaction intake across a consortium of real node processes (libp2p gossip on loopback): every
 * validator's pool must hold a sender's in-flight transactions, whatever order they reach it in, so
 * any proposer can include them; and a proposer with transactions waiting does not wait out the
 * block interval (here the longest genesis allows, 60 s), which only spaces blocks on an idle chain.
 */
import {expect} from "chai"
import {join} from "node:path"
import {PrivateKey, Role, Transaction, TxType} from "@careledger/core"
import {CareLedgerClient, RpcError, RpcErrorCodes, type TxLookup} from "@careledger/client"
import {readKeyFile} from "@careledger/node"
import {Cluster, eventually} from "./helpers/cluster.js"

const VALIDATORS = 4
const BLOCK_INTERVAL_MS = 60_000

describe("transaction intake (multi-process)", function () {
  this.timeout(300_000)
  let cluster: Cluster
  let clients: CareLedgerClient[]
  let hospital: PrivateKey
  let chainId: string

  const enrol = (nonce: number): Transaction =>
    Transaction.sign({chainId, type: TxType.IdentityRegister, nonce, payload: {key: PrivateKey.generate().publicKey, role: Role.Patient}}, hospital)

  /** Resolves once every validator reports each hash with `status` (pending in its pool, or final). */
  async function everywhere(txs: readonly Transaction[], status: "pending" | "final" | "known", timeoutMs = 60_000): Promise<void> {
    for (const [i, client] of clients.entries()) {
      await eventually(async () => {
        for (const tx of txs) {
          const found = await client.getTx(tx.hashHex())
          if (found === null || (status !== "known" && found.status !== status)) return undefined
        }
        return true
      }, `validator ${i} to hold ${txs.length} txs as ${status}`, timeoutMs)
    }
  }

  before(async () => {
    cluster = await Cluster.create({nodes: VALIDATORS, blockIntervalMs: BLOCK_INTERVAL_MS, chainId: "intake-test"})
    for (let i = 0; i < VALIDATORS; i++) cluster.start(i)
    await Promise.all(Array.from({length: VALIDATORS}, (_, i) => cluster.ready(i)))
    clients = Array.from({length: VALIDATORS}, (_, i) => cluster.client(i))
    hospital = readKeyFile(join(cluster.spec(0).dataDir, "node.key"))
    chainId = (await clients[0]!.nodeInfo()).chainId
    await eventually(async () => ((await clients[0]!.peers()).length >= VALIDATORS - 1 ? true : undefined), "validator 0 to see its peers")
  })

  after(async () => {
    await cluster?.destroy()
  })

  it("finalizes a transaction without waiting out the block interval", async function () {
    const tx = enrol(await clients[0]!.getNonce(hospital.id))
    await clients[0]!.sendTx(tx)
    // Well before the first 60 s interval ends; a proposer that waited it out would not be done.
    await everywhere([tx], "final", BLOCK_INTERVAL_MS * 0.75)
  })

  it("chain_waitForTx holds a call until the transaction is final on that node", async function () {
    const tx = enrol(await clients[0]!.getNonce(hospital.id))
    expect(await clients[2]!.request("chain_waitForTx", {hash: tx.hashHex(), timeoutMs: 0})).to.equal(null)
    // Asked before the tx exists anywhere: the answer comes once a block holding it is final.
    const waiting = clients[2]!.request("chain_waitForTx", {hash: tx.hashHex(), timeoutMs: 25_000}) as Promise<TxLookup | null>
    await clients[0]!.sendTx(tx)
    const found = await waiting
    expect(found?.status).to.equal("final")
    expect(found?.blockHash).to.equal((await clients[2]!.getBlock(found!.blockHeight!))?.hash)
    expect((await clients[1]!.waitForTx(tx.hashHex())).blockHash).to.equal(found!.blockHash)
  })

  it("every validator's pool holds a sender's transactions that arrive out of nonce order, and all run once the gap fills", async function () {
    const first = await clients[0]!.getNonce(hospital.id)
    const txs = Array.from({length: 48}, (_, i) => enrol(first + i))
    // Newest first: all but the first wait behind the gap at `first`, at the node that got them
    // over RPC and at every validator that got them over gossip.
    for (const tx of [...txs].reverse().slice(0, -1)) await clients[0]!.sendTx(tx)
    await everywhere(txs.slice(1), "pending")
    await clients[0]!.sendTx(txs[0]!)
    await everywhere(txs, "final")
  })

  it("tx_sendBatch admits a sender's transactions in one request, in order, with one outcome per transaction", async function () {
    const first = await clients[3]!.getNonce(hospital.id)
    const txs = Array.from({length: 100}, (_, i) => enrol(first + i))
    const foreign = Transaction.sign({chainId: "another-chain", type: TxType.IdentityRegister, nonce: 0, payload: {key: PrivateKey.generate().publicKey, role: Role.Patient}}, hospital)
    const outcomes = await clients[3]!.sendTxs([...txs, txs[5]!, foreign])
    expect(outcomes.slice(0, 100)).to.deep.equal(txs.map((tx) => ({hash: tx.hashHex()})))
    const refused = outcomes.slice(100).map((o) => ("error" in o ? o.error.code : "admitted"))
    expect(refused).to.deep.equal([RpcErrorCodes.DUPLICATE_TX, RpcErrorCodes.WRONG_CHAIN])
    await everywhere(txs, "final")
  })

  it("accepts a sender's transactions with 32 requests in flight without nonce-gap refusals", async function () {
    const first = await clients[1]!.getNonce(hospital.id)
    const txs = Array.from({length: 256}, (_, i) => enrol(first + i))
    const refusals: number[] = []
    let next = 0
    await Promise.all(
      Array.from({length: 32}, async () => {
        while (next < txs.length) {
          const tx = txs[next++]!
          try {
            await clients[1]!.sendTx(tx)
          } catch (err) {
            if (!(err instanceof RpcError)) throw err
            refusals.push(err.code)
          }
        }
      }),
    )
    expect(refusals.filter((code) => code === RpcErrorCodes.NONCE_GAP)).to.deep.equal([])
    expect(refusals).to.deep.equal([])
    await everywhere(txs, "final")
  })
})
