/**
 * Pins the node's interaction journal on chain: after entries are appended, the node key submits an
 * `audit.anchor` naming the journal's entry count and its newest entry's hash. At most one anchor is
 * waiting for finality at a time and at most one is submitted per interval, so a burst of searches
 * costs one transaction; appends while one waits are covered by the next. The journal's start check
 * holds the journal to the latest finalized anchor (interactions.ts).
 */
import {TxType, TxErrorCode, fromHex, getJournalAnchor, refusalCode, type Logger} from "@careledger/core"
import type {FinalizedChain, TxSubmitter} from "./chain.js"
import {InteractionJournal, type JournalPin, type JournalPins} from "./interactions.js"
import type {NodeTxJournal} from "./journal.js"
import type {Vault} from "./vault.js"

export interface JournalAnchorOptions {
  /** Least time between two anchors (default 2 s: about two blocks). */
  anchorIntervalMs?: number
  /** Longest wait for an anchor's finality before the journal is looked at again (default 30 s). */
  anchorRetryMs?: number
}

export interface JournalAnchorDeps {
  chain: FinalizedChain
  /** This node's hospital id (whose anchor state keeps). */
  hospital: string
  /** The journal's newest entry. */
  tip: () => JournalPin | undefined
  /** Holds the running journal to a finalized anchor (throws, and the journal fails, when it does not hold the pinned entry). */
  hold: (pin: JournalPin) => Promise<void>
  /** The node key's transactions (its one signer). */
  txs: NodeTxJournal
  waitFinal: TxSubmitter["waitFinal"]
  now: () => number
  logger?: Logger
}

/** The node's interaction journal, anchored on chain by the node key. */
export function anchoredJournal(
  options: JournalAnchorOptions & {hospital: string},
  deps: {vault: Vault; chain: FinalizedChain; submitter: TxSubmitter; txs: NodeTxJournal; now: () => number; logger?: Logger},
): InteractionJournal {
  const pins = new JournalAnchorer(options, {
    chain: deps.chain,
    hospital: options.hospital,
    tip: () => journal.tip(),
    hold: (pin) => journal.hold(pin),
    txs: deps.txs,
    waitFinal: (hash, timeoutMs) => deps.submitter.waitFinal(hash, timeoutMs),
    now: deps.now,
    logger: deps.logger,
  })
  const journal: InteractionJournal = new InteractionJournal({
    vault: deps.vault,
    hospital: options.hospital,
    head: () => deps.chain.head(),
    now: deps.now,
    logger: deps.logger,
    pins,
  })
  return journal
}

export class JournalAnchorer implements JournalPins {
  private readonly intervalMs: number
  private readonly retryMs: number
  private timer: ReturnType<typeof setTimeout> | undefined
  private running: Promise<void> | undefined
  /** A request came while a step was running: run one more after it. */
  private again = false
  private lastSubmitAt = Number.NEGATIVE_INFINITY
  /** Sequence of the finalized anchor the running journal was last held to. */
  private held = 0
  private stopped = true

  constructor(
    options: JournalAnchorOptions,
    private readonly deps: JournalAnchorDeps,
  ) {
    this.intervalMs = options.anchorIntervalMs ?? 2_000
    this.retryMs = options.anchorRetryMs ?? 30_000
  }

  async latest(): Promise<JournalPin | undefined> {
    return getJournalAnchor(this.deps.chain.state(), this.deps.hospital)
  }

  start(): void {
    this.stopped = false
    this.request()
  }

  /** Asks for the journal as it is now to be anchored; coalesces with a step already scheduled or running. */
  request(): void {
    if (this.stopped || this.timer !== undefined) return
    if (this.running !== undefined) {
      this.again = true
      return
    }
    const wait = Math.max(0, this.lastSubmitAt + this.intervalMs - this.deps.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.running = this.step()
        .catch((err: Error) => this.deps.logger?.error({err: err.message}, "anchoring the interaction journal failed"))
        .finally(() => {
          this.running = undefined
          if (this.again) {
            this.again = false
            this.request()
          }
        })
    }, wait)
    this.timer.unref?.()
  }

  /**
   * Anchors the journal's newest entry unless the chain has it already, then waits (bounded) for that
   * anchor to be final: the one anchor in flight. Entries appended meanwhile go in the next one.
   */
  private async step(): Promise<void> {
    const tip = this.deps.tip()
    if (tip === undefined) return
    const latest = await this.latest()
    // An anchor that became final since the last look (this node's, or one in flight when it stopped) is checked first.
    if (latest !== undefined && latest.sequence !== this.held) {
      await this.deps.hold(latest)
      this.held = latest.sequence
    }
    const anchored = latest?.sequence ?? 0
    if (tip.sequence <= anchored) return
    this.lastSubmitAt = this.deps.now()
    let hash: string
    try {
      hash = (await this.deps.txs.submit(TxType.AuditAnchor, {sequence: tip.sequence, head: fromHex(tip.head) as Uint8Array}, false)).hashHex()
    } catch (err) {
      const code = refusalCode(err)
      if (code === TxErrorCode.CONFLICT) return // an anchor at or past this entry is already pending
      if (code !== undefined && code.startsWith("TX_ERROR_")) {
        // A verdict of the state machine (e.g. this node key is no hospital's): asking again gets the same.
        this.deps.logger?.error({code, err: (err as Error).message}, "the chain refuses this node's interaction journal anchor")
        return
      }
      // The node is catching up, its pool is full, ...: look again after the interval.
      this.deps.logger?.warn({code, err: (err as Error).message}, "the interaction journal anchor is not queued yet")
      this.again = true
      return
    }
    // Not final in time (dropped, or the chain is slow): look at the state again after the interval.
    if (!(await this.deps.waitFinal(hash, this.retryMs))) this.again = true
  }

  /** Stops scheduling and waits for a running step. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    await this.running
  }
}
