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
  private readonly client: CareLedgerClient
  private chainId: string | undefined
  private nonce: number | undefined

  constructor(client: CareLedgerClient, key: PrivateKey, options: {chainId?: string} = {}) {
    this.client = client
    this.key = key
    this.chainId = options.chainId
  }

  /** Signs a transaction of any type with the next nonce, without sending it. */
  async build<T extends TxType>(type: T, payload: PayloadByType[T]): Promise<Transaction<T>> {
    this.chainId ??= (await this.client.nodeInfo()).chainId
    if (this.nonce === undefined) this.nonce = await this.client.getNonce(this.key.id)
    const tx = Transaction.sign({chainId: this.chainId, type, nonce: this.nonce, payload}, this.key)
    this.nonce += 1
    return tx
  }

  async send<T extends TxType>(type: T, payload: PayloadByType[T]): Promise<SentTx> {
    const tx = await this.build(type, payload)
    try {
      const {hash} = await this.client.sendTx(tx)
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

  registerIdentity(key: Uint8Array, role: Role): Promise<SentTx> {
    return this.send(TxType.IdentityRegister, {key, role})
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
