/**
 * The contract between the state machine (state/), the chain store (store/), the mempool and the
 * consensus driver. State is a flat key/value space: keys are strings, values canonical bytes.
 */

/** Read access to state as of some block. Implemented by the store and by overlays. */
export interface StateReader {
  get(key: string): Promise<Uint8Array | undefined>
  /** StateKeys with `prefix`, in ascending key order, at most `limit` of them, all after `after` when given (cursor paging). */
  keys(prefix: string, limit: number, after?: string): Promise<string[]>
}

/** Pending state changes of one block; `null` deletes the key. */
export type StateWrites = Map<string, Uint8Array | null>

/** What executing a block's transactions yields; the store commits it with the block in one batch. */
export interface BlockExecution {
  writes: StateWrites
  /** State root after the block (goes in the header). */
  stateRoot: Uint8Array
  /** Validator set in force for the next height (changes after a passing validator.vote). */
  validators: Uint8Array[]
}

/** Context a block executes in. */
export interface ExecutionContext {
  chainId: string
  height: number
  /** Block timestamp (unix ms): the time consent expiry and access logs are judged against. */
  timestamp: number
  parentStateRoot: Uint8Array
}

export interface GenesisHospital {
  /** Short stable id, e.g. "hosp-a": [a-z0-9-], 1..32 chars. */
  id: string
  /** Display name of the institution (never a person). */
  name: string
  /** Hex of the hospital node's Ed25519 public key. */
  key: string
  /** Whether the hospital starts in the validator set. */
  validator: boolean
}

export interface ConsensusParams {
  /** Target time between blocks (default 1000, at least 200). */
  blockIntervalMs: number
  /** How long a round may take before the next proposer takes over (bounded, never doubles without limit). */
  roundTimeoutMs: number
  /** Produce empty blocks when idle (finality stays observable); when false, wait for transactions. */
  emptyBlocks: boolean
}

export interface Genesis {
  chainId: string
  /** Unix ms of the genesis block. */
  timestamp: number
  hospitals: GenesisHospital[]
  consensus: ConsensusParams
}
