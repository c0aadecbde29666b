import {
  blockToJson,
  headerToJson,
  commitToJson,
  merklePathToJson,
  txToJson,
  type BlockJson,
  type ChainHead,
  type HospitalInfo,
  type TxLookup,
  type TxProof,
} from "@careledger/client"
import {fromHex, listHospitals, merkleProof, peerIdOf, toHex, type Block, type ChainStore, type Mempool} from "@careledger/core"
import {RpcErrorCode, RpcServerError} from "./errors.js"
import type {HeadFeed} from "./feed.js"
import {method, type RpcNamespace} from "./method.js"
import {p, params} from "./params.js"

/** What chain_ reads of the node: the store, pending transactions and the next nonce of an account. */
export interface ChainRpcDeps {
  readonly store: Pick<ChainStore, "head" | "getBlock" | "getBlockByHash" | "getCommit" | "getTx" | "getTxLocation" | "validatorsAt" | "state">
  readonly mempool: Pick<Mempool, "get">
  /** Finalized heads, so chain_waitForTx wakes on each new block instead of polling. */
  readonly feed: Pick<HeadFeed, "subscribe">
  nextNonce(account: string): Promise<number>
}

/** Longest a chain_waitForTx call is held open. */
export const MAX_TX_WAIT_MS = 30_000
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
  /** Resolves when the tx is in a finalized block or `ms` pass; checks the index once per new block. */
  const untilFinal = (txHash: Uint8Array, ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        unsubscribe()
        resolve()
      }
      const check = (): void => {
        void node.store.getTxLocation(txHash).then((location) => location !== undefined && done(), done)
      }
      const timer = setTimeout(done, ms)
      const unsubscribe = node.feed.subscribe("finalized", check)
      // Subscribed first, then checked: a block finalized in between is not missed.
      check()
    })
  return {
    chain_head: method(params({}), {
      permission: "read",
      summary: "latest block and latest finalized block (the same here: only final blocks are stored)",
      handler: (): ChainHead => {
        const head = node.store.head()
        const hash = toHex(head.hash)
        return {height: head.height, hash, finalizedHeight: head.height, finalizedHash: hash, timestamp: head.header.timestamp}
      },
    }),
    chain_getBlock: method(params({height: p.optional(p.uint()), hash: p.optional(p.hex({bytes: 32}))}), {
      permission: "read",
      summary: "a block by height or hash, with its transactions and commit certificate (null when absent)",
      handler: async ({height, hash}): Promise<BlockJson | null> => {
        const block = await blockAt(height, hash)
        if (block === undefined) return null
        const commit = block.height === 0 ? undefined : await node.store.getCommit(block.height)
        return blockToJson(block, commit ?? null)
      },
    }),
    chain_getTx: method(params({hash: p.hex({bytes: 32})}), {
      permission: "read",
      summary: "a transaction, pending in the mempool or final in a block (null when unknown)",
      handler: ({hash}): Promise<TxLookup | null> => lookupTx(hash),
    }),
    chain_waitForTx: method(params({hash: p.hex({bytes: 32}), timeoutMs: p.optional(p.uint({max: MAX_TX_WAIT_MS}))}), {
      permission: "read",
      summary: `answers as chain_getTx once the transaction is final, or when timeoutMs (default and at most ${MAX_TX_WAIT_MS}) pass`,
      handler: async ({hash, timeoutMs}): Promise<TxLookup | null> => {
        const now = await lookupTx(hash)
        if (now?.status === "final" || timeoutMs === 0) return now
        if (waiters >= MAX_TX_WAITERS) throw new RpcServerError(RpcErrorCode.RATE_LIMITED, `${MAX_TX_WAITERS} calls already wait for transactions`)
        waiters++
        try {
          await untilFinal(fromHex(hash)!, timeoutMs ?? MAX_TX_WAIT_MS)
        } finally {
          waiters--
        }
        return lookupTx(hash)
      },
    }),
    chain_getTxProof: method(params({hash: p.hex({bytes: 32})}), {
      permission: "read",
      summary: "Merkle path, header and commit certificate proving a final transaction (null when not final)",
      handler: async ({hash}): Promise<TxProof | null> => {
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
      },
    }),
    chain_getNonce: method(params({account: p.hex({bytes: 32})}), {
      permission: "read",
      summary: "the nonce the account's next transaction must carry (counting its pending ones)",
      handler: async ({account}): Promise<{account: string; nonce: number}> => ({account, nonce: await node.nextNonce(account)}),
    }),
    chain_hospitals: method(params({}), {
      permission: "read",
      summary: "member hospitals with their node keys and whether they validate",
      handler: async (): Promise<HospitalInfo[]> =>
        (await listHospitals(node.store.state())).map((h) => ({
          hospital: h.id,
          name: h.name,
          key: h.key,
          peerId: peerIdOf(fromHex(h.key)!),
          validator: h.validator,
        })),
    }),
  }
}
