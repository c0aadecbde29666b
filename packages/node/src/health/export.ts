/**
 * FHIR R4 views of on-chain consent and audit facts, so a patient portal or an auditor's tooling
 * can read them as standard `Consent` and `AuditEvent` resources. AuditEvents follow IHE Basic Audit
 * Log Patterns (BALP): user, client and server agents, the custodian as source site, the patient and
 * the record as entities with their types and roles. People and nodes are named by their enrolled
 * keys as `did:key` URIs (system `urn:ietf:rfc:3986`), patients as `Patient/<key>`, records as
 * `<type>/<record id>`: nothing here adds identifying data.
 */
import {AccessDecisionKind, Purpose, fromHex, getHospitalByKey, loadRecord, type AccessLogEntry, type ConsentRecord, type StateReader} from "@careledger/core"
import type {FhirResource} from "@careledger/core"
import type {InteractionEntry} from "./interactions.js"

/** FHIR's system for identifiers whose value is itself a URI. */
export const URI_SYSTEM = "urn:ietf:rfc:3986"

const ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
const DCM = "http://dicom.nema.org/resources/ontology/DCM"
const ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
const OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"

/** CareLedger purposes as HL7 v3 PurposeOfUse codes. */
const PURPOSE_CODES: Record<Purpose, {code: string; display: string}> = {
  [Purpose.Treatment]: {code: "TREAT", display: "treatment"},
  [Purpose.Research]: {code: "HRESCH", display: "healthcare research"},
  [Purpose.PublicHealth]: {code: "PUBHLTH", display: "public health"},
  [Purpose.Operations]: {code: "HOPERAT", display: "healthcare operations"},
  [Purpose.Payment]: {code: "HPAYMT", display: "healthcare payment"},
}

