import type {MempoolOptions} from "@careledger/core"
import type {NetworkOptions} from "@careledger/network"
import type {ConsensusDriverOptions} from "./driver.js"

/** Tuning below the operator's config: the sum of the subsystems' own options. */
export interface NodeTuning extends Omit<ConsensusDriverOptions, "chainId"> {
  mempool: Partial<MempoolOptions>
  network: Partial<Omit<NetworkOptions, "chainId" | "listen" | "bootstrap" | "members" | "observers" | "observer">>
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
