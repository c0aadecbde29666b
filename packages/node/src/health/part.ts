/**
 * Wires the health service into a running node: the vault under the node's data directory, finalized
 * state from the node's store, submission into the node's intake, record exchange over the node's
 * libp2p host, and erasures observed from the finalized feed. The node serves the service over its
 * RPC (rpc/health.ts) and FHIR endpoint.
 */
import {fromHex, peerIdOf, type Block, type Logger, type PrivateKey, type StateReader, type Transaction} from "@careledger/core"
import type {SubscriptionTopic} from "@careledger/core"
import type {NodeSigner} from "../keystore/signer.js"
import {HealthService, type ReaderGrant} from "./service.js"
import type {FinalizedChain, RecordExchangeClient, TxSubmitter} from "./chain.js"
import {Vault} from "./vault.js"
import {HealthError, HealthErrorCode} from "./errors.js"

/** What the health part uses of the node (CareLedgerNode has all of it). */
export interface HealthPartNode {
  readonly chainId: string
  readonly key: PrivateKey
  readonly store: {
    state(): StateReader
    head(): {height: number; header: {timestamp: number}}
    getBlock(height: number): Promise<Block | undefined>
    getTxLocation(hash: Uint8Array): Promise<unknown>
  }
  readonly feed: {subscribe(topic: SubscriptionTopic, listener: (head: {height: number}) => void): () => void}
  readonly knownHospitals: readonly {id: string; key: string}[]
  readonly network: {requestRecord(peerId: string, request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>}
  /** The node's one signer of the node key. */
  readonly signer: NodeSigner
  submitTx(tx: Transaction): Promise<string>
  nextNonce(account: string): Promise<number>
  /** The node's stop signal: waits for finality and requests to other hospitals end when it aborts. */
  readonly signal: AbortSignal
}

/** Longest a request to another hospital's node for a record may take. */
const EXCHANGE_TIMEOUT_MS = 15_000

export interface HealthPartOptions {
  /** The node's data directory (the vault lives in `vault/` and `vault.key` inside it). */
  dataDir: string
  requestFreshnessMs?: number
  finalityTimeoutMs?: number
}

export class HealthPart {
  private service: HealthService | undefined
  private chain: FinalizedChain | undefined
  private host: HealthPartNode | undefined
  private starting: Promise<void> | undefined
  private unsubscribe: (() => void) | undefined
  /** Finalized blocks are handled one at a time, in height order. */
  private blockQueue: Promise<void> = Promise.resolve()
  private lastHandled = 0
  private readonly finalityWaiters = new Set<() => void>()
  private stopped = false

  constructor(
    private readonly options: HealthPartOptions,
    private readonly deps: {
      logger?: Logger
      /** Checks a SMART client assertion another hospital's FHIR endpoint forwards with a read. */
      verifyForwardedAssertion?: (jwt: string) => ReaderGrant
    },
  ) {}

