/**
 * The proposer of (height, round): the ordered validator set in force at `height` rotates one slot
 * per height and per round, so a dead proposer costs one round and the next validator takes over.
 */
export function proposerOf<T>(validators: readonly T[], height: number, round: number): T {
  if (validators.length === 0) throw new RangeError("an empty validator set has no proposer")
  return validators[(height + round) % validators.length]!
}
