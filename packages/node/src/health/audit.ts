/** The patient's trail as RPC pages, and the whole of it for an export. */
import {MAX_LIST_LIMIT, listAccessLog, type AccessLogEntry, type AuditEntryJson, type AuditPage, type StateReader} from "@careledger/core"
import {HealthError, HealthErrorCode} from "./errors.js"

export function auditJson(e: AccessLogEntry): AuditEntryJson {
  return {
    recordId: e.recordId,
    reader: e.reader,
    purpose: e.purpose,
    decision: e.decision,
    reason: e.reason,
    consentId: e.consentId,
    at: e.at,
    via: e.via,
    loggedBy: e.loggedBy,
    txHash: e.txHash,
    height: e.height,
    note: e.note,
  }
}

/** One page of a patient's or a record's trail; a bad cursor is a BAD_PARAMS error. */
export async function auditPage(state: StateReader, filter: {patient: string} | {recordId: string}, page: {cursor?: string; limit?: number}): Promise<AuditPage> {
  try {
    const result = await listAccessLog(state, filter, {limit: MAX_LIST_LIMIT, ...page})
    return {entries: result.entries.map(auditJson), next: result.next}
  } catch (err) {
    if (err instanceof TypeError) throw new HealthError(HealthErrorCode.BAD_PARAMS, err.message)
    throw err
  }
}

/** Every entry of a patient's trail, page by page (pages never repeat, so this ends with the trail). */
export async function wholeTrail(state: StateReader, patient: string): Promise<AccessLogEntry[]> {
  const entries: AccessLogEntry[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await listAccessLog(state, {patient}, {limit: MAX_LIST_LIMIT, ...(cursor === undefined ? {} : {cursor})})
    entries.push(...page.entries)
    if (page.next === null) return entries
    cursor = page.next
  }
}
