/**
 * The node's network handlers, Lodestar-style: one gossip handler per topic in a typed map and one
 * handler per request/response protocol. Adding a topic or a protocol is adding one entry here.
 */
import {decodeConsensusFrame, encodeCommit, signerOf, verifyConsensusMessage, type ChainStore, type ConsensusMessage} from "@careledger/core"
import type {BlockWithCommit, GossipHandlers, ReqRespHandlers} from "@careledger/network"
import type {ConsensusDriver} from "./driver.js"
import type {TxIntake} from "./intake.js"

/**
 * Who signed a consensus message: a member of the set deciding the current height or of the set a
 * validated block would install next; a candidate (a hospital known to state, which a set change we
 * have not applied yet could make a validator); or a stranger.
 */
export type SignerStanding = "member" | "candidate" | "stranger"

export interface GossipHandlerDependencies {
  chainId: string
  intake: Pick<TxIntake, "admitGossip">
  driver: Pick<ConsensusDriver, "onMessage">
  standing(signer: Uint8Array): SignerStanding
  /** While behind, the set in force may have changed in blocks not seen yet: strangers are not blamed then. */
  syncing(): boolean
}

export function gossipHandlers(deps: GossipHandlerDependencies): GossipHandlers {
  return {
    tx: (txs) => deps.intake.admitGossip(txs),
    consensus: async (bytes) => {
      let message: ConsensusMessage
      try {
        message = decodeConsensusFrame(bytes)
        verifyConsensusMessage(message, deps.chainId)
      } catch {
        return "reject"
      }
      const standing = deps.standing(signerOf(message))
      if (standing === "member") {
        deps.driver.onMessage(message)
        return "accept"
      }
      // Neither relayed nor buffered. A stranger's message is rejected, which lowers the score of the
      // peer that sent it: an admitted observer cannot make the consortium carry throwaway keys' blocks.
      return standing === "candidate" || deps.syncing() ? "ignore" : "reject"
    },
  }
}


export interface ReqRespHandlerDependencies {
  store: ChainStore
  answerRecord(request: Uint8Array, from: string): Promise<Uint8Array>
}

/** The request/response protocols the node answers (record exchange by the health part), as the network host takes them. */
export function reqRespHandlers(deps: ReqRespHandlerDependencies): Required<ReqRespHandlers> {
  return {
    getStatus: () => {
      const head = deps.store.head()
      return {headHeight: head.height, headHash: head.hash, finalizedHeight: head.height, finalizedHash: head.hash}
    },
    readBlocks: (from, count) => readBlocks(deps.store, from, count),
    recordHandler: (request, from) => deps.answerRecord(request, from),
  }
}

async function* readBlocks(store: ChainStore, from: number, count: number): AsyncIterable<BlockWithCommit> {
  const last = Math.min(from + count - 1, store.head().height)
  for (let height = Math.max(from, 1); height <= last; height++) {
    const block = await store.getBlock(height)
    const commit = await store.getCommit(height)
    if (block === undefined || commit === undefined) return
    yield {block: block.serialize(), commit: encodeCommit(commit)}
  }
}
