/**
 * HealthClient: the health flows of a patient app, an EHR or a research tool over one node's
 * JSON-RPC. Each method builds and signs, in the caller's process, what the acting person must sign
 * (health.ts), then calls the node's routes as core declares them.
 */
import {
  PrivateKey,
  Purpose,
  Transaction,
  auditRequestToJson,
  readRequestToJson,
  signAuditRequest,
  signReadRequest,
  toHex,
  type ConsentGrantee,
  type ConsentScope,
} from "@careledger/core"
import type {
  AuditEntryJson,
  AuditPage,
  ConsentCheckResult,
  ConsentJson,
  FhirResource,
  HealthMethodName,
  HealthRpcMethods,
  JsonValue,
  RecordGetResult,
  RecordHistoryResult,
  RecordPutResult,
  RecordVerifyResult,
  TrialVerifyResult,
  TxSubmitted,
} from "./api.js"
import {TxSender, whenSynced} from "./txs.js"
import {ClientError, ClientErrorCode} from "./errors.js"
import {buildConsentGrant, buildConsentRevoke, buildRecordAnchor, buildRecordErase, buildTrialAmend, buildTrialRegister, buildTrialResult} from "./health.js"

const FINALITY_POLL_MS = 250

/** The one thing the helpers need from a JSON-RPC client (CareLedgerClient has it). */
export interface RpcCaller {
  request(method: string, params?: unknown): Promise<unknown>
}

/**
 * Flow helpers: each builds and signs what the acting person must sign, then calls the node.
 * Keys stay in the caller's process; only signatures and public keys travel.
 */
export class HealthClient {
  /** One local nonce counter per signing key (the same TxSender strategy as every other transaction). */
  private readonly senders = new Map<string, TxSender>()

  constructor(
    private readonly rpc: RpcCaller,
    readonly chainId: string,
    /** How long `wait: true` calls wait for finality. */
    private readonly finalityTimeoutMs = 60_000,
  ) {}

  private async call<M extends HealthMethodName>(method: M, params: HealthRpcMethods[M]["params"]): Promise<HealthRpcMethods[M]["result"]> {
    return (await this.rpc.request(method, params)) as HealthRpcMethods[M]["result"]
  }

  /** The key's sender: asks the node for the nonce once, then counts locally, and asks again after a refusal. */
  private sender(key: PrivateKey): TxSender {
    let sender = this.senders.get(key.id)
    if (sender === undefined) {
      const rpc = this.rpc
      sender = new TxSender(
        {
          nodeInfo: async () => ({chainId: this.chainId}),
          getNonce: async (account: string) => ((await rpc.request("chain_getNonce", {account})) as {nonce: number}).nonce,
        },
        key,
        {chainId: this.chainId},
      )
      this.senders.set(key.id, sender)
    }
    return sender
  }

  /** Runs a call that carries a transaction of `key`; a refusal makes the next one ask the node for the nonce again. */
  private async withTx<R>(key: PrivateKey, send: (nonce: number) => Promise<R>): Promise<R> {
    const sender = this.sender(key)
    try {
      return await send(await sender.nextNonce())
    } catch (err) {
      sender.resync()
      throw err
    }
  }

