/**
 * SMART Backend Services client authentication with a CareLedger key. The client assertion (its
 * claims, constants and signing) is defined once in core (`request/assertion.ts`), where the node
 * checks it too; here are the token request and the headers of a FHIR write.
 */
import {CLIENT_ASSERTION_TYPE, toHex, type PrivateKey} from "@careledger/core"
import type {FhirResource} from "./api.js"
import {buildRecordAnchor} from "./health.js"

export {
  CLIENT_ASSERTION_TYPE,
  MAX_ASSERTION_LIFETIME_S,
  base64url,
  buildClientAssertion,
  type ClientAssertionClaims,
  type PurposeOfUseCode,
} from "@careledger/core"

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
