/**
 * The node's journal of FHIR interactions that the chain's `access.log` cannot carry: searches,
 * exports (`$everything`) and requests refused before any consent decision (token scope, another
 * patient's data, a role that may not see audit data). An `access.log` names one record and the
 * chain re-derives its consent decision, so it has no place for a query or a scope refusal; these
 * entries live here instead, next to the access-log journal in the vault's LevelDB.
 *
 * Each entry is synced to disk before the answer leaves (so it survives a SIGKILL right after), is
 * numbered, names the finalized height it was decided at, and carries the hash of the entry before
 * it: an entry removed or altered later breaks the chain of hashes, which `verify` (run at start)
 * reports.
 */
import {createHash} from "node:crypto"
import {canonicalJson, type Logger, type Purpose} from "@careledger/core"
import type {Vault} from "./vault.js"
import type {FinalizedHead} from "./chain.js"

/** What happened: a search, an export of a patient's data, or a request refused before consent was asked. */
export type InteractionKind = "search" | "export" | "refused"

/** The FHIR RESTful interaction (http://hl7.org/fhir/restful-interaction) it was. */
export type InteractionCode = "search-type" | "read" | "vread" | "operation"

export interface InteractionFacts {
  kind: InteractionKind
  interaction: InteractionCode
  /** The resource type searched or read (Patient for `$everything`). */
  resourceType: string
  /** The record a refused read or vread named, when it exists. */
  recordId: string | null
  /** The patient the interaction was about, when one is known (the index `GET /AuditEvent?patient=` reads). */
  patient: string | null
  /** The caller's key (hex): the SMART client is the enrolled person or an auditor. */
  client: string
  /** The caller's role ("auditor" for an auditor key). */
  role: string
  purpose: Purpose
  breakGlass: boolean
  /** Path and query as asked, relative to the FHIR base (at most MAX_QUERY_CHARS). */
  query: string
  /** Why it was refused; null when it was answered. */
  reason: string | null
}

export interface InteractionEntry extends InteractionFacts {
  /** sha256 (hex) of the entry's other fields, `prev` included. */
  id: string
  seq: number
  /** Id of the entry before this one ("" for the first). */
  prev: string
  /** Unix ms when the node answered. */
  at: number
  /** The hospital whose node answered. */
  hospital: string
  /** The finalized height the node's state was at. */
  height: number
}

export const MAX_QUERY_CHARS = 2048
/** Most entries listed for one patient (newest first), as the chain's index lists at most 10 000 records. */
export const MAX_LISTED_INTERACTIONS = 10_000

function entryId(entry: Omit<InteractionEntry, "id">): string {
  return createHash("sha256").update(canonicalJson(entry)).digest("hex")
}

function decodeEntry(bytes: Uint8Array): InteractionEntry {
  return JSON.parse(Buffer.from(bytes).toString("utf8")) as InteractionEntry
}

/** True when the entry's id is the hash of its fields and it links to `previous` (the entry before it, or undefined for the first). */
export function linksTo(entry: InteractionEntry, previous: InteractionEntry | undefined): boolean {
  const {id, ...rest} = entry
  return entryId(rest) === id && entry.prev === (previous?.id ?? "") && entry.seq === (previous?.seq ?? 0) + 1
}

export class InteractionJournal {
  private seq = 0
  private prev = ""
  /** Appends run one at a time, so sequence numbers and hash links never fork. */
  private tail: Promise<unknown> = Promise.resolve()
  private started: Promise<void> | undefined

  constructor(private readonly deps: {vault: Vault; hospital: string; head: () => FinalizedHead; now: () => number; logger?: Logger}) {}

  /** Checks the journal on disk and continues from its newest entry; runs once, before the first append or listing. */
  private start(): Promise<void> {
    this.started ??= (async () => {
      const check = await this.verify()
      if (check.brokenAt !== null) this.deps.logger?.error({entry: check.brokenAt, entries: check.entries}, "the FHIR interaction journal was altered: an entry's hash or link does not hold")
      const last = await this.deps.vault.lastInteraction()
      if (last === undefined) return
      const entry = decodeEntry(last)
      this.seq = entry.seq
      this.prev = entry.id
    })().catch((err: unknown) => {
      // Not started after all (the vault was not open): the next call tries again.
      this.started = undefined
      throw err
    })
    return this.started
  }

  /** Walks the whole journal (streamed): how many entries, and the sequence number of the first one whose hash or link does not hold. */
  async verify(): Promise<{entries: number; brokenAt: number | null}> {
    let previous: InteractionEntry | undefined
    let entries = 0
    for await (const bytes of this.deps.vault.allInteractions()) {
      const entry = decodeEntry(bytes)
      entries++
      if (!linksTo(entry, previous)) return {entries, brokenAt: entry.seq}
      previous = entry
    }
    return {entries, brokenAt: null}
  }

  /** Writes one entry, synced, and resolves with it once it is on disk. */
  append(facts: InteractionFacts): Promise<InteractionEntry> {
    const run = this.tail.then(async () => {
      await this.start()
      const body: Omit<InteractionEntry, "id"> = {
        ...facts,
        query: facts.query.slice(0, MAX_QUERY_CHARS),
        seq: this.seq + 1,
        prev: this.prev,
        at: this.deps.now(),
        hospital: this.deps.hospital,
        height: this.deps.head().height,
      }
      const entry: InteractionEntry = {id: entryId(body), ...body}
      await this.deps.vault.putInteraction(entry.seq, entry.patient, Buffer.from(JSON.stringify(entry), "utf8"))
      this.seq = entry.seq
      this.prev = entry.id
      return entry
    })
    this.tail = run.catch(() => undefined)
    return run
  }

  /** The patient's entries, newest first (at most MAX_LISTED_INTERACTIONS). */
  async of(patient: string): Promise<InteractionEntry[]> {
    await this.start()
    return (await this.deps.vault.interactionsOf(patient, MAX_LISTED_INTERACTIONS)).map(decodeEntry)
  }
}