  /**
   * Sends a transaction of `key` with `tx_send`, the one way every transaction reaches a node, and
   * with `wait` polls `chain_getTx` until it is final (bounded by `finalityTimeoutMs`).
   */
  private async send(key: PrivateKey, build: (nonce: number) => Transaction, wait: boolean): Promise<TxSubmitted & {final: boolean}> {
    return this.withTx(key, async (nonce) => {
      const tx = build(nonce)
      const {hash} = (await whenSynced(() => this.rpc.request("tx_send", {tx: toHex(tx.serialize())}))) as TxSubmitted
      if (!wait) return {hash, final: false}
      const deadline = Date.now() + this.finalityTimeoutMs
      for (;;) {
        const found = (await this.rpc.request("chain_getTx", {hash})) as {status: string} | null
        if (found?.status === "final") return {hash, final: true}
        if (Date.now() > deadline) throw new ClientError(ClientErrorCode.TIMEOUT, `transaction ${hash} not final within ${this.finalityTimeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, FINALITY_POLL_MS))
      }
    })
  }

  /** A provider stores a new record (or a new version of one) at their hospital's node. */
  async putRecord(
    provider: PrivateKey,
    args: {recordId: string; patient: Uint8Array; custodian: string; resource: FhirResource; version?: number; previous?: Uint8Array | null; wait?: boolean},
  ): Promise<RecordPutResult & {salt: Uint8Array}> {
    return this.withTx(provider, async (nonce) => {
      const {tx, salt} = buildRecordAnchor({...args, chainId: this.chainId, nonce}, provider)
      const put = {resource: args.resource, salt: toHex(salt), anchorTx: toHex(tx.serialize()), wait: args.wait ?? true}
      const result = await whenSynced(() => this.call("record_put", put))
      return {...result, salt}
    })
  }

  /**
   * A reader (provider, researcher, proxy, the patient) asks for a record through their own hospital's
   * node. The request names the custodian (looked up when not given) so it is valid only there.
   */
  async readRecord(
    reader: PrivateKey,
    args: {recordId: string; purpose: Purpose; custodian?: string; version?: number; breakGlassReason?: string},
  ): Promise<RecordGetResult> {
    const custodian = args.custodian ?? (await this.recordHistory(args.recordId)).custodian
    // A custodian that is catching up cannot queue the access log yet; a fresh request (each is usable once) after a pause.
    return whenSynced(() => this.call("record_get", {request: readRequestToJson(signReadRequest({...args, custodian, chainId: this.chainId}, reader))}))
  }

  async grantConsent(
    patient: PrivateKey,
    args: {grantee: ConsentGrantee; scope: ConsentScope; purposes: Purpose[]; expiresAt: number; wait?: boolean},
  ): Promise<TxSubmitted & {consentId: string; final: boolean}> {
    const sent = await this.send(patient, (nonce) => buildConsentGrant({...args, chainId: this.chainId, nonce}, patient), args.wait ?? true)
    // A consent's id is its grant transaction's hash.
    return {...sent, consentId: sent.hash}
  }

  async revokeConsent(patient: PrivateKey, args: {consentId: string; wait?: boolean}): Promise<TxSubmitted & {final: boolean}> {
    return this.send(patient, (nonce) => buildConsentRevoke({...args, chainId: this.chainId, nonce}, patient), args.wait ?? true)
  }

  /** The patient (or the custodian with a legal basis) erases a record everywhere. */
  async eraseRecord(signer: PrivateKey, args: {recordId: string; legalBasis?: string | null; wait?: boolean}): Promise<TxSubmitted & {final: boolean}> {
    return this.send(signer, (nonce) => buildRecordErase({...args, chainId: this.chainId, nonce}, signer), args.wait ?? true)
  }

  /** One page of the patient's trail (newest first); follow `next` for older entries. */
  async auditTrail(patient: PrivateKey, page: {cursor?: string; limit?: number} = {}): Promise<AuditPage> {
    return this.call("audit_trail", {request: auditRequestToJson(signAuditRequest({chainId: this.chainId}, patient)), ...page})
  }

  /** The patient's whole trail, every page (bounded by `maxPages`). */
  async fullAuditTrail(patient: PrivateKey, maxPages = 1_000): Promise<AuditEntryJson[]> {
    const entries: AuditEntryJson[] = []
    let cursor: string | undefined
    for (let page = 0; page < maxPages; page++) {
      const result = await this.auditTrail(patient, {limit: 1000, ...(cursor === undefined ? {} : {cursor})})
      entries.push(...result.entries)
      if (result.next === null) return entries
      cursor = result.next
    }
    return entries
  }

  async auditExport(patient: PrivateKey): Promise<JsonValue> {
    return this.call("audit_export", {request: auditRequestToJson(signAuditRequest({chainId: this.chainId}, patient))})
  }

  async verifyRecord(args: {recordId: string; resource: FhirResource; salt: Uint8Array; version?: number}): Promise<RecordVerifyResult> {
    return this.call("record_verify", {...args, salt: toHex(args.salt)})
  }

  async recordHistory(recordId: string): Promise<RecordHistoryResult> {
    return this.call("record_history", {recordId})
  }

  async listConsents(filter: {patient?: Uint8Array; grantee?: Uint8Array; hospital?: string}): Promise<ConsentJson[]> {
    return this.call("consent_list", {
      ...(filter.patient === undefined ? {} : {patient: toHex(filter.patient)}),
      ...(filter.grantee === undefined ? {} : {grantee: toHex(filter.grantee)}),
      ...(filter.hospital === undefined ? {} : {hospital: filter.hospital}),
    })
  }

  async checkConsent(args: {recordId: string; reader: Uint8Array; purpose: Purpose; breakGlassReason?: string}): Promise<ConsentCheckResult> {
    return this.call("consent_check", {...args, reader: toHex(args.reader)})
  }

  /** A researcher pre-registers a trial protocol (its hash goes on chain, the document stays with them). */
  async registerTrial(researcher: PrivateKey, args: {trialId: string; protocol: Uint8Array | string; wait?: boolean}): Promise<TxSubmitted & {final: boolean}> {
    return this.send(researcher, (nonce) => buildTrialRegister({...args, chainId: this.chainId, nonce}, researcher), args.wait ?? true)
  }

  async amendTrial(researcher: PrivateKey, args: {trialId: string; protocol: Uint8Array | string; wait?: boolean}): Promise<TxSubmitted & {final: boolean}> {
    return this.send(researcher, (nonce) => buildTrialAmend({...args, chainId: this.chainId, nonce}, researcher), args.wait ?? true)
  }

  async publishTrialResult(
    researcher: PrivateKey,
    args: {trialId: string; results: Uint8Array | string; dataset?: Uint8Array | string | null; wait?: boolean},
  ): Promise<TxSubmitted & {final: boolean}> {
    return this.send(researcher, (nonce) => buildTrialResult({...args, chainId: this.chainId, nonce}, researcher), args.wait ?? true)
  }

  async verifyTrial(args: {trialId: string; protocol?: string; results?: string; dataset?: string}): Promise<TrialVerifyResult> {
    return this.call("trial_verify", args)
  }
}
