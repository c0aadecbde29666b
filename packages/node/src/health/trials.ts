/** trial_verify: checks documents against a trial's registered hashes. */
import {documentHash, getTrial, toHex, type StateReader, type TrialVerifyResult} from "@careledger/core"

export interface TrialVerifyParams {
  trialId: string
  protocol?: string
  protocolHash?: string
  results?: string
  resultsHash?: string
  dataset?: string
  datasetHash?: string
}

/**
 * Which registered protocol version a document matches, whether results/dataset match, and whether
 * the protocol was registered in an earlier block than the first results.
 */
export async function verifyTrial(state: StateReader, params: TrialVerifyParams): Promise<TrialVerifyResult> {
  const trial = await getTrial(state, params.trialId)
  if (trial === undefined) {
    return {
      trialId: params.trialId,
      registered: false,
      protocolVersion: null,
      resultsMatch: null,
      datasetMatch: null,
      registeredBeforeResults: null,
      registeredAt: null,
      resultsAt: null,
    }
  }
  const hashOf = (doc: string | undefined, hash: string | undefined): string | undefined =>
    doc !== undefined ? toHex(documentHash(doc)) : hash?.toLowerCase().replace(/^0x/, "")
  const protocolHash = hashOf(params.protocol, params.protocolHash)
  const resultsHash = hashOf(params.results, params.resultsHash)
  const datasetHash = hashOf(params.dataset, params.datasetHash)
  const firstResults = trial.resultEntries.length === 0 ? null : Math.min(...trial.resultEntries.map((r) => r.height))
  return {
    trialId: trial.trialId,
    registered: true,
    protocolVersion: protocolHash === undefined ? null : (trial.protocols.find((p) => p.protocolHash === protocolHash)?.version ?? null),
    resultsMatch: resultsHash === undefined ? null : trial.resultEntries.some((r) => r.resultsHash === resultsHash),
    datasetMatch: datasetHash === undefined ? null : trial.resultEntries.some((r) => r.datasetHash === datasetHash),
    registeredBeforeResults: firstResults === null ? null : trial.registeredAt < firstResults,
    registeredAt: trial.registeredAt,
    resultsAt: firstResults,
  }
}
