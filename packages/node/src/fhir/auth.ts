/**
 * SMART Backend Services authorisation: the token endpoint checks a `private_key_jwt` client
 * assertion signed (EdDSA) with the caller's key enrolled on chain, grants the scopes its role
 * allows, and issues a short-lived opaque bearer token that carries the purpose of use and the
 * assertion itself (forwarded to a custodian for a cross-hospital read).
 */
import {randomBytes} from "node:crypto"
import {
  CLIENT_ASSERTION_TYPE,
  MAX_ASSERTION_LIFETIME_S,
  Purpose,
  Role,
  fromHex,
  verifySignature,
  type ClientAssertionClaims,
  type PurposeOfUseCode,
} from "@careledger/core"
import {FhirApiError, FhirApiErrorCode} from "./errors.js"

export const PURPOSE_OF_USE: Record<PurposeOfUseCode, {purpose: Purpose; breakGlass: boolean}> = {
  TREAT: {purpose: Purpose.Treatment, breakGlass: false},
  ETREAT: {purpose: Purpose.Treatment, breakGlass: true},
  HRESCH: {purpose: Purpose.Research, breakGlass: false},
  PUBHLTH: {purpose: Purpose.PublicHealth, breakGlass: false},
  HOPERAT: {purpose: Purpose.Operations, breakGlass: false},
  HPAYMT: {purpose: Purpose.Payment, breakGlass: false},
}

const MAX_ASSERTION_CHARS = 4096
/** Clock skew allowed on `iat` (seconds). */
const SKEW_S = 60

export interface VerifiedAssertion {
  /** Hex public key of the client (iss = sub). */
  client: string
  claims: ClientAssertionClaims
  purpose: Purpose
  breakGlass: boolean
  /** The compact JWS as presented. */
  jwt: string
}

function invalidClient(message: string): FhirApiError {
  return new FhirApiError(FhirApiErrorCode.UNAUTHENTICATED, message, 401, "security", {oauthError: "invalid_client"})
}

/**
 * Checks a client assertion's form, signature (EdDSA by the key named in iss), lifetime and claims.
 * `audience` is the token URL it must name, or undefined to accept any (the custodian of a forwarded read).
 */
export function verifyClientAssertion(jwt: string, options: {audience: string | undefined; nowMs: number}): VerifiedAssertion {
  if (typeof jwt !== "string" || jwt.length > MAX_ASSERTION_CHARS) throw invalidClient("client_assertion is missing or too long")
  const parts = jwt.split(".")
  if (parts.length !== 3) throw invalidClient("client_assertion is not a compact JWS")
  let header: {alg?: unknown; typ?: unknown}
  let claims: Partial<ClientAssertionClaims>
  try {
    header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8")) as typeof header
    claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as typeof claims
  } catch {
    throw invalidClient("client_assertion header or claims are not base64url JSON")
  }
  if (header.alg !== "EdDSA") throw invalidClient(`client_assertion alg must be EdDSA (the enrolled Ed25519 key), not ${JSON.stringify(header.alg)}`)
  const key = typeof claims.iss === "string" && /^[0-9a-f]{64}$/.test(claims.iss) ? fromHex(claims.iss) : undefined
  if (key === undefined) throw invalidClient("iss must be the client's enrolled key (64 lowercase hex characters)")
  if (claims.sub !== claims.iss) throw invalidClient("sub must equal iss")
  const signature = Buffer.from(parts[2]!, "base64url")
  if (!verifySignature(key, Buffer.from(`${parts[0]}.${parts[1]}`, "ascii"), signature)) throw invalidClient("client_assertion signature does not verify for iss")
  const now = Math.floor(options.nowMs / 1000)
  if (!Number.isSafeInteger(claims.exp) || !Number.isSafeInteger(claims.iat)) throw invalidClient("exp and iat must be integers")
  if ((claims.exp as number) <= now) throw invalidClient("client_assertion has expired")
  if ((claims.iat as number) > now + SKEW_S) throw invalidClient("client_assertion is issued in the future")
  if ((claims.exp as number) - (claims.iat as number) > MAX_ASSERTION_LIFETIME_S) throw invalidClient(`client_assertion may live at most ${MAX_ASSERTION_LIFETIME_S} s`)
  if (typeof claims.jti !== "string" || claims.jti.length < 16 || claims.jti.length > 128) throw invalidClient("jti must be 16..128 characters")
  if (options.audience !== undefined && claims.aud !== options.audience) throw invalidClient(`aud must be this token endpoint (${options.audience})`)
  if (typeof claims.aud !== "string") throw invalidClient("aud must be a string")
  const pou = claims.purpose_of_use
  if (typeof pou !== "string" || !(pou in PURPOSE_OF_USE)) {
    throw invalidClient(`purpose_of_use must be one of ${Object.keys(PURPOSE_OF_USE).join(", ")}`)
  }
  const {purpose, breakGlass} = PURPOSE_OF_USE[pou as PurposeOfUseCode]
  return {client: claims.iss as string, claims: claims as ClientAssertionClaims, purpose, breakGlass, jwt}
}

