import {NetworkError, NetworkErrorCode} from "./errors.js"

/**
 * At most `maxActive` holders at once and at most `maxWaiting` callers waiting for a slot; beyond
 * that `acquire` throws QUEUE_FULL, so bursts cost bounded memory.
 */
export class BoundedConcurrency {
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor(
    private readonly maxActive: number,
    private readonly maxWaiting: number,
    private readonly what: string,
  ) {}

  async acquire(): Promise<void> {
    if (this.active < this.maxActive) {
      this.active++
      return
    }
    if (this.waiting.length >= this.maxWaiting) {
      throw new NetworkError(NetworkErrorCode.QUEUE_FULL, `${this.what}: ${this.waiting.length} already waiting`)
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  release(): void {
    // Hand the slot straight to the next waiter so the active count never overshoots.
    const next = this.waiting.shift()
    if (next !== undefined) next()
    else this.active--
  }

  /** Lets every waiter through (used at shutdown; their work then fails fast). */
  releaseAll(): void {
    while (this.waiting.length > 0) this.release()
  }

  get inUse(): number {
    return this.active
  }

  get queued(): number {
    return this.waiting.length
  }
}
