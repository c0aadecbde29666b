/**
 * SMART Backend Services client authentication with a CareLedger key: a `private_key_jwt` client
 * assertion signed with the Ed25519 key enrolled on chain (JWS alg EdDSA, RFC 8037). The client id
 * is the key's hex account id. The assertion also carries the purpose of use, so the custodian of a
 * record read across hospitals sees the reader's own signed statement of why.
 */
import {randomBytes} from "node:crypto"
import {toHex, type PrivateKey} from "@careledger/core"
import type {FhirResource} from "./api.js"
import {buildRecordAnchor} from "./health.js"

export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
/** Longest assertion lifetime a node accepts (SMART: no more than five minutes). */
export const MAX_ASSERTION_LIFETIME_S = 300

/** HL7 v3 PurposeOfUse codes a token may carry; ETREAT asks for break-glass access. */
export type PurposeOfUseCode = "TREAT" | "ETREAT" | "HRESCH" | "PUBHLTH" | "HOPERAT" | "HPAYMT"

export interface ClientAssertionClaims {
  iss: string
  sub: string
  aud: string
  exp: number
  iat: number
  jti: string
  purpose_of_use: PurposeOfUseCode
}

export function base64url(bytes: Uint8Array | string): string {
  return Buffer.from(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes).toString("base64url")
}

/** A signed client assertion for `tokenUrl` (the node's token endpoint). */
export function buildClientAssertion(
  key: PrivateKey,
  options: {tokenUrl: string; purposeOfUse: PurposeOfUseCode; lifetimeSeconds?: number; now?: number},
): string {
  const iat = Math.floor((options.now ?? Date.now()) / 1000)
  const claims: ClientAssertionClaims = {
    iss: key.id,
    sub: key.id,
    aud: options.tokenUrl,
    iat,
    exp: iat + Math.min(options.lifetimeSeconds ?? MAX_ASSERTION_LIFETIME_S, MAX_ASSERTION_LIFETIME_S),
    jti: toHex(randomBytes(16)),
    purpose_of_use: options.purposeOfUse,
  }
  const signingInput = `${base64url(JSON.stringify({alg: "EdDSA", typ: "JWT", kid: key.id}))}.${base64url(JSON.stringify(claims))}`
  return `${signingInput}.${base64url(key.sign(Buffer.from(signingInput, "ascii")))}`
}

/** The form body of a token request (application/x-www-form-urlencoded). */
export function tokenRequestBody(assertion: string, scope: string): string {
  return new URLSearchParams({
    grant_type: "client_credentials",
    scope,
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
  }).toString()
}

/**
 * The headers of a FHIR create/update: the provider-signed `record.anchor` over a fresh salted hash
 * of exactly this resource, and the salt (hex). The body is the resource as given.
 */
export function fhirWriteHeaders(
  args: {chainId: string; nonce: number; patient: Uint8Array; custodian: string; resource: FhirResource & {id: string}; version?: number; previous?: Uint8Array | null},
  provider: PrivateKey,
): {"X-CareLedger-Anchor": string; "X-CareLedger-Salt": string} {
  const {tx, salt} = buildRecordAnchor({...args, recordId: args.resource.id}, provider)
  return {"X-CareLedger-Anchor": toHex(tx.serialize()), "X-CareLedger-Salt": toHex(salt)}
}
