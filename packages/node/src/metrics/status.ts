import type {Logger} from "@careledger/core"
import type {NodeMetrics} from "./metrics.js"

export interface StatusLogOptions {
  /** How often the summary line is written. */
  intervalMs: number
}

export const defaultStatusLogOptions: StatusLogOptions = {intervalMs: 30_000}

/** What the summary reads besides the metrics. */
export interface StatusSource {
  peers(): number
  mempoolTxs(): number
  round(): number
}

/**
 * One info line every interval, "status", with the finalized height and what was finalized since the
 * last line: a healthy node shows it is alive even when every block is empty (those log at debug),
 * and a stalled one shows `blocks: 0`.
 */
export class StatusLog {
  private timer: NodeJS.Timeout | null = null
  private last = {blocks: 0, txs: 0}

  constructor(
    private readonly options: StatusLogOptions,
    private readonly deps: {metrics: NodeMetrics; source: StatusSource; logger: Logger},
  ) {}

  start(): void {
    if (this.timer !== null) return
    const totals = this.deps.metrics.finalizedTotals()
    this.last = {blocks: totals.blocks, txs: totals.txs}
    this.timer = setInterval(() => this.write(), this.options.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer === null) return
    clearInterval(this.timer)
    this.timer = null
  }

  /** Writes the summary now (the timer calls this). */
  write(): void {
    const totals = this.deps.metrics.finalizedTotals()
    const {source} = this.deps
    this.deps.logger.info(
      {
        finalizedHeight: totals.height,
        blocks: totals.blocks - this.last.blocks,
        txs: totals.txs - this.last.txs,
        seconds: Math.round(this.options.intervalMs / 1000),
        peers: source.peers(),
        mempoolTxs: source.mempoolTxs(),
        round: source.round(),
      },
      "status",
    )
    this.last = {blocks: totals.blocks, txs: totals.txs}
  }
}
