/**
 * A one-process chain for the health service tests: the real state machine (validateTx, checkTx,
 * executeBlock) over an in-memory state and core's block assembly (assembleNextBlock, as the node and
 * the simulator build blocks), finalizing each submitted transaction in its own block at once. Only
 * consensus and gossip are left out; multi-process tests in test/ run the real network.
 */
import {
  MemoryState,
  PrivateKey,
  Role,
  Transaction,
  TxType,
  assembleNextBlock,
  checkTx,
  executeBlock,
  genesisBlock,
  genesisExecution,
  getNextNonce,
  proposerOf,
  validateTx,
  type Block,
  type Genesis,
} from "@careledger/core"
import type {FinalizedChain, RecordExchangeClient, TxSubmitter} from "../../src/health/chain.js"
import type {HealthService} from "../../src/health/service.js"
import type {HealthPartNode} from "../../src/health/part.js"
import {NodeSigner} from "../../src/keystore/signer.js"
import {HeadFeed} from "../../src/rpc/index.js"

export class LocalChain {
  readonly state = new MemoryState()
  readonly blocks: Block[] = []
  private readonly final = new Set<string>()
  private height = 0
  private parentHash: Uint8Array
  private stateRoot: Uint8Array
  /** The validator set that decides the next block. */
  private validators: Uint8Array[]
  private listeners: ((block: Block) => Promise<void>)[] = []
  clock: number

  constructor(readonly genesis: Genesis) {
    const execution = genesisExecution(genesis)
    this.state.apply(execution.writes)
    this.stateRoot = execution.stateRoot
    this.validators = execution.validators
    this.parentHash = genesisBlock(genesis, execution).hash()
    this.clock = genesis.timestamp + 1000
  }

  onFinalized(listener: (block: Block) => Promise<void>): void {
    this.listeners.push(listener)
  }

  /** Checks like a mempool would, then finalizes the transaction in a block of its own. */
  async submit(tx: Transaction): Promise<void> {
    validateTx(tx, this.genesis.chainId)
    const height = this.height + 1
    const timestamp = this.clock
    await checkTx(this.state, tx, {chainId: this.genesis.chainId, height, timestamp})
    const execution = await executeBlock(this.state, {chainId: this.genesis.chainId, height, timestamp, parentStateRoot: this.stateRoot}, [tx])
    const parent = {chainId: this.genesis.chainId, height: this.height, hash: this.parentHash, timestamp: this.lastTimestamp(), validators: this.validators, parentValidators: this.validators}
    // No consensus here: the round-0 proposer is named, but nobody signs a commit certificate.
    const block = assembleNextBlock(parent, {round: 0, proposer: proposerOf(this.validators, height, 0), timestamp, stateRoot: execution.stateRoot, lastCommit: null}, [tx])
    this.state.apply(execution.writes)
    this.stateRoot = execution.stateRoot
    this.validators = execution.validators
    this.parentHash = block.hash()
    this.height = height
    this.blocks.push(block)
    this.final.add(tx.hashHex())
    for (const listener of this.listeners) await listener(block)
  }

  private lastTimestamp(): number {
    return this.height === 0 ? this.genesis.timestamp : this.blocks[this.blocks.length - 1]!.header.timestamp
  }

  /** Whether the transaction is in a block: every accepted one is, at once. */
  isFinal(txHash: string): boolean {
    return this.final.has(txHash)
  }

  /** The health service's view of this chain: its finalized state and its intake. */
  deps(): {chain: FinalizedChain; submitter: TxSubmitter} {
    return {
      chain: {
        chainId: this.genesis.chainId,
        state: () => this.state,
        head: () => ({height: this.height, timestamp: this.lastTimestamp()}),
      },
      submitter: {
        submit: (tx) => this.submit(tx),
        nextNonce: (account) => getNextNonce(this.state, account),
        waitFinal: async (hash) => this.isFinal(hash),
        isFinal: async (hash) => this.isFinal(hash),
      },
    }
  }

  async send<T extends TxType>(key: PrivateKey, type: T, payload: Transaction<T>["payload"]): Promise<Transaction<T>> {
    const tx = Transaction.sign({chainId: this.genesis.chainId, type, nonce: await getNextNonce(this.state, key.id), payload}, key)
    await this.submit(tx)
    return tx
  }

  async enrol(hospitalKey: PrivateKey, role: Role, patient?: PrivateKey): Promise<PrivateKey> {
    const key = PrivateKey.generate()
    await this.send(hospitalKey, TxType.IdentityRegister, {key: key.publicKey, role, ...(patient === undefined ? {} : {patient: patient.publicKey})})
    return key
  }

  nonce(key: PrivateKey): Promise<number> {
    return getNextNonce(this.state, key.id)
  }
}

export function makeGenesis(hospitals: {id: string; key: PrivateKey}[]): Genesis {
  return {
    chainId: "health-test",
    timestamp: Date.now() - 60_000,
    hospitals: hospitals.map((h) => ({id: h.id, name: `${h.id} General`, key: h.key.id, validator: true})),
    consensus: {blockIntervalMs: 1000, roundTimeoutMs: 3000, emptyBlocks: false},
  }
}

/** Record exchange between services in one process: the custodian's real handler, no network. */
export class DirectExchange implements RecordExchangeClient {
  readonly services = new Map<string, HealthService>()
  /** Lets a test play a dishonest custodian by rewriting its answer. */
  rewrite: ((bytes: Uint8Array) => Uint8Array) | undefined

  constructor(private readonly from: string) {}

  async request(hospital: string, bytes: Uint8Array): Promise<Uint8Array> {
    const service = this.services.get(hospital)
    if (service === undefined) throw new Error(`no route to ${hospital}`)
    const answer = await service.handleExchange(bytes, this.from)
    return this.rewrite === undefined ? answer : this.rewrite(answer)
  }
}

/**
 * What the health part sees of a node, over a one-process chain: `key`'s node among `hospitals`.
 * Nothing it submits becomes final and no other hospital answers unless `over` says otherwise.
 */
export function partNode(chain: LocalChain, key: PrivateKey, hospitals: {id: string; key: string}[], over: Partial<HealthPartNode> = {}): HealthPartNode {
  return {
    chainId: chain.genesis.chainId,
    key,
    store: {
      state: () => chain.state,
      head: () => ({height: chain.blocks.length, header: {timestamp: chain.clock}}),
      getBlock: async (height) => chain.blocks[height - 1],
      getTxLocation: async () => undefined,
    },
    feed: new HeadFeed(),
    knownHospitals: hospitals,
    network: {requestRecord: async () => new Uint8Array()},
    signer: new NodeSigner({chainId: chain.genesis.chainId, key, nextNonce: (account) => getNextNonce(chain.state, account)}),
    submitTx: async (tx) => tx.hashHex(),
    nextNonce: (account) => getNextNonce(chain.state, account),
    signal: new AbortController().signal,
    ...over,
  }
}
