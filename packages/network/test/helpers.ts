import {
  proposerOf,
  Block,
  PrivateKey,
  Role,
  Transaction,
  TxType,
  decode,
  encode,
  encodeCommit,
  precommitSigningBytes,
  toHex,
  validatorsHashOf,
  verifyCommit,
  verifySignature,
  BlockError,
  BlockErrorCode,
  bytesEqual,
  type CommitCertificate,
} from "@careledger/core"
import {
  NetworkHost,
  type BlockWithCommit,
  type ChainStatus,
  type GossipTopic,
  type NetworkMetrics,
  type NetworkOptions,
  type ValidationResult,
} from "../src/index.js"

export const CHAIN_ID = "careledger-test"
const ZERO_HASH = new Uint8Array(32)

/** Polls `condition` every 25 ms until it holds; fails after `timeoutMs` (a bound, not a speed assertion). */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await condition()) return
    await sleep(25)
  }
  throw new Error(`timed out waiting for ${what}`)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A test "vote": [payload, signer, signature]; the consensus handler accepts only valid signatures by validators. */
export function signedConsensusMessage(key: PrivateKey, payload: Uint8Array): Uint8Array {
  return encode([payload, key.publicKey, key.sign(payload)])
}

export function makeTx(key: PrivateKey, nonce: number): Transaction {
  return Transaction.sign({chainId: CHAIN_ID, type: TxType.IdentityRegister, nonce, payload: {key: PrivateKey.generate().publicKey, role: Role.Patient}}, key)
}

/** A chain held in memory: blocks[h] and commits[h] for h = 0..height. */
export class MemoryChain {
  readonly blocks: Block[] = []
  readonly commits: Uint8Array[] = []
  constructor(readonly validators: readonly PrivateKey[]) {}

  get height(): number {
    return this.blocks.length - 1
  }

  status(): ChainStatus {
    const head = this.blocks[this.height]!
    return {headHeight: this.height, headHash: head.hash(), finalizedHeight: this.height, finalizedHash: head.hash()}
  }

  async *read(from: number, count: number): AsyncIterable<BlockWithCommit> {
    for (let h = from; h < from + count && h <= this.height; h++) yield {block: this.blocks[h]!.serialize(), commit: this.commits[h]!}
  }

  /** What the node does on import: the block extends our head and the certificate is a quorum of our validators. */
  async importBlock(block: Block, commit: CommitCertificate): Promise<void> {
    const parent = this.blocks[this.height]!
    if (block.height !== this.height + 1 || !bytesEqual(block.header.parentHash, parent.hash())) {
      throw new BlockError(BlockErrorCode.MALFORMED, `block ${block.height} does not extend ${this.height}`)
    }
    verifyCommit(CHAIN_ID, commit, {height: block.height, blockHash: block.hash()}, this.validators.map((v) => v.publicKey))
    this.blocks.push(block)
    this.commits.push(encodeCommit(commit))
  }

  /** A chain sharing only genesis, to sync into. */
  emptyCopy(): MemoryChain {
    const copy = new MemoryChain(this.validators)
    copy.blocks.push(this.blocks[0]!)
    copy.commits.push(this.commits[0]!)
    return copy
  }
}

/** Builds real blocks 0..height, each with a commit certificate signed by every validator. */
export function buildChain(validators: readonly PrivateKey[], height: number, forge?: {height: number; signers: readonly PrivateKey[]}): MemoryChain {
  const chain = new MemoryChain(validators)
  const validatorsHash = validatorsHashOf(validators.map((v) => v.publicKey))
  let lastCommit: CommitCertificate | null = null
  for (let h = 0; h <= height; h++) {
    const parent = chain.blocks[h - 1]
    const block = Block.create(
      {
        chainId: CHAIN_ID,
        height: h,
        round: 0,
        parentHash: parent === undefined ? ZERO_HASH : parent.hash(),
        timestamp: 1_700_000_000_000 + h * 1000,
        proposer: h === 0 ? new Uint8Array(32) : proposerOf(validators, h, 0).publicKey,
        stateRoot: ZERO_HASH,
        validatorsHash,
        lastCommit: h <= 1 ? null : lastCommit,
      },
      [],
    )
    const signers = forge !== undefined && forge.height === h ? forge.signers : validators
    const message = precommitSigningBytes(CHAIN_ID, h, 0, block.hash())
    const cert: CommitCertificate = {
      height: h,
      round: 0,
      blockHash: block.hash(),
      signatures: signers.map((key) => ({validator: key.publicKey, signature: key.sign(message)})),
    }
    chain.blocks.push(block)
    chain.commits.push(encodeCommit(cert))
    lastCommit = cert
  }
  return chain
}

/** A node under test: a real host plus what its handlers observed. */
export interface TestNode {
  key: PrivateKey
  host: NetworkHost
  chain: MemoryChain
  txs: string[]
  consensus: Uint8Array[]
  address(): string
}

export interface NodeSetup {
  key: PrivateKey
  members: readonly PrivateKey[]
  chain: MemoryChain
  options?: Partial<NetworkOptions>
  recordHandler?: (request: Uint8Array, from: string) => Promise<Uint8Array>
  metrics?: NetworkMetrics
}

/** Counts what the metrics hooks report, as the node's Prometheus counters would. */
export class CountingMetrics implements NetworkMetrics {
  peers = 0
  readonly gossip = new Map<string, number>()
  readonly out = new Map<GossipTopic, number>()
  synced = 0
  peerCount(count: number): void {
    this.peers = count
  }
  gossipIn(topic: GossipTopic, result: ValidationResult): void {
    const key = `${topic}:${result}`
    this.gossip.set(key, (this.gossip.get(key) ?? 0) + 1)
  }
  gossipOut(topic: GossipTopic, messages: number): void {
    this.out.set(topic, (this.out.get(topic) ?? 0) + messages)
  }
  syncBlocks(count: number): void {
    this.synced += count
  }
}

export function createNode(setup: NodeSetup): TestNode {
  const txs: string[] = []
  const consensus: Uint8Array[] = []
  const memberKeys = setup.members.map((m) => m.publicKey)
  const host = new NetworkHost(
    {
      chainId: CHAIN_ID,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      members: setup.members.map((m) => m.id),
      redialBaseMs: 100,
      redialMaxMs: 1000,
      heartbeatMs: 200,
      requestTimeoutMs: 5000,
      ...setup.options,
    },
    {
      privateKey: setup.key,
      getStatus: () => setup.chain.status(),
      readBlocks: (from, count) => setup.chain.read(from, count),
      recordHandler: setup.recordHandler,
      metrics: setup.metrics,
      gossipHandlers: {
        tx: async (batch) => {
          for (const tx of batch) txs.push(toHex(tx.hash()))
          return "accept"
        },
        consensus: async (data): Promise<ValidationResult> => {
          let raw: unknown
          try {
            raw = decode(data)
          } catch {
            return "reject"
          }
          if (!Array.isArray(raw) || raw.length !== 3) return "reject"
          const [payload, signer, signature] = raw as [unknown, unknown, unknown]
          if (!(payload instanceof Uint8Array) || !(signer instanceof Uint8Array) || !(signature instanceof Uint8Array)) return "reject"
          if (!memberKeys.some((k) => bytesEqual(k, signer)) || !verifySignature(signer, payload, signature)) return "reject"
          consensus.push(payload)
          return "accept"
        },
      },
    },
  )
  return {key: setup.key, host, chain: setup.chain, txs, consensus, address: () => host.addresses()[0]!}
}

export async function stopAll(nodes: readonly TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.host.stop()))
}
