import type {Transaction} from "@careledger/core"
import {toHex} from "@careledger/core"
import type {
  AddPeerParams,
  BlockJson,
  ChainHeadJson,
  ConsensusStatusJson,
  CoreMethodName,
  CoreRpcMethods,
  HospitalInfo,
  NodeInfo,
  PeerInfoJson,
  TxLookup,
  TxProof,
  TxBatchOutcome,
  TxSubmitted,
  ValidatorInfo,
  ValidatorVoteParams,
} from "./api.js"
import {ClientError, ClientErrorCode, RpcError, RpcErrorCodes, type RpcErrorData} from "./errors.js"

export interface ClientOptions {
  /** The node's JSON-RPC endpoint, e.g. http://127.0.0.1:8545. */
  url: string
  /** Bearer token, required when the node exposes its RPC beyond loopback. */
  token?: string
  /** Per-request timeout (default DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number
}

/**
 * Default per-request timeout. A node holds a `wait: true` call for up to 30 s while the transaction
 * becomes final, so the client waits longer than that and the node's answer (or its NOT_FINAL
 * error) arrives before the client gives up.
 */
export const DEFAULT_TIMEOUT_MS = 60_000

interface JsonRpcResponse {
  jsonrpc: "2.0"
  id: number | string | null
  result?: unknown
  error?: {code: number; message: string; data?: RpcErrorData}
}

export interface BatchCall {
  method: string
  params?: unknown
}

/** One answer of a batch: either a result or the RpcError for that call. */
export type BatchResult = {ok: true; result: unknown} | {ok: false; error: RpcError}

/** A typed JSON-RPC client for one CareLedger node, over HTTP. */
export class CareLedgerClient {
  readonly url: string
  private readonly token: string | undefined
  private readonly timeoutMs: number
  private nextId = 1

