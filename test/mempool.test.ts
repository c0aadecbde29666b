/**
 * Transaction intake across a consortium of real node processes (libp2p gossip on loopback): every
 * validator's pool must hold a sender's in-flight transactions, whatever order they reach it in, so
 * any proposer can include them.
 */
import {expect} from "chai"
import {join} from "node:path"
import {PrivateKey, Role, Transaction, TxType} from "@careledger/core"
import {CareLedgerClient, RpcError, RpcErrorCodes} from "@careledger/client"
import {readKeyFile} from "@careledger/node"
import {Cluster, eventually} from "./helpers/cluster.js"

const VALIDATORS = 4

describe("transaction intake (multi-process)", function () {
  this.timeout(300_000)
  let cluster: Cluster
  let clients: CareLedgerClient[]
  let hospital: PrivateKey
  let chainId: string

  const enrol = (nonce: number): Transaction =>
    Transaction.sign({chainId, type: TxType.IdentityRegister, nonce, payload: {key: PrivateKey.generate().publicKey, role: Role.Patient}}, hospital)

  /** Resolves once every validator reports each hash with `status` (pending in its pool, or final). */
  async function everywhere(txs: readonly Transaction[], status: "pending" | "final" | "known"): Promise<void> {
    for (const [i, client] of clients.entries()) {
      await eventually(async () => {
        for (const tx of txs) {
          const found = await client.getTx(tx.hashHex())
          if (found === null || (status !== "known" && found.status !== status)) return undefined
        }
        return true
      }, `validator ${i} to hold ${txs.length} txs as ${status}`)
    }
  }

  before(async () => {
    cluster = await Cluster.create({nodes: VALIDATORS, blockIntervalMs: 500, chainId: "intake-test"})
    for (let i = 0; i < VALIDATORS; i++) cluster.start(i)
    await Promise.all(Array.from({length: VALIDATORS}, (_, i) => cluster.ready(i)))
    clients = Array.from({length: VALIDATORS}, (_, i) => cluster.client(i))
    hospital = readKeyFile(join(cluster.spec(0).dataDir, "node.key"))
    chainId = (await clients[0]!.nodeInfo()).chainId
    // Gossip needs the mesh: wait until every validator has finalized a block with the others.
    await eventually(async () => ((await clients[0]!.head()).finalizedHeight >= 2 ? true : undefined), "the first blocks")
  })

  after(async () => {
    await cluster?.destroy()
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
