import {
  blockToJson,
  commitToJson,
  MAX_TX_WAIT_MS,
  coreRoutes,
  fromHex,
  headerToJson,
  getJournalAnchor,
  listHospitals,
  merklePathToJson,
  merkleProof,
  peerIdOf,
  toHex,
  txToJson,
  type Block,
  type ChainStore,
  type Mempool,
  type TxLookup,
} from "@careledger/core"
import {RpcErrorCode, RpcServerError} from "./errors.js"
import type {HeadFeed} from "./feed.js"
import {serve, type RpcNamespace} from "./method.js"

/** What chain_ reads of the node: the store, pending transactions and the next nonce of an account. */
export interface ChainRpcDeps {
  readonly store: Pick<ChainStore, "head" | "getBlock" | "getBlockByHash" | "getCommit" | "getTx" | "getTxLocation" | "validatorsAt" | "state">
  readonly mempool: Pick<Mempool, "get">
  /** Finalized heads, so chain_waitForTx wakes on each new block instead of polling. */
  readonly feed: Pick<HeadFeed, "subscribe">
  nextNonce(account: string): Promise<number>
  /** The node's stop signal: a held chain_waitForTx answers at once when it aborts. */
  readonly signal: AbortSignal
}

/** The longest a chain_waitForTx call is held open is declared with the route, in core. */
export {MAX_TX_WAIT_MS} from "@careledger/core"
/** Most chain_waitForTx calls held open at once; more are refused as rate limited. */
export const MAX_TX_WAITERS = 4096

export function chainMethods(node: ChainRpcDeps): RpcNamespace {
  const blockAt = async (height: number | undefined, hash: string | undefined): Promise<Block | undefined> => {
    if ((height === undefined) === (hash === undefined)) {
      throw new RpcServerError(RpcErrorCode.INVALID_PARAMS, "give exactly one of height or hash")
    }
    return height !== undefined ? node.store.getBlock(height) : node.store.getBlockByHash(fromHex(hash!)!)
  }
  const lookupTx = async (hash: string): Promise<TxLookup | null> => {
    const found = await node.store.getTx(fromHex(hash)!)
    if (found !== undefined) {
      return {status: "final", tx: txToJson(found.tx), blockHeight: found.height, blockHash: toHex(found.blockHash), index: found.index}
    }
    const pending = node.mempool.get(hash)
    if (pending === undefined) return null
    return {status: "pending", tx: txToJson(pending), blockHeight: null, blockHash: null, index: null}
  }
  let waiters = 0
  /** Resolves when the tx is in a finalized block, `ms` pass or the node stops; checks the index once per new block. */
  const untilFinal = (txHash: Uint8Array, ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        unsubscribe()
        node.signal.removeEventListener("abort", done)
        resolve()
      }
      const check = (): void => {
        void node.store.getTxLocation(txHash).then((location) => location !== undefined && done(), done)
      }
      const timer = setTimeout(done, ms)
      const unsubscribe = node.feed.subscribe("finalized", check)
      node.signal.addEventListener("abort", done, {once: true})
      // Subscribed first, then checked: a block finalized in between is not missed.
      check()
    })
  return {
    chain_head: serve(coreRoutes.chain_head, () => {
      const head = node.store.head()
      const hash = toHex(head.hash)
      return {height: head.height, hash, finalizedHeight: head.height, finalizedHash: hash, timestamp: head.header.timestamp}
    }),
    chain_getBlock: serve(coreRoutes.chain_getBlock, async ({height, hash}) => {
      const block = await blockAt(height, hash)
      if (block === undefined) return null
      const commit = block.height === 0 ? undefined : await node.store.getCommit(block.height)
      return blockToJson(block, commit ?? null)
    }),
    chain_getTx: serve(coreRoutes.chain_getTx, ({hash}) => lookupTx(hash)),
    chain_waitForTx: serve(coreRoutes.chain_waitForTx, async ({hash, timeoutMs}) => {
      const now = await lookupTx(hash)
      if (now?.status === "final" || timeoutMs === 0 || node.signal.aborted) return now
      if (waiters >= MAX_TX_WAITERS) throw new RpcServerError(RpcErrorCode.RATE_LIMITED, `${MAX_TX_WAITERS} calls already wait for transactions`)
      waiters++
      try {
        await untilFinal(fromHex(hash)!, timeoutMs ?? MAX_TX_WAIT_MS)
      } finally {
        waiters--
      }
      return lookupTx(hash)
    }),
    chain_getTxProof: serve(coreRoutes.chain_getTxProof, async ({hash}) => {
      const location = await node.store.getTxLocation(fromHex(hash)!)
      if (location === undefined) return null
      const block = await node.store.getBlock(location.height)
      const commit = await node.store.getCommit(location.height)
      if (block === undefined || commit === undefined) {
        throw new RpcServerError(RpcErrorCode.NOT_FOUND, `block ${location.height} or its certificate is missing`)
      }
      return {
        chainId: block.header.chainId,
        txHash: hash,
        index: location.index,
        path: merklePathToJson(merkleProof(block.txs.map((tx) => tx.hash()), location.index)),
        header: headerToJson(block.header),
        blockHash: block.hashHex(),
        commit: commitToJson(commit),
        validators: node.store.validatorsAt(location.height).map(toHex),
      }
    }),
    chain_getNonce: serve(coreRoutes.chain_getNonce, async ({account}) => ({account, nonce: await node.nextNonce(account)})),
    chain_journalAnchor: serve(coreRoutes.chain_journalAnchor, async ({hospital}) => (await getJournalAnchor(node.store.state(), hospital)) ?? null),
    chain_hospitals: serve(coreRoutes.chain_hospitals, async () =>
      (await listHospitals(node.store.state())).map((h) => ({
        hospital: h.id,
        name: h.name,
        key: h.key,
        peerId: peerIdOf(fromHex(h.key)!),
        validator: h.validator,
      })),
    ),
  }
}
