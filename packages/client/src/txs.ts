import {
  Transaction,
  TxType,
  type AccessLogPayload,
  type ConsentGrantPayload,
  type PayloadByType,
  type PrivateKey,
  type RecordAnchorPayload,
  type Role,
  type TrialResultPayload,
  type ValidatorVotePayload,
} from "@careledger/core"
import type {CareLedgerClient} from "./client.js"
import {RpcError} from "./errors.js"

/** What a TxSender needs of the node: the chain id and an account's next nonce (and, to send, tx_send). */
/** How long a submission waits for a node that answers it is catching up (NODE_ERROR_SYNCING). */
const SYNC_RETRY_MS = 500
const SYNC_RETRIES = 60

/**
 * Runs a submission, and runs it again (bounded) while the node says it is catching up with its
 * peers: the same signed transaction is valid once the node is in sync, as the error says.
 */
export async function whenSynced<R>(submit: () => Promise<R>): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await submit()
    } catch (err) {
      // Also when the node relays a custodian's answer that it is catching up (a read's access log waits for it).
      const syncing = err instanceof RpcError && (err.domainCode === "NODE_ERROR_SYNCING" || err.data?.custodianCode === "NODE_ERROR_SYNCING")
      if (!syncing || attempt >= SYNC_RETRIES) throw err
      await new Promise((resolve) => setTimeout(resolve, SYNC_RETRY_MS))
    }
  }
}

export interface TxNode {
  nodeInfo(): Promise<{chainId: string}>
  getNonce(account: string): Promise<number>
  sendTx?: CareLedgerClient["sendTx"]
}

export interface SentTx {
  hash: string
  tx: Transaction
}

/**
 * Builds, signs and submits transactions for one key (a provider, patient, researcher or hospital).
 * It asks the node for the chain id and the next nonce once, then counts locally so several
 * transactions can be sent back to back; `resync()` asks again after a rejection.
 */
export class TxSender {
  readonly key: PrivateKey
  private readonly client: TxNode
  private chainId: string | undefined
  private nonce: number | undefined

  constructor(client: TxNode, key: PrivateKey, options: {chainId?: string} = {}) {
    this.client = client
    this.key = key
    this.chainId = options.chainId
  }

  /** Takes the next nonce of this key (asking the node only the first time and after a resync). */
  async nextNonce(): Promise<number> {
    if (this.nonce === undefined) this.nonce = await this.client.getNonce(this.key.id)
    return this.nonce++
  }

  /** Signs a transaction of any type with the next nonce, without sending it. */
  async build<T extends TxType>(type: T, payload: PayloadByType[T]): Promise<Transaction<T>> {
    this.chainId ??= (await this.client.nodeInfo()).chainId
    return Transaction.sign({chainId: this.chainId, type, nonce: await this.nextNonce(), payload}, this.key)
  }

  async send<T extends TxType>(type: T, payload: PayloadByType[T]): Promise<SentTx> {
    const tx = await this.build(type, payload)
    try {
      if (this.client.sendTx === undefined) throw new TypeError("this sender's node client cannot send transactions")
      const sendTx = this.client.sendTx.bind(this.client)
      const {hash} = await whenSynced(() => sendTx(tx))
      return {hash, tx}
    } catch (err) {
      this.resync()
      throw err
    }
  }

  /** Forgets the local nonce so the next transaction asks the node again. */
  resync(): void {
    this.nonce = undefined
  }

  /** Enrols a key; a proxy (guardian, caregiver) names the patient it acts for. */
  registerIdentity(key: Uint8Array, role: Role, patient?: Uint8Array): Promise<SentTx> {
    return this.send(TxType.IdentityRegister, {key, role, ...(patient === undefined ? {} : {patient})})
  }

  revokeIdentity(key: Uint8Array): Promise<SentTx> {
    return this.send(TxType.IdentityRevoke, {key})
  }

  anchorRecord(payload: RecordAnchorPayload): Promise<SentTx> {
    return this.send(TxType.RecordAnchor, payload)
  }

  grantConsent(payload: ConsentGrantPayload): Promise<SentTx> {
    return this.send(TxType.ConsentGrant, payload)
  }

  revokeConsent(consentId: string): Promise<SentTx> {
    return this.send(TxType.ConsentRevoke, {consentId})
  }

  logAccess(payload: AccessLogPayload): Promise<SentTx> {
    return this.send(TxType.AccessLog, payload)
  }

  eraseRecord(recordId: string, legalBasis: string | null = null): Promise<SentTx> {
    return this.send(TxType.RecordErase, {recordId, legalBasis})
  }

  registerTrial(trialId: string, protocolHash: Uint8Array): Promise<SentTx> {
    return this.send(TxType.TrialRegister, {trialId, protocolHash})
  }

  amendTrial(trialId: string, protocolHash: Uint8Array): Promise<SentTx> {
    return this.send(TxType.TrialAmend, {trialId, protocolHash})
  }

  publishTrialResult(payload: TrialResultPayload): Promise<SentTx> {
    return this.send(TxType.TrialResult, payload)
  }

  voteValidator(payload: ValidatorVotePayload): Promise<SentTx> {
    return this.send(TxType.ValidatorVote, payload)
  }
}
