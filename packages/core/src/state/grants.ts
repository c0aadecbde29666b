/**
 * The rules that keep consent and the audit trail honest: who a consent may name, and an
 * `access.log` re-derived from state before the chain accepts it as evidence.
 */
import {TxError, TxErrorCode} from "../tx/errors.js"
import type {Purpose, PayloadByType, TxType} from "../tx/types.js"
import {Role} from "../tx/types.js"
import type {StateReader} from "./types.js"
import type {IdentityRecord} from "./records.js"
import {checkAccess, mayClaimPurpose} from "./access.js"

/** The block an access.log is judged in. */
interface BlockContext {
  height: number
  timestamp: number
}

function fail(code: TxErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new TxError(code, message, details)
}

/** How old the state an `access.log` was decided from may be when its block executes (a crashed custodian resubmits within it). */
export const ACCESS_LOG_MAX_AGE_MS = 60 * 60_000

/**
 * A consent names a person only if they can act on it: a provider, lab or researcher, or a proxy
 * linked to this patient; never another patient. Every purpose granted must be one the grantee's
 * role may claim (a researcher is never granted treatment).
 */
export function checkPersonGrantee(identity: IdentityRecord | undefined, key: string, patient: string, purposes: readonly Purpose[]): void {
  if (identity === undefined) fail(TxErrorCode.NOT_FOUND, `grantee ${key} is not enrolled`)
  if (identity.revoked) fail(TxErrorCode.CONFLICT, `grantee ${key} is revoked`)
  if (identity.role === Role.Patient) fail(TxErrorCode.UNAUTHORIZED, "a consent cannot name a patient; name a proxy the patient's hospital enrolled for them")
  if (identity.role === Role.Proxy && identity.patient !== patient) fail(TxErrorCode.UNAUTHORIZED, `grantee ${key} is a proxy of another patient`)
  const refused = purposes.filter((purpose) => !mayClaimPurpose(identity.role, purpose))
  if (refused.length > 0) {
    fail(TxErrorCode.BAD_PAYLOAD, `purposes: a ${identity.role} may not claim ${refused.join(", ")}`, {field: "purposes"})
  }
}

/**
 * An `access.log` is evidence, so it must say what the state says: the decision, reason and consent
 * are re-derived by the pure access function as of the height the custodian decided at, and that
 * height and its time must lie before this block and within ACCESS_LOG_MAX_AGE_MS of it.
 */
export async function checkLoggedDecision(reader: StateReader, payload: PayloadByType[TxType.AccessLog], ctx: BlockContext): Promise<void> {
  if (payload.height >= ctx.height) fail(TxErrorCode.CONFLICT, `an access.log decided at height ${payload.height} cannot be in block ${ctx.height}`)
  if (payload.at > ctx.timestamp || ctx.timestamp - payload.at > ACCESS_LOG_MAX_AGE_MS) {
    fail(TxErrorCode.CONFLICT, `access.log time ${payload.at} is not within ${ACCESS_LOG_MAX_AGE_MS} ms before the block time ${ctx.timestamp}`, {field: "at"})
  }
  const expected = await checkAccess(reader, {
    recordId: payload.recordId,
    reader: payload.reader,
    purpose: payload.purpose,
    height: payload.height,
    at: payload.at,
    breakGlass: payload.breakGlassReason !== null,
  })
  if (expected.kind !== payload.decision || expected.reason !== payload.reason || expected.consentId !== payload.consentId) {
    fail(
      TxErrorCode.CONFLICT,
      `access.log says ${payload.decision}/${payload.reason}/${payload.consentId ?? "-"}; the state says ${expected.kind}/${expected.reason}/${expected.consentId ?? "-"}`,
      {expected: {decision: expected.kind, reason: expected.reason, consentId: expected.consentId}},
    )
  }
}