export type Access = "read" | "write"

export interface Scope {
  context: "system" | "user" | "patient"
  /** A resource type or "*". */
  type: string
  read: boolean
  write: boolean
}

/** SMART v1 (`.read`, `.write`, `.*`) and v2 (`.cruds` letters) scopes. */
export function parseScope(text: string): Scope | undefined {
  const m = /^(system|user|patient)\/([A-Za-z]+|\*)\.(read|write|\*|[cruds]+)$/.exec(text)
  if (m === null) return undefined
  const perm = m[3]!
  const v2 = /^[cruds]+$/.test(perm) && perm !== "s" ? perm : perm === "s" ? "s" : undefined
  return {
    context: m[1] as Scope["context"],
    type: m[2]!,
    read: perm === "read" || perm === "*" || (v2 !== undefined && /[rs]/.test(v2)),
    write: perm === "write" || perm === "*" || (v2 !== undefined && /[cud]/.test(v2)),
  }
}

/**
 * The role of a key the node's operator named as an auditor (`--fhir-auditors`). Core enrols no
 * auditor role, so auditors are this node's decision, as the RPC's admin tokens are.
 */
export const AUDITOR = "auditor"

export interface AccessToken {
  client: string
  role: Role | typeof AUDITOR
  hospital: string
  scopes: Scope[]
  scopeText: string
  purpose: Purpose
  breakGlass: boolean
  /** The client's assertion, forwarded to a custodian so the reader's own signature reaches it. */
  assertion: string
  expiresAt: number
}

export function allows(token: AccessToken, type: string, access: Access): boolean {
  return token.scopes.some((s) => (s.type === "*" || s.type === type) && (access === "read" ? s.read : s.write))
}

/** Which scopes a role may hold: patients only patient/ scopes, researchers only reads. */
export function grantable(role: Role, scope: Scope): Scope | undefined {
  if (role === Role.Patient) return scope.context === "patient" ? {...scope, write: false} : undefined
  if (scope.context === "patient") return undefined
  if (role === Role.Researcher) return scope.read ? {...scope, write: false} : undefined
  return scope
}

/** The resource types an auditor reads: consents and the audit trail, never records. */
export const AUDITOR_TYPES: readonly string[] = ["Consent", "AuditEvent"]

/** What an auditor may hold of a requested scope: system/ reads of AUDITOR_TYPES only. */
export function grantableToAuditor(scope: Scope): Scope[] {
  if (scope.context !== "system" || !scope.read) return []
  return AUDITOR_TYPES.filter((type) => scope.type === "*" || scope.type === type).map((type) => ({context: "system", type, read: true, write: false}))
}

function formatScope(s: Scope): string {
  return `${s.context}/${s.type}.${s.read && s.write ? "*" : s.read ? "read" : "write"}`
}

/** Issued tokens, bounded; expired ones are dropped as new ones come in. */
export class TokenStore {
  private readonly tokens = new Map<string, AccessToken>()

  constructor(private readonly options: {maxTokens: number; lifetimeSeconds: number}) {}

  issue(grant: Omit<AccessToken, "expiresAt" | "scopeText">, nowMs: number): {token: string; value: AccessToken} {
    for (const [t, v] of this.tokens) {
      if (v.expiresAt > nowMs) break
      this.tokens.delete(t)
    }
    while (this.tokens.size >= this.options.maxTokens) this.tokens.delete(this.tokens.keys().next().value as string)
    const token = randomBytes(32).toString("base64url")
    const value: AccessToken = {...grant, scopeText: grant.scopes.map(formatScope).join(" "), expiresAt: nowMs + this.options.lifetimeSeconds * 1000}
    this.tokens.set(token, value)
    return {token, value}
  }

  lookup(token: string, nowMs: number): AccessToken | undefined {
    const value = this.tokens.get(token)
    if (value === undefined) return undefined
    if (value.expiresAt <= nowMs) {
      this.tokens.delete(token)
      return undefined
    }
    return value
  }

  get size(): number {
    return this.tokens.size
  }
}

export {CLIENT_ASSERTION_TYPE}

/**
 * What a custodian's health service uses to check a SMART assertion another hospital's FHIR
 * endpoint forwarded: signature by the reader's key, still within its (at most 5 minute) lifetime.
 * The token endpoint that accepted it checked its audience and single use.
 */
export function forwardedAssertionVerifier(now: () => number = Date.now): (jwt: string) => {reader: Uint8Array; purpose: Purpose; breakGlass: boolean} {
  return (jwt) => {
    const a = verifyClientAssertion(jwt, {audience: undefined, nowMs: now()})
    return {reader: fromHex(a.client)!, purpose: a.purpose, breakGlass: a.breakGlass}
  }
}
