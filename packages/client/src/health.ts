/**
 * Health-data helpers for EHR integrators, patient apps and research tools: canonical FHIR bytes and
 * salted content hashes, signed read and audit requests, and builders for every health transaction.
 * The node verifies exactly what these functions sign, so both sides share this one definition.
 */
import {randomBytes} from "node:crypto"
import {
  PrivateKey,
  Transaction,
  TxType,
  Purpose,
  concatBytes,
  encode,
  fromHex,
  sha256,
  toHex,
  utf8,
  type ConsentGrantee,
  type ConsentScope,
  type Encodable,
} from "@careledger/core"
import type {Hex, JsonValue, TxSubmitted} from "./api.js"

export const SALT_LENGTH = 32
export const REQUEST_NONCE_LENGTH = 16

/** Domain tags keep a read or audit request signature from ever being valid as anything else. */
export const READ_REQUEST_DOMAIN = utf8("careledger/read-request/v1\n")
export const AUDIT_REQUEST_DOMAIN = utf8("careledger/audit-request/v1\n")

/** A FHIR resource as plain JSON (the node validates it against the R4 definitions). */
export type FhirResource = {resourceType: string; [key: string]: unknown}

/**
 * RFC 8785 (JCS) style canonical JSON: object keys sorted by UTF-16 code units, no whitespace,
 * strings and numbers as ECMAScript serialises them. Equal resources give equal bytes.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null"
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value)
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("canonical JSON has no NaN or Infinity")
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined)
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`
  }
  throw new TypeError(`canonical JSON cannot carry a ${typeof value}`)
}

export function canonicalResourceBytes(resource: FhirResource): Uint8Array {
  return utf8(canonicalJson(resource))
}

/** `sha256(salt || canonical(resource))`: what a `record.anchor` puts on chain. */
export function contentHash(salt: Uint8Array, resource: FhirResource): Uint8Array {
  return sha256(salt, canonicalResourceBytes(resource))
}

export function randomSalt(): Uint8Array {
  return new Uint8Array(randomBytes(SALT_LENGTH))
}

// ---------------------------------------------------------------------------------------------
// Signed read requests

export interface ReadRequestFields {
  chainId: string
  recordId: string
  purpose: Purpose
  /** Unix ms when the reader signed it. */
  time: number
  nonce: Uint8Array
  /** The reader's public key. */
  reader: Uint8Array
  /** Emergency access without consent: released but flagged in the audit trail. */
  breakGlass: boolean
}

export interface ReadRequest extends ReadRequestFields {
  signature: Uint8Array
}

export interface ReadRequestJson {
  chainId: string
  recordId: string
  purpose: string
  time: number
  nonce: Hex
  reader: Hex
  breakGlass: boolean
  signature: Hex
}

function readRequestEncodable(r: ReadRequestFields): Encodable {
  return [r.chainId, r.recordId, r.purpose, r.time, r.nonce, r.reader, r.breakGlass]
}

export function readRequestSigningBytes(r: ReadRequestFields): Uint8Array {
  return concatBytes(READ_REQUEST_DOMAIN, encode(readRequestEncodable(r)))
}

export function signReadRequest(
  fields: {chainId: string; recordId: string; purpose: Purpose; breakGlass?: boolean; time?: number; nonce?: Uint8Array},
  key: PrivateKey,
): ReadRequest {
  const unsigned: ReadRequestFields = {
    chainId: fields.chainId,
    recordId: fields.recordId,
    purpose: fields.purpose,
    time: fields.time ?? Date.now(),
    nonce: fields.nonce ?? new Uint8Array(randomBytes(REQUEST_NONCE_LENGTH)),
    reader: key.publicKey,
    breakGlass: fields.breakGlass ?? false,
  }
  return {...unsigned, signature: key.sign(readRequestSigningBytes(unsigned))}
}

export function readRequestToJson(r: ReadRequest): ReadRequestJson {
  return {
    chainId: r.chainId,
    recordId: r.recordId,
    purpose: r.purpose,
    time: r.time,
    nonce: toHex(r.nonce),
    reader: toHex(r.reader),
    breakGlass: r.breakGlass,
    signature: toHex(r.signature),
  }
}

