/**
 * State reads mostly answer from the store's cache, without waiting, so a loop over a block's or
 * the pool's transactions would otherwise hold the event loop for its whole length: votes and
 * proposals waiting in sockets would be read only after it, and a round timer that expired
 * meanwhile fires first. Loops over many transactions let other work in this often.
 */
export const YIELD_EVERY = 64

/** Resolves after the event loop has had a turn (timers, I/O). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
