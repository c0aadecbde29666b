/**
 * Health-data helpers for EHR integrators, patient apps and research tools: canonical FHIR bytes and
 * salted content hashes, signed read and audit requests, and builders for every health transaction.
 * The node verifies exactly what these functions sign, so both sides share this one definition.
 * HealthClient (healthClient.ts) runs the flows over a node's JSON-RPC with them.
 */
import {randomBytes} from "node:crypto"
import {
  PrivateKey,
  Transaction,
  TxType,
  Purpose,
  canonicalJson,
  canonicalResourceBytes,
  contentHash,
  documentHash,
  fromHex,
  type ConsentGrantee,
  type ConsentScope,
} from "@careledger/core"
import type {FhirResource} from "./api.js"

export const SALT_LENGTH = 32

/** Canonical FHIR bytes and content hashes: one rule in core, shared with every node that checks them. */
export {canonicalJson, canonicalResourceBytes, contentHash, documentHash}

export function randomSalt(): Uint8Array {
  return new Uint8Array(randomBytes(SALT_LENGTH))
}

// ---------------------------------------------------------------------------------------------
// Signed read and audit requests: one definition in core, shared with every node that checks them.

export {
  REQUEST_NONCE_LENGTH,
  READ_REQUEST_DOMAIN,
  AUDIT_REQUEST_DOMAIN,
  readRequestSigningBytes,
  signReadRequest,
  readRequestToJson,
  encodeReadRequest,
  auditRequestSigningBytes,
  signAuditRequest,
  auditRequestToJson,
  type ReadRequestFields,
  type ReadRequest,
  type ReadRequestJson,
  type AuditRequestFields,
  type AuditRequest,
  type AuditRequestJson,
} from "@careledger/core"

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

/** Parses hex the caller typed (CLI, config) into bytes of an expected length. */
export function hexBytes(hex: string, length?: number): Uint8Array | undefined {
  const bytes = fromHex(hex)
  return bytes !== undefined && (length === undefined || bytes.length === length) ? bytes : undefined
}
