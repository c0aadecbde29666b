import {expect} from "chai"
import {mkdtemp, rm} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {MempoolError, MempoolErrorCode, PrivateKey, TxErrorCode, TxType, type Transaction} from "@careledger/core"
import {NodeTxJournal} from "../../src/health/journal.js"
import {Vault} from "../../src/health/vault.js"
import {NodeSigner} from "../../src/keystore/signer.js"
import type {TxSubmitter} from "../../src/health/chain.js"

/** A node's pool as the journal sees it: accepts the first submission, then refuses as told. */
class RefusingPool implements TxSubmitter {
  submitted: Transaction[] = []
  refusal: Error | undefined
  async submit(tx: Transaction): Promise<void> {
    if (this.refusal !== undefined && this.submitted.length > 0) throw this.refusal
    this.submitted.push(tx)
  }
  async nextNonce(): Promise<number> {
    return this.submitted.length
  }
  async waitFinal(): Promise<boolean> {
    return false
  }
  async isFinal(): Promise<boolean> {
    return false
  }
}

describe("health/journal", () => {
  let dir: string
  let vault: Vault
  let pool: RefusingPool
  let journal: NodeTxJournal

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-journal-"))
    vault = new Vault({datadir: dir})
    await vault.start()
    pool = new RefusingPool()
    const key = PrivateKey.generate()
    journal = new NodeTxJournal({submitter: pool, vault, signer: new NodeSigner({chainId: "journal-test", key, nextNonce: () => pool.nextNonce()})})
    await journal.submit(TxType.AuditAnchor, {sequence: 1, head: new Uint8Array(32).fill(7)}, true)
  })

  afterEach(async () => {
    await vault.stop()
    await rm(dir, {recursive: true, force: true})
  })

  it("drops a journalled transaction the node's pool refuses for good instead of retrying it every block", async () => {
    // The pool wraps the state check's verdict; the journal must read the verdict inside it.
    pool.refusal = new MempoolError(MempoolErrorCode.REJECTED, "not a hospital's node key", {reason: TxErrorCode.UNAUTHORIZED})
    await journal.resubmit()
    expect(await vault.pending(10)).to.deep.equal([])
  })

  it("signs again, with a fresh nonce, a journalled transaction whose nonce the pool says was taken", async () => {
    const [before] = await vault.pending(10)
    pool.refusal = new MempoolError(MempoolErrorCode.REJECTED, "nonce already used", {reason: TxErrorCode.NONCE_REPLAYED})
    await journal.resubmit()
    const after = await vault.pending(10)
    expect(after).to.have.length(1)
    expect(after[0]!.hash).to.not.equal(before!.hash)
  })

  it("keeps a journalled transaction the pool cannot take yet (full) for the next block", async () => {
    pool.refusal = new MempoolError(MempoolErrorCode.FULL, "pool full")
    await journal.resubmit()
    expect(await vault.pending(10)).to.have.length(1)
  })
})