/** The wire form used between hospitals (record-exchange protocol): canonical CBOR. */
export function encodeReadRequest(r: ReadRequest): Uint8Array {
  return encode([...(readRequestEncodable(r) as Encodable[]), r.signature])
}

// ---------------------------------------------------------------------------------------------
// Signed audit-trail requests (a patient asking for their own trail)

export interface AuditRequestFields {
  chainId: string
  /** The patient's public key: only they can ask for their trail. */
  patient: Uint8Array
  time: number
  nonce: Uint8Array
}

export interface AuditRequest extends AuditRequestFields {
  signature: Uint8Array
}

export interface AuditRequestJson {
  chainId: string
  patient: Hex
  time: number
  nonce: Hex
  signature: Hex
}

export function auditRequestSigningBytes(r: AuditRequestFields): Uint8Array {
  return concatBytes(AUDIT_REQUEST_DOMAIN, encode([r.chainId, r.patient, r.time, r.nonce]))
}

export function signAuditRequest(fields: {chainId: string; time?: number; nonce?: Uint8Array}, key: PrivateKey): AuditRequest {
  const unsigned: AuditRequestFields = {
    chainId: fields.chainId,
    patient: key.publicKey,
    time: fields.time ?? Date.now(),
    nonce: fields.nonce ?? new Uint8Array(randomBytes(REQUEST_NONCE_LENGTH)),
  }
  return {...unsigned, signature: key.sign(auditRequestSigningBytes(unsigned))}
}

export function auditRequestToJson(r: AuditRequest): AuditRequestJson {
  return {chainId: r.chainId, patient: toHex(r.patient), time: r.time, nonce: toHex(r.nonce), signature: toHex(r.signature)}
}

// ---------------------------------------------------------------------------------------------
// Transaction builders

export interface TxBase {
  chainId: string
  /** The signer's next nonce (`chain_getNonce`). */
  nonce: number
}

export interface AnchorBuild {
  tx: Transaction<TxType.RecordAnchor>
  salt: Uint8Array
  contentHash: Uint8Array
}

/** A provider anchors a record version over a fresh salted hash; the salt goes only to the custodian. */
export function buildRecordAnchor(
  base: TxBase & {
    recordId: string
    patient: Uint8Array
    custodian: string
    resource: FhirResource
    version?: number
    previous?: Uint8Array | null
    salt?: Uint8Array
  },
  provider: PrivateKey,
): AnchorBuild {
  const salt = base.salt ?? randomSalt()
  const hash = contentHash(salt, base.resource)
  const tx = Transaction.sign(
    {
      chainId: base.chainId,
      type: TxType.RecordAnchor,
      nonce: base.nonce,
      payload: {
        recordId: base.recordId,
        patient: base.patient,
        resourceType: base.resource.resourceType,
        custodian: base.custodian,
        contentHash: hash,
        version: base.version ?? 1,
        previous: base.previous ?? null,
      },
    },
    provider,
  )
  return {tx, salt, contentHash: hash}
}

export function buildConsentGrant(
  base: TxBase & {grantee: ConsentGrantee; scope: ConsentScope; purposes: Purpose[]; expiresAt: number},
  patient: PrivateKey,
): Transaction<TxType.ConsentGrant> {
  return Transaction.sign(
    {
      chainId: base.chainId,
      type: TxType.ConsentGrant,
      nonce: base.nonce,
      payload: {grantee: base.grantee, scope: base.scope, purposes: base.purposes, expiresAt: base.expiresAt},
    },
    patient,
  )
}

export function buildConsentRevoke(base: TxBase & {consentId: string}, patient: PrivateKey): Transaction<TxType.ConsentRevoke> {
  return Transaction.sign({chainId: base.chainId, type: TxType.ConsentRevoke, nonce: base.nonce, payload: {consentId: base.consentId}}, patient)
}