  constructor(options: ClientOptions | string) {
    const opts = typeof options === "string" ? {url: options} : options
    this.url = opts.url
    this.token = opts.token
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  /** Calls a core method with its typed params and result. */
  call<M extends CoreMethodName>(method: M, params?: CoreRpcMethods[M]["params"]): Promise<CoreRpcMethods[M]["result"]> {
    return this.request(method, params ?? {}) as Promise<CoreRpcMethods[M]["result"]>
  }

  /** Calls any method (other namespaces type their own wrappers on top of this). */
  async request(method: string, params?: unknown): Promise<unknown> {
    const id = this.nextId++
    const body = await this.post({jsonrpc: "2.0", id, method, ...(params === undefined ? {} : {params})})
    return unwrap(parseResponse(body))
  }

  /** Sends several calls in one HTTP request; answers come back in call order. */
  async batch(calls: readonly BatchCall[]): Promise<BatchResult[]> {
    const ids = calls.map(() => this.nextId++)
    const body = await this.post(calls.map((c, i) => ({jsonrpc: "2.0", id: ids[i], method: c.method, params: c.params ?? {}})))
    if (!Array.isArray(body)) {
      const single = parseResponse(body)
      throw toRpcError(single)
    }
    const byId = new Map<unknown, JsonRpcResponse>()
    for (const item of body) {
      const response = parseResponse(item)
      byId.set(response.id, response)
    }
    return ids.map((id) => {
      const response = byId.get(id)
      if (response === undefined) return {ok: false, error: new RpcError(-32603, "no response for this call")}
      return response.error === undefined ? {ok: true, result: response.result} : {ok: false, error: toRpcError(response)}
    })
  }

  nodeInfo(): Promise<NodeInfo> {
    return this.call("node_info")
  }

  peers(): Promise<PeerInfoJson[]> {
    return this.call("net_peers")
  }

  addPeer(multiaddr: string): Promise<{peerId: string | null; connected: boolean}> {
    const params: AddPeerParams = {multiaddr}
    return this.call("admin_addPeer", params)
  }

  head(): Promise<ChainHeadJson> {
    return this.call("chain_head")
  }

  getBlock(at: number | string): Promise<BlockJson | null> {
    return this.call("chain_getBlock", typeof at === "number" ? {height: at} : {hash: at})
  }

  getTx(hash: string): Promise<TxLookup | null> {
    return this.call("chain_getTx", {hash})
  }

  getTxProof(hash: string): Promise<TxProof | null> {
    return this.call("chain_getTxProof", {hash})
  }

  async getNonce(account: string): Promise<number> {
    return (await this.call("chain_getNonce", {account})).nonce
  }

  hospitals(): Promise<HospitalInfo[]> {
    return this.call("chain_hospitals")
  }

  /** Submits a signed transaction (or its canonical bytes). */
  sendTx(tx: Transaction | Uint8Array): Promise<TxSubmitted> {
    const bytes = tx instanceof Uint8Array ? tx : tx.serialize()
    return this.call("tx_send", {tx: toHex(bytes)})
  }
  /**
   * Submits signed transactions in one request (at most 512), admitted in the order given and
   * gossiped together. One outcome per tx, in order: its hash, or the error tx_send would answer.
   */
  sendTxs(txs: readonly (Transaction | Uint8Array)[]): Promise<TxBatchOutcome[]> {
    return this.call("tx_sendBatch", {txs: txs.map((tx) => toHex(tx instanceof Uint8Array ? tx : tx.serialize()))})
  }


  validators(): Promise<ValidatorInfo[]> {
    return this.call("validator_list")
  }

  proposeValidator(proposal: ValidatorVoteParams): Promise<TxSubmitted> {
    return this.call("validator_propose", proposal)
  }

  consensusStatus(): Promise<ConsensusStatusJson> {
    return this.call("consensus_status")
  }

  /**
   * Waits until the transaction is final (or the deadline passes), returning where it landed. The
   * node holds each chain_waitForTx call until the tx is in a finalized block, so waiting costs one
   * request per block at most; a node without that method is polled every `pollMs`.
   */
  async waitForTx(hash: string, options: {timeoutMs?: number; pollMs?: number} = {}): Promise<TxLookup> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000)
    let held = true
    for (;;) {
      // The node's hold stays under this client's own request timeout.
      const holdMs = Math.max(0, Math.min(deadline - Date.now(), this.timeoutMs - 1000, 25_000))
      let found: TxLookup | null
      if (held) {
        try {
          found = await this.call("chain_waitForTx", {hash, timeoutMs: Math.floor(holdMs)})
        } catch (err) {
          if (!(err instanceof RpcError) || err.code !== RpcErrorCodes.METHOD_NOT_FOUND) throw err
          held = false
          found = await this.getTx(hash)
        }
      } else {
        found = await this.getTx(hash)
      }
      if (found !== null && found.status === "final") return found
      if (Date.now() > deadline) {
        throw new ClientError(ClientErrorCode.TIMEOUT, `transaction ${hash} not final in time (${found?.status ?? "unknown"})`)
      }
      // A hold too short to be worth a request (a client with a short timeout) falls back to pacing.
      if (!held || holdMs < 200) await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200))
    }
  }

  private async post(payload: unknown): Promise<unknown> {
    const headers: Record<string, string> = {"content-type": "application/json"}
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    let res: Response
    try {
      res = await fetch(this.url, {method: "POST", headers, body: JSON.stringify(payload), signal: AbortSignal.timeout(this.timeoutMs)})
    } catch (err) {
      const cause = (err as Error & {cause?: Error}).cause
      throw new ClientError(ClientErrorCode.TRANSPORT, `cannot reach ${this.url}: ${cause?.message ?? (err as Error).message}`)
    }
    const text = await res.text()
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new ClientError(ClientErrorCode.TRANSPORT, `HTTP ${res.status} from ${this.url} without a JSON-RPC body`, {status: res.status})
    }
  }
}

function parseResponse(body: unknown): JsonRpcResponse {
  if (body === null || typeof body !== "object" || Array.isArray(body) || (body as {jsonrpc?: unknown}).jsonrpc !== "2.0") {
    throw new ClientError(ClientErrorCode.BAD_RESPONSE, "not a JSON-RPC 2.0 response")
  }
  const response = body as JsonRpcResponse
  if (response.error !== undefined && (typeof response.error.code !== "number" || typeof response.error.message !== "string")) {
    throw new ClientError(ClientErrorCode.BAD_RESPONSE, "malformed JSON-RPC error object")
  }
  return response
}

function toRpcError(response: JsonRpcResponse): RpcError {
  const error = response.error ?? {code: -32603, message: "missing result"}
  return new RpcError(error.code, error.message, error.data)
}

function unwrap(response: JsonRpcResponse): unknown {
  if (response.error !== undefined) throw toRpcError(response)
  return response.result
}
