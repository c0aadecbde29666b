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
 * reports. The node pins the journal on chain (`audit.anchor`, see anchoring.ts), and the start
 * check also refuses a journal that does not hold the entry the latest finalized anchor names: a
 * journal rewritten consistently from some entry on, or cut short, is caught there.
 */
import {createHash} from "node:crypto"
import {canonicalJson, type Logger, type Purpose} from "@careledger/core"
import type {Vault} from "./vault.js"
import type {FinalizedHead} from "./chain.js"
import {HealthError, HealthErrorCode} from "./errors.js"

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

/** A point of the journal: its entry count and the id of its newest entry (what an `audit.anchor` pins). */
export interface JournalPin {
  sequence: number
  /** Hex id of the entry numbered `sequence`. */
  head: string
}

/** How the journal is pinned on chain (JournalAnchorer). */
export interface JournalPins {
  /** This hospital's latest finalized anchor, if it has one. */
  latest(): Promise<JournalPin | undefined>
  /** Starts anchoring, and anchors the journal if it is ahead of its anchor. */
  start(): void
  /** The journal grew: anchor its newest entry soon. */
  request(): void
  stop(): Promise<void>
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
  /** Set when the journal failed its check (at start, or against an anchor final since): every use fails with it until stop. */
  private failure: HealthError | undefined

  constructor(
    private readonly deps: {
      vault: Vault
      hospital: string
      head: () => FinalizedHead
      now: () => number
      logger?: Logger
      /** Anchoring on chain (anchoring.ts): the start check holds the journal to the latest finalized anchor. */
      pins?: JournalPins
    },
  ) {}

  /**
   * Checks the journal on disk (its hash chain, then the entry the latest finalized anchor pins) and
   * continues from its newest entry; runs once, before the first append or listing. A journal that
   * fails the check throws HealthError JOURNAL_BROKEN or JOURNAL_NOT_ANCHORED, at every call.
   */
  start(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    this.started ??= (async () => {
      const check = await this.verify()
      if (check.brokenAt !== null) {
        throw new HealthError(HealthErrorCode.JOURNAL_BROKEN, `the FHIR interaction journal was altered: the hash or link of entry ${check.brokenAt} does not hold`, check)
      }
      const anchor = await this.deps.pins?.latest()
      if (anchor !== undefined) await this.checkPin(anchor, check.entries)
      const last = await this.deps.vault.lastInteraction()
      if (last !== undefined) {
        const entry = decodeEntry(last)
        this.seq = entry.seq
        this.prev = entry.id
      }
      // Entries written after the last anchor (or before a crash) are anchored now.
      this.deps.pins?.start()
    })().catch((err: unknown) => {
      this.started = undefined
      // A journal that fails its check keeps failing without walking it again at every call; a vault
      // that was not open is tried again by the next call.
      if (err instanceof HealthError) this.fail(err)
      throw err
    })
    return this.started
  }

  /**
   * Checks the running journal against an anchor that became final after its start (the node
   * anchors it, or it was in flight when the node stopped): if it does not hold the pinned entry, the
   * journal fails from then on, as it would at its next start.
   */
  async hold(pin: JournalPin): Promise<void> {
    try {
      await this.checkPin(pin, this.seq)
    } catch (err) {
      if (err instanceof HealthError) this.fail(err)
      throw err
    }
  }

  private fail(err: HealthError): void {
    this.failure = err
    this.deps.logger?.error({code: err.code, ...err.details}, err.message)
  }

  /** Throws JOURNAL_NOT_ANCHORED unless the journal (of `entries` entries, hash chain intact) holds the pinned entry. */
  private async checkPin(pin: JournalPin, entries: number): Promise<void> {
    const details = {anchored: pin.sequence, head: pin.head, entries}
    if (entries < pin.sequence) {
      throw new HealthError(
        HealthErrorCode.JOURNAL_NOT_ANCHORED,
        `the FHIR interaction journal has ${entries} entries, but the chain's anchor pins entry ${pin.sequence}: entries were removed`,
        details,
      )
    }
    const bytes = await this.deps.vault.interaction(pin.sequence)
    const id = bytes === undefined ? undefined : decodeEntry(bytes).id
    if (id !== pin.head) {
      throw new HealthError(
        HealthErrorCode.JOURNAL_NOT_ANCHORED,
        `the FHIR interaction journal's entry ${pin.sequence} is not the one the chain's anchor pins (${pin.head}): the journal was rewritten`,
        {...details, found: id ?? null},
      )
    }
  }

  /** Stops anchoring; the next use checks the journal again (the vault may have been closed and reopened). */
  async stop(): Promise<void> {
    this.started = undefined
    this.failure = undefined
    await this.deps.pins?.stop()
  }

  /** The journal's newest entry as a pin (after start), or undefined while it is empty. */
  tip(): JournalPin | undefined {
    return this.seq === 0 ? undefined : {sequence: this.seq, head: this.prev}
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
      this.deps.pins?.request()
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