export function buildRecordErase(base: TxBase & {recordId: string; legalBasis?: string | null}, signer: PrivateKey): Transaction<TxType.RecordErase> {
  return Transaction.sign(
    {chainId: base.chainId, type: TxType.RecordErase, nonce: base.nonce, payload: {recordId: base.recordId, legalBasis: base.legalBasis ?? null}},
    signer,
  )
}

/** Trial documents are anchored by the hash of their exact bytes. */
export function documentHash(document: Uint8Array | string): Uint8Array {
  return sha256(typeof document === "string" ? utf8(document) : document)
}

export function buildTrialRegister(base: TxBase & {trialId: string; protocol: Uint8Array | string}, researcher: PrivateKey): Transaction<TxType.TrialRegister> {
  return Transaction.sign(
    {chainId: base.chainId, type: TxType.TrialRegister, nonce: base.nonce, payload: {trialId: base.trialId, protocolHash: documentHash(base.protocol)}},
    researcher,
  )
}

export function buildTrialAmend(base: TxBase & {trialId: string; protocol: Uint8Array | string}, researcher: PrivateKey): Transaction<TxType.TrialAmend> {
  return Transaction.sign(
    {chainId: base.chainId, type: TxType.TrialAmend, nonce: base.nonce, payload: {trialId: base.trialId, protocolHash: documentHash(base.protocol)}},
    researcher,
  )
}

export function buildTrialResult(
  base: TxBase & {trialId: string; results: Uint8Array | string; dataset?: Uint8Array | string | null},
  researcher: PrivateKey,
): Transaction<TxType.TrialResult> {
  return Transaction.sign(
    {
      chainId: base.chainId,
      type: TxType.TrialResult,
      nonce: base.nonce,
      payload: {
        trialId: base.trialId,
        resultsHash: documentHash(base.results),
        datasetHash: base.dataset === undefined || base.dataset === null ? null : documentHash(base.dataset),
      },
    },
    researcher,
  )
}

// ---------------------------------------------------------------------------------------------
// RPC shapes of the record_, consent_, audit_ and trial_ namespaces

export type GranteeJson = {kind: "person"; key: Hex} | {kind: "hospital"; hospital: string}
export type ScopeJson = {kind: "resource-types"; resourceTypes: string[]} | {kind: "records"; recordIds: string[]}

export interface RecordPutResult {
  recordId: string
  version: number
  contentHash: Hex
  txHash: Hex
  /** Whether the anchor was final when the call returned (`wait: true`). */
  final: boolean
}

export interface RecordGetResult {
  recordId: string
  version: number
  resourceType: string
  resource: FhirResource
  salt: Hex
  contentHash: Hex
  custodian: string
  /** "release" under a consent (or as the patient/custodian), "break-glass" when flagged. */
  decision: "release" | "break-glass"
  consentId: string | null
  /** Where this node got the bytes: its own vault, its cache, or the custodian over the network. */
  source: "vault" | "cache" | "custodian"
}

export interface RecordVersionJson {
  version: number
  contentHash: Hex
  previous: Hex | null
  /** Hex key of the provider who anchored it. */
  provider: Hex
  txHash: Hex | null
  height: number | null
}

export interface RecordHistoryResult {
  recordId: string
  patient: Hex
  resourceType: string
  custodian: string
  erased: boolean
  versions: RecordVersionJson[]
}

export interface RecordVerifyResult {
  recordId: string
  version: number
  /** True when sha256(salt || canonical(resource)) equals the finalized anchor of that version. */
  valid: boolean
  anchoredHash: Hex
  computedHash: Hex
  erased: boolean
}

export interface ConsentJson {
  consentId: string
  patient: Hex
  grantee: GranteeJson
  scope: ScopeJson
  purposes: string[]
  expiresAt: number
  revoked: boolean
  active: boolean
}

export interface ConsentCheckResult {
  allowed: boolean
  decision: "release" | "deny" | "break-glass"
  reason: string
  consentId: string | null
}

export interface AuditEntryJson {
  recordId: string
  reader: Hex
  purpose: string
  decision: "release" | "deny" | "break-glass"
  reason: string
  consentId: string | null
  at: number
  via: string
  /** Hospital (custodian) node that wrote the log. */
  loggedBy: Hex
  txHash: Hex | null
}

