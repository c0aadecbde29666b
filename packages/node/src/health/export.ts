/**
 * FHIR R4 views of on-chain consent and audit facts, so a patient portal or an auditor's tooling
 * can read them as standard `Consent` and `AuditEvent` resources. People are referenced by their
 * pseudonymous account id only; nothing here adds identifying data.
 */
import {AccessDecisionKind, Purpose} from "@careledger/core"
import type {FhirResource} from "@careledger/client"
import type {LedgerAccessEntry, LedgerConsent} from "./ledger.js"

export const ACCOUNT_SYSTEM = "urn:careledger:account"
export const HOSPITAL_SYSTEM = "urn:careledger:hospital"
export const RECORD_SYSTEM = "urn:careledger:record"
export const CONSENT_SYSTEM = "urn:careledger:consent"
export const TX_SYSTEM = "urn:careledger:tx"

const ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

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

export function consentToFhir(consent: LedgerConsent, now: number): FhirResource {
  const active = !consent.revoked && consent.expiresAt > now
  const actor =
    consent.grantee.kind === "person"
      ? {identifier: {system: ACCOUNT_SYSTEM, value: consent.grantee.key}}
      : {identifier: {system: HOSPITAL_SYSTEM, value: consent.grantee.hospital}}
  const research = consent.purposes.includes(Purpose.Research)
  return {
    resourceType: "Consent",
    id: consent.id.slice(0, 64),
    identifier: [{system: CONSENT_SYSTEM, value: consent.id}],
    status: active ? "active" : "inactive",
    scope: {
      coding: [{system: "http://terminology.hl7.org/CodeSystem/consentscope", code: research ? "research" : "patient-privacy"}],
    },
    category: [{coding: [{system: "http://loinc.org", code: "59284-0", display: "Patient Consent"}]}],
    patient: {identifier: {system: ACCOUNT_SYSTEM, value: consent.patient}},
    policyRule: {coding: [{system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "OPTIN"}]},
    provision: {
      type: "permit",
      period: {end: new Date(consent.expiresAt).toISOString()},
      actor: [{role: {coding: [{system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code: "IRCP"}]}, reference: actor}],
      purpose: consent.purposes.map(purposeCoding),
      ...(consent.scope.kind === "resource-types"
        ? {class: consent.scope.resourceTypes.map((type) => ({system: "http://hl7.org/fhir/resource-types", code: type}))}
        : {data: consent.scope.recordIds.map((id) => ({meaning: "instance", reference: {identifier: {system: RECORD_SYSTEM, value: id}}}))}),
    },
  }
}

export function accessEntryToFhir(entry: LedgerAccessEntry): FhirResource {
  const released = entry.decision !== AccessDecisionKind.Deny
  const breakGlass = entry.decision === AccessDecisionKind.BreakGlass
  return {
    resourceType: "AuditEvent",
    id: entry.txHash.slice(0, 64),
    ...(breakGlass ? {meta: {security: [{system: ACT_REASON, code: "BTG", display: "break the glass"}]}} : {}),
    type: {system: "http://terminology.hl7.org/CodeSystem/audit-event-type", code: "rest", display: "RESTful Operation"},
    subtype: [{system: "http://hl7.org/fhir/restful-interaction", code: "read", display: "read"}],
    action: "R",
    recorded: new Date(entry.at).toISOString(),
    // 0 = success, 4 = minor failure (the request was refused by policy, not by an error).
    outcome: released ? "0" : "4",
    outcomeDesc: `${entry.decision}: ${entry.reason}`,
    purposeOfEvent: [{coding: [breakGlass ? {system: ACT_REASON, code: "ETREAT", display: "Emergency Treatment"} : purposeCoding(entry.purpose)]}],
    agent: [
      {
        who: {identifier: {system: ACCOUNT_SYSTEM, value: entry.reader}},
        requestor: true,
        purposeOfUse: [{coding: [purposeCoding(entry.purpose)]}],
      },
      {
        who: {identifier: {system: HOSPITAL_SYSTEM, value: entry.via}},
        requestor: false,
      },
    ],
    source: {site: entry.via, observer: {identifier: {system: ACCOUNT_SYSTEM, value: entry.loggedBy}}},
    entity: [
      {what: {identifier: {system: RECORD_SYSTEM, value: entry.recordId}}},
      ...(entry.consentId === null ? [] : [{what: {identifier: {system: CONSENT_SYSTEM, value: entry.consentId}}}]),
      {what: {identifier: {system: TX_SYSTEM, value: entry.txHash}}},
    ],
  }
}

/** A collection Bundle of the patient's consents and audit events. */
export function exportBundle(consents: LedgerConsent[], entries: LedgerAccessEntry[], now: number): FhirResource {
  return {
    resourceType: "Bundle",
    type: "collection",
    timestamp: new Date(now).toISOString(),
    entry: [...consents.map((c) => ({resource: consentToFhir(c, now)})), ...entries.map((e) => ({resource: accessEntryToFhir(e)}))],
  }
}
