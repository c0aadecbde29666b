import type {MempoolOptions, ConsensusOptions} from "@careledger/core"
import type {NetworkOptions} from "@careledger/network"

/** Tuning below the operator's config: the sum of the subsystems' own options. */
export interface NodeTuning {
  mempool: Partial<MempoolOptions>
  consensus: Partial<ConsensusOptions>
  network: Partial<Omit<NetworkOptions, "chainId" | "listen" | "bootstrap" | "members" | "observers" | "observer">>
  /** Most transactions and bytes a proposer puts in one block. */
  maxBlockTxs: number
  maxBlockBytes: number
  /** How often the node asks peers for their status when it has not committed for a while. */
  statusPollMs: number
  /** Least time between two sync requests prompted by consensus messages of later heights. */
  syncRequestIntervalMs: number
  /** Round timeouts without a finalized block before the node warns that the chain is stalled (and again as often). */
  stallWarningRounds: number
  /** Timeouts and evidence kept for consensus_status. */
  keepTimeouts: number
  keepEvidence: number
}

export const defaultNodeTuning: NodeTuning = {
  mempool: {},
  consensus: {},
  network: {},
  maxBlockTxs: 2000,
  maxBlockBytes: 2 * 1024 * 1024,
  statusPollMs: 3000,
  syncRequestIntervalMs: 1000,
  stallWarningRounds: 5,
  keepTimeouts: 20,
  keepEvidence: 50,
}