export interface TrialVerifyResult {
  trialId: string
  registered: boolean
  /** Which protocol version (1 = registration) the document matches, if any. */
  protocolVersion: number | null
  resultsMatch: boolean | null
  datasetMatch: boolean | null
  /** True when the protocol was registered in an earlier block than any results. */
  registeredBeforeResults: boolean | null
  registeredAt: number | null
  resultsAt: number | null
}

export interface HealthRpcMethods {
  record_put: {params: {resource: FhirResource; salt: Hex; anchorTx: Hex; wait?: boolean}; result: RecordPutResult}
  record_get: {params: {request: ReadRequestJson}; result: RecordGetResult}
  record_verify: {params: {recordId: string; resource: FhirResource; salt: Hex; version?: number}; result: RecordVerifyResult}
  record_history: {params: {recordId: string}; result: RecordHistoryResult}
  record_erase: {params: {tx: Hex; wait?: boolean} | {recordId: string; legalBasis: string; wait?: boolean}; result: TxSubmitted & {final: boolean}}
  consent_grant: {params: {tx: Hex; wait?: boolean}; result: TxSubmitted & {consentId: string; final: boolean}}
  consent_revoke: {params: {tx: Hex; wait?: boolean}; result: TxSubmitted & {final: boolean}}
  consent_list: {params: {patient?: Hex; grantee?: Hex; hospital?: string}; result: ConsentJson[]}
  consent_check: {params: {recordId: string; reader: Hex; purpose: string; breakGlass?: boolean}; result: ConsentCheckResult}
  audit_trail: {params: {request?: AuditRequestJson; recordId?: string}; result: AuditEntryJson[]}
  audit_export: {params: {request: AuditRequestJson}; result: JsonValue}
  trial_register: {params: {tx: Hex; wait?: boolean}; result: TxSubmitted & {final: boolean}}
  trial_amend: {params: {tx: Hex; wait?: boolean}; result: TxSubmitted & {final: boolean}}
  trial_result: {params: {tx: Hex; wait?: boolean}; result: TxSubmitted & {final: boolean}}
  trial_verify: {
    params: {trialId: string; protocol?: string; protocolHash?: Hex; results?: string; resultsHash?: Hex; dataset?: string; datasetHash?: Hex}
    result: TrialVerifyResult
  }
}

export type HealthMethodName = keyof HealthRpcMethods

/** The one thing the helpers need from a JSON-RPC client (CareLedgerClient has it). */
export interface RpcCaller {
  request(method: string, params?: unknown): Promise<unknown>
}

/**
 * Flow helpers: each builds and signs what the acting person must sign, then calls the node.
 * Keys stay in the caller's process; only signatures and public keys travel.
 */
export class HealthClient {
  constructor(
    private readonly rpc: RpcCaller,
    readonly chainId: string,
  ) {}

  private async call<M extends HealthMethodName>(method: M, params: HealthRpcMethods[M]["params"]): Promise<HealthRpcMethods[M]["result"]> {
    return (await this.rpc.request(method, params)) as HealthRpcMethods[M]["result"]
  }

  async nonceOf(key: PrivateKey): Promise<number> {
    const result = (await this.rpc.request("chain_getNonce", {account: key.id})) as {nonce: number}
    return result.nonce
  }

  /** A provider stores a new record (or a new version of one) at their hospital's node. */
  async putRecord(
    provider: PrivateKey,
    args: {recordId: string; patient: Uint8Array; custodian: string; resource: FhirResource; version?: number; previous?: Uint8Array | null; wait?: boolean},
  ): Promise<RecordPutResult & {salt: Uint8Array}> {
    const {tx, salt} = buildRecordAnchor({...args, chainId: this.chainId, nonce: await this.nonceOf(provider)}, provider)
    const result = await this.call("record_put", {resource: args.resource, salt: toHex(salt), anchorTx: toHex(tx.serialize()), wait: args.wait ?? true})
    return {...result, salt}
  }