function purposeCoding(purpose: Purpose): {system: string; code: string; display: string} {
  return {system: ACT_REASON, ...PURPOSE_CODES[purpose]}
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

function base58btc(bytes: Uint8Array): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString("hex") || "0"}`)
  let out = ""
  while (n > 0n) {
    out = BASE58[Number(n % 58n)]! + out
    n /= 58n
  }
  for (const b of bytes) {
    if (b !== 0) break
    out = `1${out}`
  }
  return out
}

/** An Ed25519 public key (hex) as a `did:key` URI (multicodec 0xed01, base58btc). */
export function didKey(hexKey: string): string {
  const key = fromHex(hexKey) ?? new Uint8Array(32)
  return `did:key:z${base58btc(new Uint8Array([0xed, 0x01, ...key]))}`
}

function keyIdentifier(hexKey: string): {system: string; value: string} {
  return {system: URI_SYSTEM, value: didKey(hexKey)}
}

/** What the caller knows beyond the chain records: record types, hospitals of node keys. */
export interface ExportContext {
  /** Resource type of each record id (records are referenced as `<type>/<id>` when known). */
  recordTypes?: ReadonlyMap<string, string>
  /** Hospital id of a node key (hex). */
  hospitalOfNode?: ReadonlyMap<string, string>
  /** The hospital managing the patient's consents (where the patient is enrolled). */
  organization?: string
  /** Unix ms of finalized blocks by height (consents record the heights of grant and revocation). */
  blockTimes?: ReadonlyMap<number, number>
}

function recordReference(recordId: string, context: ExportContext): {reference: string} | {display: string} {
  const type = context.recordTypes?.get(recordId)
  return type === undefined ? {display: `record ${recordId}`} : {reference: `${type}/${recordId}`}
}

export function consentToFhir(consent: ConsentRecord, now: number, context: ExportContext = {}): FhirResource {
  const active = !consent.revoked && consent.expiresAt > now
  const actor =
    consent.grantee.kind === "person"
      ? {identifier: keyIdentifier(consent.grantee.key)}
      : {display: `hospital ${consent.grantee.hospital}`}
  const research = consent.purposes.includes(Purpose.Research)
  const grantedAt = context.blockTimes?.get(consent.grantedAt)
  const revokedAt = consent.revokedAt === null ? undefined : context.blockTimes?.get(consent.revokedAt)
  // A revocation ends the permitted period then; otherwise it ends at the expiry.
  const end = revokedAt === undefined ? consent.expiresAt : Math.min(revokedAt, consent.expiresAt)
  return {
    resourceType: "Consent",
    id: consent.id.slice(0, 64),
    status: active ? "active" : "inactive",
    scope: {
      coding: [{system: "http://terminology.hl7.org/CodeSystem/consentscope", code: research ? "research" : "patient-privacy"}],
    },
    category: [{coding: [{system: "http://loinc.org", code: "59284-0", display: "Patient Consent"}]}],
    patient: {reference: `Patient/${consent.patient}`},
    ...(grantedAt === undefined ? {} : {dateTime: new Date(grantedAt).toISOString()}),
    // The patient signed the grant with their own key.
    performer: [{reference: `Patient/${consent.patient}`}],
    ...(context.organization === undefined ? {} : {organization: [{display: `hospital ${context.organization}`}]}),
    policyRule: {coding: [{system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "OPTIN"}]},
    provision: {
      type: "permit",
      period: {...(grantedAt === undefined ? {} : {start: new Date(grantedAt).toISOString()}), end: new Date(end).toISOString()},
      actor: [{role: {coding: [{system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code: "IRCP"}]}, reference: actor}],
      action: [{coding: [{system: "http://terminology.hl7.org/CodeSystem/consentaction", code: "access"}]}],
      purpose: consent.purposes.map(purposeCoding),
      ...(consent.scope.kind === "resource-types"
        ? {class: consent.scope.resourceTypes.map((type) => ({system: "http://hl7.org/fhir/resource-types", code: type}))}
        : {data: consent.scope.recordIds.map((id) => ({meaning: "instance", reference: recordReference(id, context)}))}),
    },
  }
}

/** BALP's user agent: the requesting person (`PAT` on their own data, `IRCP` otherwise) with the purpose of use. */
function userAgent(key: string, selfAccess: boolean, purpose: {coding: {system: string; code: string; display: string}[]}[]): Record<string, unknown> {
  return {
    type: {
      coding: [
        selfAccess
          ? {system: "http://terminology.hl7.org/CodeSystem/v3-RoleClass", code: "PAT", display: "patient"}
          : {system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code: "IRCP", display: "information recipient"},
      ],
    },
    who: {identifier: keyIdentifier(key)},
    requestor: true,
    ...(purpose.length > 0 ? {purposeOfUse: purpose} : {}),
  }
}

export function accessEntryToFhir(entry: AccessLogEntry, context: ExportContext = {}): FhirResource {
  const released = entry.decision !== AccessDecisionKind.Deny
  const breakGlass = entry.decision === AccessDecisionKind.BreakGlass
  const custodian = context.hospitalOfNode?.get(entry.loggedBy)
  const selfAccess = entry.reader === entry.patient
  // An erasure is a delete of the record, not a read; it has no purpose of use.
  const erase = entry.decision === AccessDecisionKind.Erase
  const purpose = entry.purpose === null ? [] : [{coding: [purposeCoding(entry.purpose)]}]
  return {
    resourceType: "AuditEvent",
    id: entry.txHash.slice(0, 64),
    ...(breakGlass ? {meta: {security: [{system: ACT_REASON, code: "BTG", display: "break the glass"}]}} : {}),
    type: {system: "http://terminology.hl7.org/CodeSystem/audit-event-type", code: "rest", display: "RESTful Operation"},
    subtype: [{system: "http://hl7.org/fhir/restful-interaction", code: erase ? "delete" : "read", display: erase ? "delete" : "read"}],
    action: erase ? "D" : "R",
    recorded: new Date(entry.at).toISOString(),
    // 0 = success, 4 = minor failure (the request was refused by policy, not by an error).
    outcome: released ? "0" : "4",
    outcomeDesc: `${entry.decision}: ${entry.reason}${entry.note === null ? "" : ` (${entry.note})`}`,
    ...(breakGlass ? {purposeOfEvent: [{coding: [{system: ACT_REASON, code: "ETREAT", display: "Emergency Treatment"}]}]} : purpose.length > 0 ? {purposeOfEvent: purpose} : {}),
    agent: [
      // The user: the person whose key signed the request.
      userAgent(entry.reader, selfAccess, purpose),
      {
        // The client: the hospital node that carried the request.
        type: {coding: [{system: DCM, code: "110153", display: "Source Role ID"}]},
        who: {display: `hospital ${entry.via}`},
        requestor: false,
      },
      {
        // The server: the custodian node that decided and logged.
        type: {coding: [{system: DCM, code: "110152", display: "Destination Role ID"}]},
        who: {identifier: keyIdentifier(entry.loggedBy), ...(custodian === undefined ? {} : {display: `hospital ${custodian}`})},
        requestor: false,
      },
    ],
    source: {
      ...(custodian === undefined ? {} : {site: custodian}),
      observer: {identifier: keyIdentifier(entry.loggedBy)},
      type: [{system: "http://terminology.hl7.org/CodeSystem/security-source-type", code: "4", display: "Application Server"}],
    },
    entity: [
      {
        what: {reference: `Patient/${entry.patient}`},
        type: {system: ENTITY_TYPE, code: "1", display: "Person"},
        role: {system: OBJECT_ROLE, code: "1", display: "Patient"},
      },
      {
        what: recordReference(entry.recordId, context),
        type: {system: ENTITY_TYPE, code: "2", display: "System Object"},
        role: {system: OBJECT_ROLE, code: "4", display: "Domain Resource"},
      },
      ...(entry.consentId === null
        ? []
        : [
            {
              what: {reference: `Consent/${entry.consentId.slice(0, 64)}`},
              type: {system: ENTITY_TYPE, code: "2", display: "System Object"},
              role: {system: OBJECT_ROLE, code: "13", display: "Security Resource"},
            },
          ]),
    ],
  }
}

/** A collection Bundle of the patient's consents and audit events. */
export function exportBundle(consents: ConsentRecord[], entries: AccessLogEntry[], now: number, context: ExportContext = {}): FhirResource {
  return {
    resourceType: "Bundle",
    type: "collection",
    timestamp: new Date(now).toISOString(),
    entry: [...consents.map((c) => ({resource: consentToFhir(c, now, context)})), ...entries.map((e) => ({resource: accessEntryToFhir(e, context)}))],
  }
}

/** Resolves what the exports reference (record types, custodian hospitals) from finalized state, once per id. */
export async function exportContext(
  state: StateReader,
  consents: readonly ConsentRecord[],
  entries: readonly AccessLogEntry[],
  organization?: string,
  blockTime?: (height: number) => Promise<number | undefined>,
): Promise<ExportContext> {
  const recordTypes = new Map<string, string>()
  const hospitalOfNode = new Map<string, string>()
  const recordIds = new Set([...entries.map((e) => e.recordId), ...consents.flatMap((c) => (c.scope.kind === "records" ? c.scope.recordIds : []))])
  for (const id of recordIds) {
    const type = (await loadRecord(state, id))?.resourceType
    if (type !== undefined) recordTypes.set(id, type)
  }
  for (const key of new Set(entries.map((e) => e.loggedBy))) {
    const hospital = (await getHospitalByKey(state, key))?.id
    if (hospital !== undefined) hospitalOfNode.set(key, hospital)
  }
  const blockTimes = new Map<number, number>()
  if (blockTime !== undefined) {
    for (const height of new Set(consents.flatMap((c) => (c.revokedAt === null ? [c.grantedAt] : [c.grantedAt, c.revokedAt])))) {
      const time = await blockTime(height)
      if (time !== undefined) blockTimes.set(height, time)
    }
  }
  return {recordTypes, hospitalOfNode, blockTimes, ...(organization === undefined ? {} : {organization})}
}

/** A chain fact about a patient's data that is not an access decision: a record version anchored, a consent granted or revoked. */
export type ChainEvent =
  | {kind: "anchor"; recordId: string; resourceType: string; version: number; patient: string; author: string; custodian: string; txHash: string; at: number}
  | {kind: "consent"; consentId: string; patient: string; revoked: boolean; at: number}

/** BALP-shaped AuditEvent of a chain event (create/update of a record, consent grant or revocation). */
export function chainEventToFhir(event: ChainEvent): FhirResource {
  const patientEntity = {
    what: {reference: `Patient/${event.patient}`},
    type: {system: ENTITY_TYPE, code: "1", display: "Person"},
    role: {system: OBJECT_ROLE, code: "1", display: "Patient"},
  }
  const dataEntity = (reference: string) => ({
    what: {reference},
    type: {system: ENTITY_TYPE, code: "2", display: "System Object"},
    role: {system: OBJECT_ROLE, code: "4", display: "Domain Resource"},
  })
  const interaction = (code: string) => [{system: "http://hl7.org/fhir/restful-interaction", code, display: code}]
  const common = {
    resourceType: "AuditEvent",
    type: {system: "http://terminology.hl7.org/CodeSystem/audit-event-type", code: "rest", display: "RESTful Operation"},
    recorded: new Date(event.at).toISOString(),
    outcome: "0",
  }
  const source = (custodian: string) => ({
    site: custodian,
    observer: {display: `hospital ${custodian}`},
    type: [{system: "http://terminology.hl7.org/CodeSystem/security-source-type", code: "4", display: "Application Server"}],
  })
  if (event.kind === "anchor") {
    return {
      ...common,
      id: event.txHash.slice(0, 64),
      subtype: interaction(event.version === 1 ? "create" : "update"),
      action: event.version === 1 ? "C" : "U",
      agent: [
        {
          type: {coding: [{system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code: "AUT", display: "author"}]},
          who: {identifier: keyIdentifier(event.author)},
          requestor: true,
        },
        {type: {coding: [{system: DCM, code: "110152", display: "Destination Role ID"}]}, who: {display: `hospital ${event.custodian}`}, requestor: false},
      ],
      source: source(event.custodian),
      entity: [patientEntity, dataEntity(`${event.resourceType}/${event.recordId}/_history/${event.version}`)],
    }
  }
  return {
    ...common,
    id: `${event.revoked ? "revoke" : "grant"}-${event.consentId}`.slice(0, 64),
    subtype: interaction(event.revoked ? "update" : "create"),
    action: event.revoked ? "U" : "C",
    agent: [
      {
        type: {coding: [{system: "http://terminology.hl7.org/CodeSystem/v3-RoleClass", code: "PAT", display: "patient"}]},
        who: {reference: `Patient/${event.patient}`},
        requestor: true,
      },
    ],
    source: {observer: {display: "CareLedger chain"}, type: [{system: "http://terminology.hl7.org/CodeSystem/security-source-type", code: "4", display: "Application Server"}]},
    entity: [
      patientEntity,
      {
        what: {reference: `Consent/${event.consentId.slice(0, 64)}`},
        type: {system: ENTITY_TYPE, code: "2", display: "System Object"},
        role: {system: OBJECT_ROLE, code: "13", display: "Security Resource"},
      },
    ],
  }
}

/**
 * BALP-shaped AuditEvent of a journalled FHIR interaction: a search (`rest` / `search-type`, action
 * E, the query as a Query entity), an export (DICOM `110106` Export / `operation`, the patient's
 * data leaving) or a request refused before consent was asked (outcome 4, the interaction it was).
 */
export function interactionToFhir(entry: InteractionEntry): FhirResource {
  const refused = entry.kind === "refused"
  const purpose = [{coding: [entry.breakGlass ? {system: ACT_REASON, code: "ETREAT", display: "Emergency Treatment"} : purposeCoding(entry.purpose)]}]
  const selfAccess = entry.patient !== null && entry.client === entry.patient
  const type =
    entry.kind === "export"
      ? {system: DCM, code: "110106", display: "Export"}
      : {system: "http://terminology.hl7.org/CodeSystem/audit-event-type", code: "rest", display: "RESTful Operation"}
  const display = entry.interaction === "operation" ? "operation ($everything)" : entry.interaction
  return {
    resourceType: "AuditEvent",
    id: entry.id,
    ...(entry.breakGlass ? {meta: {security: [{system: ACT_REASON, code: "BTG", display: "break the glass"}]}} : {}),
    type,
    subtype: [{system: "http://hl7.org/fhir/restful-interaction", code: entry.interaction, display}],
    action: entry.interaction === "search-type" ? "E" : "R",
    recorded: new Date(entry.at).toISOString(),
    // 0 = success, 4 = minor failure (refused by policy).
    outcome: refused ? "4" : "0",
    ...(refused ? {outcomeDesc: `refused: ${entry.reason ?? ""}`} : {}),
    purposeOfEvent: purpose,
    agent: [
      userAgent(entry.client, selfAccess, purpose),
      {
        // The client: the SMART client authenticated with the user's enrolled key.
        type: {coding: [{system: DCM, code: "110153", display: "Source Role ID"}]},
        who: {identifier: keyIdentifier(entry.client), display: `SMART client (${entry.role})`},
        requestor: false,
      },
      {
        // The server: this hospital's FHIR endpoint, which answered and journalled.
        type: {coding: [{system: DCM, code: "110152", display: "Destination Role ID"}]},
        who: {display: `hospital ${entry.hospital}`},
        requestor: false,
      },
    ],
    source: {
      site: entry.hospital,
      observer: {display: `hospital ${entry.hospital}`},
      type: [{system: "http://terminology.hl7.org/CodeSystem/security-source-type", code: "4", display: "Application Server"}],
    },
    entity: [
      ...(entry.patient === null
        ? []
        : [{what: {reference: `Patient/${entry.patient}`}, type: {system: ENTITY_TYPE, code: "1", display: "Person"}, role: {system: OBJECT_ROLE, code: "1", display: "Patient"}}]),
      ...(entry.recordId === null
        ? []
        : [{what: {reference: `${entry.resourceType}/${entry.recordId}`}, type: {system: ENTITY_TYPE, code: "2", display: "System Object"}, role: {system: OBJECT_ROLE, code: "4", display: "Domain Resource"}}]),
      ...(entry.interaction === "search-type"
        ? [
            {
              type: {system: ENTITY_TYPE, code: "2", display: "System Object"},
              role: {system: OBJECT_ROLE, code: "24", display: "Query"},
              description: entry.query,
              query: Buffer.from(entry.query, "utf8").toString("base64"),
            },
          ]
        : []),
    ],
  }
}
