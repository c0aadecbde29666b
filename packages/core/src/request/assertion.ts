/**
 * The SMART Backend Services client assertion of a CareLedger key: a `private_key_jwt` (JWS alg
 * EdDSA, RFC 8037) signed with the Ed25519 key enrolled on chain, whose client id is the key's hex
 * account id and which carries the purpose of use, so the custodian of a record read across
 * hospitals sees the reader's own signed statement of why. The client that signs it and the node
 * that checks it share this one definition.
 */
import {randomBytes} from "node:crypto"
import type {PrivateKey} from "../crypto/keys.js"
import {toHex} from "../encoding/bytes.js"

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