  /** Builds the service over a started node and starts it (calls wait for `ready`). */
  attach(host: HealthPartNode): HealthService {
    if (this.service !== undefined) throw new Error("the health part is already attached")
    const hospitalOf = (key: string): string | undefined => host.knownHospitals.find((h) => h.key === key)?.id
    const chain: FinalizedChain = {
      chainId: host.chainId,
      state: () => host.store.state(),
      head: () => {
        const head = host.store.head()
        return {height: head.height, timestamp: head.header.timestamp}
      },
    }
    const submitter: TxSubmitter = {
      submit: async (tx) => {
        await host.submitTx(tx)
      },
      nextNonce: (account) => host.nextNonce(account),
      waitFinal: (hash, timeoutMs) => this.waitFinal(host, hash, timeoutMs),
      isFinal: async (hash) => {
        const bytes = fromHex(hash)
        return bytes !== undefined && (await host.store.getTxLocation(bytes)) !== undefined
      },
    }
    const exchange: RecordExchangeClient = {
      request: async (hospital, bytes) => {
        const key = host.knownHospitals.find((h) => h.id === hospital)?.key
        const publicKey = key === undefined ? undefined : fromHex(key)
        if (publicKey === undefined) throw new HealthError(HealthErrorCode.CUSTODIAN_UNAVAILABLE, `unknown hospital ${hospital}`)
        return host.network.requestRecord(peerIdOf(publicKey), bytes, AbortSignal.any([host.signal, AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)]))
      },
    }
    const service = new HealthService(
      {
        hospital: hospitalOf(host.key.id) ?? "",
        requestFreshnessMs: this.options.requestFreshnessMs,
        finalityTimeoutMs: this.options.finalityTimeoutMs,
      },
      {
        chain,
        submitter,
        vault: new Vault({datadir: this.options.dataDir}, {logger: this.deps.logger}),
        nodeKey: host.key,
        signer: host.signer,
        exchange,
        logger: this.deps.logger,
        signal: host.signal,
        verifyForwardedAssertion: this.deps.verifyForwardedAssertion,
      },
    )
    this.service = service
    this.chain = chain
    this.host = host
    this.starting = service.start()
    this.starting.catch((err: Error) => this.deps.logger?.error({err: err.message}, "health service failed to start"))
    this.lastHandled = host.store.head().height
    host.signal.addEventListener("abort", () => this.wakeWaiters(), {once: true})
    this.unsubscribe = host.feed.subscribe("finalized", (head) => {
      this.wakeWaiters()
      this.blockQueue = this.blockQueue.then(() => this.catchUp(host, head.height)).catch((err: Error) => {
        this.deps.logger?.error({err: err.message}, "applying a finalized block to the vault failed")
      })
    })
    return service
  }

  /** Resolves once the service's vault is open (a call racing the node's start waits for it). */
  ready(): Promise<void> {
    return this.starting ?? Promise.resolve()
  }

  /** Erasures in every block since the last one handled (blocks can be committed faster than the vault works). */
  private async catchUp(host: HealthPartNode, height: number): Promise<void> {
    await this.ready()
    const service = this.service
    if (service === undefined) return
    for (let h = this.lastHandled + 1; h <= height; h++) {
      const block = await host.store.getBlock(h)
      if (block !== undefined) await service.onFinalizedBlock(block)
      this.lastHandled = h
    }
  }

  private async waitFinal(host: HealthPartNode, hash: string, timeoutMs: number): Promise<boolean> {
    const bytes = fromHex(hash)
    if (bytes === undefined) return false
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if ((await host.store.getTxLocation(bytes)) !== undefined) {
        // Let the erasure handler see the block before the caller looks at the vault.
        await this.blockQueue
        return true
      }
      const left = deadline - Date.now()
      if (left <= 0 || this.stopped || host.signal.aborted) return false
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer)
          this.finalityWaiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(wake, left)
        this.finalityWaiters.add(wake)
      })
    }
  }

  /** Calls waiting for finality look again (a block was finalized, or the node stops). */
  private wakeWaiters(): void {
    for (const wake of [...this.finalityWaiters]) wake()
  }

  /** The record-exchange handler for the network host: `from` is the asking peer's ID. */
  async handleRecord(request: Uint8Array, from: string, hospitals: readonly {id: string; key: string}[]): Promise<Uint8Array> {
    await this.ready()
    const service = this.service
    if (service === undefined) throw new HealthError(HealthErrorCode.CUSTODIAN_UNAVAILABLE, "the health service is not running")
    const hospital = hospitals.find((h) => {
      const key = fromHex(h.key)
      return key !== undefined && peerIdOf(key) === from
    })?.id
    return service.handleExchange(request, hospital)
  }

  /** What the FHIR endpoint needs of the attached service and chain (after attach). */
  fhirDeps(): {health: HealthService; chain: FinalizedChain; blockTime(height: number): Promise<number | undefined>; ready(): Promise<void>} {
    const service = this.service
    const chain = this.chain
    const host = this.host
    if (service === undefined || chain === undefined || host === undefined) throw new Error("the health part is not attached")
    return {
      health: service,
      chain,
      blockTime: async (height) => (await host.store.getBlock(height))?.header.timestamp,
      ready: () => this.ready(),
    }
  }

  get healthService(): HealthService | undefined {
    return this.service
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.wakeWaiters()
    await this.blockQueue.catch(() => undefined)
    await this.starting?.catch(() => undefined)
    await this.service?.stop()
  }
}