  /** A reader (provider, researcher, the patient) asks for a record through their own hospital's node. */
  async readRecord(reader: PrivateKey, args: {recordId: string; purpose: Purpose; breakGlass?: boolean}): Promise<RecordGetResult> {
    const request = signReadRequest({...args, chainId: this.chainId}, reader)
    return this.call("record_get", {request: readRequestToJson(request)})
  }

  async grantConsent(
    patient: PrivateKey,
    args: {grantee: ConsentGrantee; scope: ConsentScope; purposes: Purpose[]; expiresAt: number; wait?: boolean},
  ): Promise<TxSubmitted & {consentId: string; final: boolean}> {
    const tx = buildConsentGrant({...args, chainId: this.chainId, nonce: await this.nonceOf(patient)}, patient)
    return this.call("consent_grant", {tx: toHex(tx.serialize()), wait: args.wait ?? true})
  }

  async revokeConsent(patient: PrivateKey, args: {consentId: string; wait?: boolean}): Promise<TxSubmitted & {final: boolean}> {
    const tx = buildConsentRevoke({...args, chainId: this.chainId, nonce: await this.nonceOf(patient)}, patient)
    return this.call("consent_revoke", {tx: toHex(tx.serialize()), wait: args.wait ?? true})
  }

  /** The patient (or the custodian with a legal basis) erases a record everywhere. */
  async eraseRecord(signer: PrivateKey, args: {recordId: string; legalBasis?: string | null; wait?: boolean}): Promise<TxSubmitted & {final: boolean}> {
    const tx = buildRecordErase({...args, chainId: this.chainId, nonce: await this.nonceOf(signer)}, signer)
    return this.call("record_erase", {tx: toHex(tx.serialize()), wait: args.wait ?? true})
  }

  async auditTrail(patient: PrivateKey): Promise<AuditEntryJson[]> {
    return this.call("audit_trail", {request: auditRequestToJson(signAuditRequest({chainId: this.chainId}, patient))})
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

  async checkConsent(args: {recordId: string; reader: Uint8Array; purpose: Purpose; breakGlass?: boolean}): Promise<ConsentCheckResult> {
    return this.call("consent_check", {...args, reader: toHex(args.reader)})
  }

  /** A researcher pre-registers a trial protocol (its hash goes on chain, the document stays with them). */
  async registerTrial(researcher: PrivateKey, args: {trialId: string; protocol: Uint8Array | string; wait?: boolean}): Promise<TxSubmitted & {final: boolean}> {
    const tx = buildTrialRegister({...args, chainId: this.chainId, nonce: await this.nonceOf(researcher)}, researcher)
    return this.call("trial_register", {tx: toHex(tx.serialize()), wait: args.wait ?? true})
  }

  async amendTrial(researcher: PrivateKey, args: {trialId: string; protocol: Uint8Array | string; wait?: boolean}): Promise<TxSubmitted & {final: boolean}> {
    const tx = buildTrialAmend({...args, chainId: this.chainId, nonce: await this.nonceOf(researcher)}, researcher)
    return this.call("trial_amend", {tx: toHex(tx.serialize()), wait: args.wait ?? true})
  }

  async publishTrialResult(
    researcher: PrivateKey,
    args: {trialId: string; results: Uint8Array | string; dataset?: Uint8Array | string | null; wait?: boolean},
  ): Promise<TxSubmitted & {final: boolean}> {
    const tx = buildTrialResult({...args, chainId: this.chainId, nonce: await this.nonceOf(researcher)}, researcher)
    return this.call("trial_result", {tx: toHex(tx.serialize()), wait: args.wait ?? true})
  }

  async verifyTrial(args: {trialId: string; protocol?: string; results?: string; dataset?: string}): Promise<TrialVerifyResult> {
    return this.call("trial_verify", args)
  }
}

/** Parses hex the caller typed (CLI, config) into bytes of an expected length. */
export function hexBytes(hex: string, length?: number): Uint8Array | undefined {
  const bytes = fromHex(hex)
  return bytes !== undefined && (length === undefined || bytes.length === length) ? bytes : undefined
}
