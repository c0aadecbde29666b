/**
 * The deterministic consensus simulator: the real ConsensusMachine, core's block assembly, header
 * checks, certificate check and validator-vote tally, under a seeded, faulty virtual network with
 * a stand-in state (the state root is a hash chain of tx roots); one file because the event loop,
 * the fault injection and the invariants it checks share one virtual clock and node table.
 */
import {
  AccessDecisionKind,
  Block,
  ConsensusMachine,
  PrivateKey,
  Purpose,
  Transaction,
  TxType,
  assembleNextBlock,
  bytesEqual,
  checkNextHeader,
  nextTimestamp,
  sha256,
  signProposal,
  signVote,
  signerOf,
  tallyValidatorVote,
  toHex,
  txRootOf,
  utf8,
  verifyCommit,
  verifySignature,
  VoteKind,
  type CommitCertificate,
  type ConsensusAction,
  type ConsensusMessage,
  type ConsensusRecord,
  type ParentView,
  type Proposal,
  type Timeout,
} from "../../src/index.js"
import {Prng} from "./prng.js"
import {EventQueue} from "./queue.js"

/** Which faults a run injects during its fault phase. */
export interface FaultMix {
  /** Probability that one delivery is lost. */
  dropRate: number
  /** Probability that one delivery arrives twice. */
  duplicateRate: number
  /** Deliveries take 1..maxDelayMs (random delays also reorder). */
  maxDelayMs: number
  partitions: boolean
  crashes: boolean
  /** One validator signs two different proposals and conflicting votes (only when n >= 4). */
  byzantine: boolean
  validatorChange: "none" | "add" | "remove" | "add-remove"
  emptyBlocks: boolean
}

export interface SimConfig {
  seed: number
  /** Initial validator count (4..10). */
  validators: number
  /** Length of the fault phase in virtual ms; afterwards the network is healed and every node is up. */
  faultMs: number
  /** Length of the stable phase: liveness must show within it. */
  stableMs: number
  blockIntervalMs: number
  roundTimeoutMs: number
  mix: FaultMix
  /** Nodes that are down for the whole run (for throughput figures). */
  downNodes: number[]
  /** Mean time between client transactions (ms). */
  txEveryMs: number
  /** Keep each machine's final state in the stats (for --seed investigations). */
  trace?: boolean
}

export interface SimStats {
  /** Finalized height of each node at the end. */
  heights: number[]
  messagesSent: number
  messagesDropped: number
  evidence: number
  crashes: number
  partitions: number
  validatorChanges: number
  finalizedTxs: number
  /** Time from each partition heal until every honest, running node finalized past the height seen at the heal. */
  recoveryMs: number[]
  /** Consensus messages sent in the last 3 s of the run (0 on a quiet idle chain). */
  tailMessages: number
  /** Highest round any honest validator reached. */
  maxRound: number
  /** Height finalized by all honest nodes when the stable phase began, and at the end. */
  stableStartHeight: number
  endHeight: number
  /** With config.trace: each node's chain length and machine state at the end. */
  finalStates?: string[]
}

export interface SimResult {
  config: SimConfig
  violations: string[]
  stats: SimStats
}

const CHAIN_ID = "careledger-sim"
const MAX_BLOCK_TXS_SIM = 16
const SYNC_BATCH = 16
const SYNC_RATE_LIMIT_MS = 250
const STABLE_MAX_DELAY_MS = 20
const LIVENESS_MIN_PROGRESS = 2
const MAX_EVENTS = 2_000_000

/** The fault mix a seed runs: every seed gets a different blend, so 1,000 seeds cover them all. */
export function mixForSeed(seed: number): FaultMix {
  const rng = new Prng(seed ^ 0x5eed)
  const changes: FaultMix["validatorChange"][] = ["none", "none", "add", "remove", "add-remove"]
  return {
    dropRate: rng.pick([0, 0.02, 0.05, 0.1, 0.2]),
    duplicateRate: rng.pick([0, 0.02, 0.1]),
    maxDelayMs: rng.pick([10, 50, 200, 800]),
    partitions: rng.chance(0.5),
    crashes: rng.chance(0.5),
    byzantine: rng.chance(0.6),
    validatorChange: rng.pick(changes),
    emptyBlocks: rng.chance(0.75),
  }
}

export function configForSeed(seed: number, overrides: Partial<SimConfig> = {}): SimConfig {
  const rng = new Prng(seed ^ 0xc0f1)
  return {
    seed,
    validators: overrides.validators ?? rng.int(4, 7),
    faultMs: 8_000,
    stableMs: 10_000,
    blockIntervalMs: 1000,
    roundTimeoutMs: 500,
    mix: mixForSeed(seed),
    downNodes: [],
    txEveryMs: 400,
    ...overrides,
  }
}

// ---- deterministic keys and transactions, shared by every run of the process ----

const keyCache: PrivateKey[] = []
function simKey(index: number): PrivateKey {
  while (keyCache.length <= index) keyCache.push(PrivateKey.fromSeed(sha256(utf8(`careledger-sim-validator-${keyCache.length}`))))
  return keyCache[index]!
}

const clientKey = PrivateKey.fromSeed(sha256(utf8("careledger-sim-client")))
const clientTxs: Transaction[] = []
function clientTx(index: number): Transaction {
  while (clientTxs.length <= index) {
    const n = clientTxs.length
    clientTxs.push(
      Transaction.sign(
        {
          chainId: CHAIN_ID,
          type: TxType.AccessLog,
          nonce: n,
          payload: {
            recordId: `rec-${n}`,
            reader: clientKey.publicKey,
            purpose: Purpose.Treatment,
            decision: AccessDecisionKind.Release,
            reason: "consent",
            consentId: null,
            height: 0,
            at: n,
            via: "hosp-a",
            breakGlassReason: null,
          },
        },
        clientKey,
      ),
    )
  }
  return clientTxs[index]!
}

const voteTxCache = new Map<string, Transaction>()
function validatorVoteTx(voter: number, action: "add" | "remove", target: number, nonce: number): Transaction {
  const id = `${voter}/${action}/${target}/${nonce}`
  let tx = voteTxCache.get(id)
  if (tx === undefined) {
    tx = Transaction.sign(
      {
        chainId: CHAIN_ID,
        type: TxType.ValidatorVote,
        nonce,
        payload: {action, hospital: `hosp-${target}`, key: simKey(target).publicKey, name: action === "add" ? `Hospital ${target}` : ""},
      },
      simKey(voter),
    )
    voteTxCache.set(id, tx)
  }
  return tx
}

// Verification results are remembered per object: in the sim every node receives the same objects,
// as a real node would verify each gossip message once.
const verifiedTxs = new WeakSet<Transaction>()
const verifiedSignatures = new Set<string>()
const MAX_REMEMBERED_SIGNATURES = 200_000

/** Nodes assemble different subsets of the same precommits; re-verifying them all would dominate the run time. */
function rememberingVerifier(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const id = `${toHex(sha256(message))}/${toHex(publicKey)}/${toHex(signature)}`
  if (verifiedSignatures.has(id)) return true
  if (!verifySignature(publicKey, message, signature)) return false
  if (verifiedSignatures.size > MAX_REMEMBERED_SIGNATURES) verifiedSignatures.clear()
  verifiedSignatures.add(id)
  return true
}

// ---- the simulated nodes ----

interface SimNode {
  index: number
  key: PrivateKey
  hex: string
  byzantine: boolean
  up: boolean
  incarnation: number
  machine: ConsensusMachine | null
  // Durable: survives a crash.
  chain: Block[]
  certs: CommitCertificate[]
  /** validatorsAt[h] is the set that decides height h. */
  validatorsAt: Uint8Array[][]
  stateRoots: Uint8Array[]
  finalizedTxs: Set<string>
  /** Voters of each pending validator-set proposal (`action/key`). */
  tallies: Map<string, string[]>
  records: ConsensusRecord[]
  // Volatile.
  pool: Map<string, Transaction>
  crashAfterActions: number | null
  lastSync: Map<string, number>
}

type SimEvent =
  | {kind: "deliver"; to: number; message: ConsensusMessage}
  | {kind: "timeout"; node: number; incarnation: number; timeout: Timeout}
  | {kind: "build"; node: number; incarnation: number; height: number; round: number}
  | {kind: "validated"; node: number; incarnation: number; block: Block}
  | {kind: "applied"; node: number; incarnation: number}
  | {kind: "tx"; to: number; tx: Transaction}
  | {kind: "submit"; tx: Transaction}
  | {kind: "sync-request"; to: number; from: number; height: number}
  | {kind: "sync-response"; to: number; blocks: {block: Block; certificate: CommitCertificate}[]}
  | {kind: "crash"; node: number}
  | {kind: "restart"; node: number}
  | {kind: "partition"; groups: number[]}
  | {kind: "heal"}
  | {kind: "stabilize"}
  | {kind: "validator-change"; action: "add" | "remove"; target: number}

export function runSimulation(config: SimConfig): SimResult {
  return new Simulation(config).run()
}

class Simulation {
  private readonly rng: Prng
  private readonly queue = new EventQueue<SimEvent>()
  private readonly nodes: SimNode[] = []
  private readonly byIndex = new Map<string, number>()
  private readonly violations: string[] = []
  private readonly finalized = new Map<number, string>()
  private readonly signed = new Map<string, string>()
  private readonly twins = new Map<string, Block>()
  private readonly twinVotes = new Map<string, ConsensusMessage>()
  private now = 0
  private stable = false
  private partition: number[] | null = null
  private byzantine = -1
  private byzGroup = new Set<number>()
  private byzBoth = -1
  private readonly attacked = new Set<string>()
  private nextClientTx = 0
  private voteNonces = new Map<number, number>()
  private pendingRecoveries: {at: number; target: number}[] = []
  private readonly genesisHash = sha256(utf8(`${CHAIN_ID}/genesis`))
  private readonly stats: SimStats = {
    heights: [],
    messagesSent: 0,
    messagesDropped: 0,
    evidence: 0,
    crashes: 0,
    partitions: 0,
    validatorChanges: 0,
    finalizedTxs: 0,
    recoveryMs: [],
    tailMessages: 0,
    maxRound: 0,
    stableStartHeight: 0,
    endHeight: 0,
  }

  constructor(private readonly config: SimConfig) {
    this.rng = new Prng(config.seed)
  }

  run(): SimResult {
    const {config} = this
    const n = config.validators
    const mix = config.mix
    const withExtra = mix.validatorChange === "add" || mix.validatorChange === "add-remove"
    const total = withExtra ? n + 1 : n
    if (mix.byzantine && n >= 4) this.byzantine = this.rng.int(0, n - 1)
    const genesisSet = Array.from({length: n}, (_, i) => simKey(i).publicKey)
    for (let i = 0; i < total; i++) {
      const key = simKey(i)
      const node: SimNode = {
        index: i,
        key,
        hex: toHex(key.publicKey),
        byzantine: i === this.byzantine,
        up: false,
        incarnation: 0,
        machine: null,
        chain: [],
        certs: [],
        validatorsAt: [genesisSet, genesisSet],
        stateRoots: [sha256(utf8("genesis-state"))],
        finalizedTxs: new Set(),
        tallies: new Map(),
        records: [],
        pool: new Map(),
        crashAfterActions: null,
        lastSync: new Map(),
      }
      this.nodes.push(node)
      this.byIndex.set(node.hex, i)
    }
    for (let i = 0; i < total; i++) if (i !== this.byzantine && this.rng.chance(0.5)) this.byzGroup.add(i)
    // One honest node receives both versions of everything the equivocator signs, so evidence shows up.
    if (this.byzantine >= 0) this.byzBoth = (this.byzantine + 1 + this.rng.int(0, total - 2)) % total
    for (const node of this.nodes) if (!config.downNodes.includes(node.index)) this.startNode(node)
    this.planFaults(total)
    this.planTxs()
    const end = config.faultMs + config.stableMs
    this.queue.push(config.faultMs, {kind: "stabilize"})
    // Bounded: a broken protocol must fail a seed, not hang the suite. The first violation ends the run.
    for (let events = 0; ; events++) {
      if (events >= MAX_EVENTS) {
        this.violations.push(`event budget of ${MAX_EVENTS} exhausted at ${this.now} ms (a message storm)`)
        break
      }
      const next = this.queue.pop()
      if (next === undefined || next.time > end || this.violations.length > 0) break
      this.now = next.time
      this.handle(next.item)
    }
    this.now = end
    this.finish()
    return {config, violations: this.violations, stats: this.stats}
  }

  // ---- planning ----

  private planFaults(total: number): void {
    const {config, rng} = this
    const mix = config.mix
    const faultMs = config.faultMs
    if (mix.partitions) {
      let t = rng.int(500, 3000)
      while (t < faultMs - 1000) {
        const groups = Array.from({length: total}, () => rng.int(0, 1))
        this.queue.push(t, {kind: "partition", groups})
        const healAt = Math.min(t + rng.int(500, 5000), faultMs)
        this.queue.push(healAt, {kind: "heal"})
        t = healAt + rng.int(1000, 4000)
      }
    }
    if (mix.crashes) {
      const crashes = rng.int(1, 3)
      for (let i = 0; i < crashes; i++) {
        const node = rng.int(0, total - 1)
        if (node === this.byzantine || config.downNodes.includes(node)) continue
        const at = rng.int(200, faultMs - 500)
        this.queue.push(at, {kind: "crash", node})
        this.queue.push(Math.min(at + rng.int(300, 5000), faultMs), {kind: "restart", node})
      }
    }
    const n = config.validators
    if (mix.validatorChange === "add" || mix.validatorChange === "add-remove") {
      this.queue.push(rng.int(1000, faultMs / 2), {kind: "validator-change", action: "add", target: n})
    }
    if (mix.validatorChange === "remove" || mix.validatorChange === "add-remove") {
      // The target is chosen when the votes are cast (see submitValidatorVotes): -1 means "an honest one if safe".
      this.queue.push(rng.int(faultMs / 2, faultMs - 1000), {kind: "validator-change", action: "remove", target: -1})
    }
  }

  private planTxs(): void {
    const {config, rng} = this
    const end = config.faultMs + config.stableMs
    // With emptyBlocks=false the tail of the run is idle, so the chain must fall quiet there.
    const lastTx = config.mix.emptyBlocks ? end : end - 4000
    for (let t = rng.int(0, config.txEveryMs); t < lastTx; t += rng.int(1, 2 * config.txEveryMs)) {
      this.queue.push(t, {kind: "submit", tx: clientTx(this.nextClientTx++)})
    }
  }

  // ---- events ----

  private handle(event: SimEvent): void {
    switch (event.kind) {
      case "deliver": {
        const node = this.nodes[event.to]!
        if (node.up && node.machine !== null) {
          this.execute(node, this.guard(() => node.machine!.onMessage(event.message)))
          if (node.byzantine && event.message.type === "proposal") this.amnesiaAttack(node, event.message)
        }
        break
      }
      case "timeout": {
        const node = this.nodes[event.node]!
        if (this.alive(node, event.incarnation)) this.execute(node, node.machine!.onTimeout(event.timeout))
        break
      }
      case "build": {
        const node = this.nodes[event.node]!
        if (!this.alive(node, event.incarnation)) break
        const status = node.machine!.status
        if (status.height !== event.height || status.round !== event.round) break
        this.execute(node, node.machine!.onProposalBuilt(this.buildBlock(node, event.height, event.round)))
        break
      }
      case "validated": {
        const node = this.nodes[event.node]!
        if (!this.alive(node, event.incarnation)) break
        const ok = this.validateBlock(node, event.block) === null
        this.execute(node, node.machine!.onBlockValidated(event.block.hash(), ok))
        break
      }
      case "applied": {
        const node = this.nodes[event.node]!
        if (!this.alive(node, event.incarnation)) break
        const height = node.chain.length
        if (node.machine!.status.height !== height || node.machine!.status.step !== "committed") break
        this.execute(node, node.machine!.onCommitApplied(node.validatorsAt[height + 1]!))
        if (node.pool.size > 0) this.execute(node, node.machine!.onTxsAvailable())
        break
      }
      case "tx": {
        const node = this.nodes[event.to]!
        if (!node.up || node.finalizedTxs.has(event.tx.hashHex()) || node.pool.has(event.tx.hashHex())) break
        node.pool.set(event.tx.hashHex(), event.tx)
        if (node.machine !== null) this.execute(node, node.machine.onTxsAvailable())
        break
      }
      case "submit": {
        const up = this.nodes.filter((n) => n.up)
        if (up.length === 0) break
        const entry = this.rng.pick(up)
        this.handle({kind: "tx", to: entry.index, tx: event.tx})
        for (const other of this.nodes) if (other !== entry) this.send(entry.index, other.index, {kind: "tx", to: other.index, tx: event.tx})
        break
      }
      case "sync-request": {
        const node = this.nodes[event.to]!
        if (node.up) this.pushBlocks(node, event.from, event.height)
        break
      }
      case "sync-response":
        this.applySync(this.nodes[event.to]!, event.blocks)
        break
      case "crash":
        this.crash(this.nodes[event.node]!, this.rng.chance(0.5) ? null : this.rng.int(0, 3))
        break
      case "restart": {
        const node = this.nodes[event.node]!
        if (!node.up) this.startNode(node)
        break
      }
      case "partition":
        if (!this.stable) {
          this.partition = event.groups
          this.stats.partitions++
        }
        break
      case "heal":
        if (this.partition !== null) {
          this.partition = null
          this.pendingRecoveries.push({at: this.now, target: this.maxHonestHeight() + 1})
        }
        break
      case "stabilize":
        this.stabilize()
        break
      case "validator-change":
        this.submitValidatorVotes(event.action, event.target)
        break
    }
  }

  private stabilize(): void {
    this.stable = true
    if (this.partition !== null) {
      this.partition = null
      this.pendingRecoveries.push({at: this.now, target: this.maxHonestHeight() + 1})
    }
    // A crash planned for the middle of a node's next action list is a fault too: it is called off.
    // (Left armed, it would cut that list short while the node stays up, losing its timers for good.)
    for (const node of this.nodes) node.crashAfterActions = null
    for (const node of this.nodes) if (!node.up && !this.config.downNodes.includes(node.index)) this.startNode(node)
    this.stats.stableStartHeight = this.maxHonestHeight()
  }

  private alive(node: SimNode, incarnation: number): boolean {
    return node.up && node.machine !== null && node.incarnation === incarnation
  }

  private guard(fn: () => ConsensusAction[]): ConsensusAction[] {
    try {
      return fn()
    } catch (err) {
      this.violations.push(`machine rejected a message at ${this.now}: ${(err as Error).message}`)
      return []
    }
  }

  // ---- node lifecycle ----

  private startNode(node: SimNode): void {
    node.up = true
    node.incarnation++
    const height = node.chain.length + 1
    node.machine = new ConsensusMachine(
      {
        blockIntervalMs: this.config.blockIntervalMs,
        roundTimeoutMs: this.config.roundTimeoutMs,
        emptyBlocks: this.config.mix.emptyBlocks,
      },
      {snapshot: {chainId: CHAIN_ID, height, validators: node.validatorsAt[height]!, records: node.records}, key: node.key},
    )
    this.execute(node, node.machine.start())
  }

  /** Crashes now, or after `afterActions` actions of the node's next action list (a crash mid-way). */
  private crash(node: SimNode, afterActions: number | null): void {
    if (!node.up || this.stable) return
    if (afterActions !== null) {
      node.crashAfterActions = afterActions
      return
    }
    node.up = false
    node.machine = null
    node.pool.clear()
    node.crashAfterActions = null
    this.stats.crashes++
  }

  // ---- carrying out actions ----

  private execute(node: SimNode, actions: ConsensusAction[]): void {
    for (const action of actions) {
      if (!node.up || node.machine === null) return
      if (node.crashAfterActions !== null) {
        if (node.crashAfterActions === 0) {
          node.crashAfterActions = null
          this.crash(node, null)
          return
        }
        node.crashAfterActions--
      }
      const incarnation = node.incarnation
      switch (action.type) {
        case "broadcast":
          this.broadcast(node, action.message)
          break
        case "persist":
          node.records.push(action.record)
          break
        case "schedule-timeout":
          this.queue.push(this.now + action.delayMs, {
            kind: "timeout",
            node: node.index,
            incarnation,
            timeout: {height: action.height, round: action.round, step: action.step},
          })
          break
        case "build-proposal":
          this.queue.push(this.now + 1, {kind: "build", node: node.index, incarnation, height: action.height, round: action.round})
          break
        case "validate-block":
          this.queue.push(this.now + this.rng.int(1, 3), {kind: "validated", node: node.index, incarnation, block: action.block})
          break
        case "commit":
          this.store(node, action.block, action.certificate)
          this.queue.push(this.now + 1, {kind: "applied", node: node.index, incarnation})
          break
        case "evidence":
          this.stats.evidence++
          if (this.byIndex.get(toHex(action.evidence.validator)) !== this.byzantine) {
            this.violations.push(`evidence against honest validator ${this.byIndex.get(toHex(action.evidence.validator))}`)
          }
          break
        case "request-sync": {
          const peer = this.byIndex.get(toHex(action.peer))
          if (peer !== undefined && this.rateOk(node, "request")) {
            this.send(node.index, peer, {kind: "sync-request", to: peer, from: node.index, height: action.height})
          }
          break
        }
        case "peer-behind": {
          const peer = this.byIndex.get(toHex(action.peer))
          if (peer !== undefined && this.rateOk(node, `push/${peer}`)) this.pushBlocks(node, peer, action.height)
          break
        }
      }
    }
  }

  private rateOk(node: SimNode, what: string): boolean {
    const last = node.lastSync.get(what)
    if (last !== undefined && this.now - last < SYNC_RATE_LIMIT_MS) return false
    node.lastSync.set(what, this.now)
    return true
  }

  private broadcast(node: SimNode, message: ConsensusMessage): void {
    this.recordSigned(message)
    const round = message.round
    if (!node.byzantine && round > this.stats.maxRound) this.stats.maxRound = round
    let twin: ConsensusMessage | null = null
    if (node.byzantine) twin = this.equivocate(node, message)
    for (const other of this.nodes) {
      if (other === node) continue
      const copy = twin !== null && this.byzGroup.has(other.index) ? twin : message
      this.send(node.index, other.index, {kind: "deliver", to: other.index, message: copy})
      if (twin !== null && other.index === this.byzBoth) this.send(node.index, other.index, {kind: "deliver", to: other.index, message: twin})
    }
    if (this.now >= this.config.faultMs + this.config.stableMs - 3000) this.stats.tailMessages++
  }

  /** The faulty validator signs a conflicting twin of each proposal and non-nil vote it sends. */
  private equivocate(node: SimNode, message: ConsensusMessage): ConsensusMessage | null {
    const id = toHex(message.signature)
    const cached = this.twinVotes.get(id)
    if (cached !== undefined) return cached
    let twin: ConsensusMessage | null = null
    if (message.type === "proposal") {
      const {txRoot: _txRoot, ...header} = message.block.header
      const block = Block.create({...header, timestamp: header.timestamp + 1}, message.block.txs)
      this.twins.set(message.block.hashHex(), block)
      twin = signProposal({chainId: CHAIN_ID, height: message.height, round: message.round, validRound: message.validRound, block}, node.key)
    } else if (message.blockHash !== null) {
      const other = this.twins.get(toHex(message.blockHash))
      twin = signVote(
        {kind: message.kind, chainId: CHAIN_ID, height: message.height, round: message.round, blockHash: other === undefined ? null : other.hash()},
        node.key,
      )
    }
    if (twin !== null) this.twinVotes.set(id, twin)
    return twin
  }

  /**
   * The equivocator also prevotes and precommits every proposal it sees, ignoring any lock, to a random
   * part of the network: the attack that breaks protocols without locking.
   */
  private amnesiaAttack(node: SimNode, proposal: Proposal): void {
    const id = `${proposal.height}/${proposal.round}/${proposal.block.hashHex()}`
    if (this.attacked.has(id)) return
    this.attacked.add(id)
    for (const kind of [VoteKind.Prevote, VoteKind.Precommit]) {
      const vote = signVote({kind, chainId: CHAIN_ID, height: proposal.height, round: proposal.round, blockHash: proposal.block.hash()}, node.key)
      for (const other of this.nodes) {
        if (other !== node && this.rng.chance(0.5)) this.send(node.index, other.index, {kind: "deliver", to: other.index, message: vote})
      }
    }
  }

  /** Persistence invariant: an honest validator never signs two different things for one (height, round, kind). */
  private recordSigned(message: ConsensusMessage): void {
    const signer = this.byIndex.get(toHex(signerOf(message)))
    if (signer === undefined || signer === this.byzantine) return
    const kind = message.type === "proposal" ? "proposal" : message.kind
    const id = `${signer}/${message.height}/${message.round}/${kind}`
    const what = message.type === "proposal" ? message.block.hashHex() : message.blockHash === null ? "nil" : toHex(message.blockHash)
    const before = this.signed.get(id)
    if (before === undefined) this.signed.set(id, what)
    else if (before !== what) this.violations.push(`persistence: node ${signer} signed two ${kind}s at height ${message.height} round ${message.round}`)
  }

  private send(from: number, to: number, event: SimEvent): void {
    const {rng} = this
    const mix = this.config.mix
    this.stats.messagesSent++
    if (this.partition !== null && this.partition[from] !== this.partition[to]) {
      this.stats.messagesDropped++
      return
    }
    if (!this.nodes[to]!.up) {
      this.stats.messagesDropped++
      return
    }
    const dropRate = this.stable ? 0 : mix.dropRate
    if (rng.chance(dropRate)) {
      this.stats.messagesDropped++
      return
    }
    const maxDelay = this.stable ? STABLE_MAX_DELAY_MS : mix.maxDelayMs
    this.queue.push(this.now + rng.int(1, maxDelay), event)
    if (!this.stable && rng.chance(mix.duplicateRate)) this.queue.push(this.now + rng.int(1, maxDelay), event)
  }

  // ---- the in-memory host: building, validating, storing, syncing ----

  /** The tip of this node's chain as the parent of its next block. */
  private parentView(node: SimNode): ParentView {
    const height = node.chain.length
    const parent = node.chain[height - 1]
    return {
      chainId: CHAIN_ID,
      height,
      hash: parent === undefined ? this.genesisHash : parent.hash(),
      timestamp: parent?.header.timestamp ?? 0,
      validators: node.validatorsAt[height + 1]!,
      parentValidators: node.validatorsAt[height]!,
    }
  }

  private buildBlock(node: SimNode, height: number, round: number): Block {
    const parent = this.parentView(node)
    const txs: Transaction[] = []
    for (const tx of node.pool.values()) {
      if (txs.length >= MAX_BLOCK_TXS_SIM) break
      if (!node.finalizedTxs.has(tx.hashHex())) txs.push(tx)
    }
    return assembleNextBlock(
      parent,
      {
        round,
        proposer: node.key.publicKey,
        timestamp: nextTimestamp(parent, this.now),
        // The stand-in state: the root chains the parent's root with the block's tx root.
        stateRoot: sha256(node.stateRoots[height - 1]!, txRootOf(txs)),
        lastCommit: height === 1 ? null : node.certs[height - 2]!,
      },
      txs,
    )
  }

  /** Returns why `block` is not a valid next block for this node's chain, or null when it is. */
  private validateBlock(node: SimNode, block: Block): string | null {
    const h = block.header
    try {
      checkNextHeader(block, this.parentView(node), {verifySignature: rememberingVerifier})
    } catch (err) {
      return (err as Error).message
    }
    if (!bytesEqual(h.stateRoot, sha256(node.stateRoots[h.height - 1]!, h.txRoot))) return "wrong state root"
    if (block.txs.length > MAX_BLOCK_TXS_SIM) return "too many txs"
    const seen = new Set<string>()
    for (const tx of block.txs) {
      const id = tx.hashHex()
      if (seen.has(id) || node.finalizedTxs.has(id)) return `duplicate tx ${id}`
      seen.add(id)
      if (tx.chainId !== CHAIN_ID) return "tx for another chain"
      if (!verifiedTxs.has(tx)) {
        if (!tx.verifySignature()) return "bad tx signature"
        verifiedTxs.add(tx)
      }
    }
    return null
  }

  /** Core's verifyCommit, with each verified signature remembered (see rememberingVerifier). */
  private checkCertificate(cert: CommitCertificate, height: number, blockHash: Uint8Array, validators: Uint8Array[]): string | null {
    try {
      verifyCommit(CHAIN_ID, cert, {height, blockHash}, validators, {verifySignature: rememberingVerifier})
      return null
    } catch (err) {
      return (err as Error).message
    }
  }

  /** Durable store of a finalized block, with the agreement and validity checks. */
  private store(node: SimNode, block: Block, certificate: CommitCertificate): void {
    const height = block.height
    if (height !== node.chain.length + 1) {
      this.violations.push(`node ${node.index} committed height ${height} on a chain of ${node.chain.length}`)
      return
    }
    const invalid = this.validateBlock(node, block)
    if (invalid !== null) this.violations.push(`validity: node ${node.index} finalized an invalid block at ${height}: ${invalid}`)
    const certError = this.checkCertificate(certificate, height, block.hash(), node.validatorsAt[height]!)
    if (certError !== null) this.violations.push(`validity: bad certificate at ${height}: ${certError}`)
    const first = this.finalized.get(height)
    if (first === undefined) this.finalized.set(height, block.hashHex())
    else if (first !== block.hashHex()) this.violations.push(`agreement: node ${node.index} finalized another block at height ${height}`)
    node.chain.push(block)
    node.certs.push(certificate)
    node.stateRoots.push(block.header.stateRoot)
    for (const tx of block.txs) {
      node.finalizedTxs.add(tx.hashHex())
      node.pool.delete(tx.hashHex())
    }
    node.validatorsAt[height + 1] = this.applyValidatorVotes(node, block, node.validatorsAt[height]!)
    node.records = node.records.filter((r) => (r.type === "proposal" ? r.proposal.height : r.type === "vote" ? r.vote.height : r.height) > height)
    this.checkRecoveries()
  }

  /** A validator.vote passes when more than half of the current set voted the same change (core's tally); it applies at the next height. */
  private applyValidatorVotes(node: SimNode, block: Block, current: Uint8Array[]): Uint8Array[] {
    let next = current
    const members = current.map(toHex)
    for (const tx of block.txs) {
      if (tx.type !== TxType.ValidatorVote || !members.includes(tx.senderId)) continue
      const payload = tx.payload as {action: "add" | "remove"; key: Uint8Array}
      const id = `${payload.action}/${toHex(payload.key)}`
      const {voters, passes} = tallyValidatorVote(node.tallies.get(id) ?? [], members, tx.senderId)
      if (!passes) {
        node.tallies.set(id, voters)
        continue
      }
      node.tallies.delete(id)
      const target = toHex(payload.key)
      if (payload.action === "add" && !next.some((v) => toHex(v) === target)) next = [...next, payload.key]
      if (payload.action === "remove" && next.length > 1) next = next.filter((v) => toHex(v) !== target)
      if (node.index === 0) this.stats.validatorChanges++
    }
    return next
  }

  private pushBlocks(node: SimNode, to: number, fromHeight: number): void {
    const blocks: {block: Block; certificate: CommitCertificate}[] = []
    for (let h = Math.max(fromHeight, 1); h <= node.chain.length && blocks.length < SYNC_BATCH; h++) {
      blocks.push({block: node.chain[h - 1]!, certificate: node.certs[h - 1]!})
    }
    if (blocks.length > 0) this.send(node.index, to, {kind: "sync-response", to, blocks})
  }

  private applySync(node: SimNode, blocks: {block: Block; certificate: CommitCertificate}[]): void {
    for (const {block, certificate} of blocks) {
      if (!node.up || node.machine === null) return
      const status = node.machine.status
      if (block.height !== node.chain.length + 1 || status.height !== block.height || status.step === "committed") continue
      if (this.validateBlock(node, block) !== null) return
      const certError = this.checkCertificate(certificate, block.height, block.hash(), node.validatorsAt[block.height]!)
      if (certError !== null) return
      this.store(node, block, certificate)
      const actions = this.guard(() => node.machine!.onFinalizedElsewhere(block, certificate, node.validatorsAt[block.height + 1]!))
      this.execute(node, actions)
      if (node.up && node.machine !== null && node.pool.size > 0) this.execute(node, node.machine.onTxsAvailable())
    }
  }

  private submitValidatorVotes(action: "add" | "remove", requested: number): void {
    const reference = this.nodes.reduce((best, n) => (n.chain.length > best.chain.length ? n : best), this.nodes[0]!)
    const current = reference.validatorsAt[reference.chain.length + 1]!
    let target = requested
    if (action === "remove" && target < 0) {
      const members = current.map((key) => this.byIndex.get(toHex(key))!)
      const honest = members.filter((i) => i !== this.byzantine)
      const byzantineIn = members.includes(this.byzantine)
      // Removing an honest hospital must leave the equivocator under a third of the new set.
      if (!byzantineIn || 3 < current.length - 1) target = this.rng.pick(honest)
      else target = this.byzantine
    }
    for (const key of current) {
      const voter = this.byIndex.get(toHex(key))!
      if (voter === this.byzantine && action === "remove" && target === this.byzantine) continue
      const nonce = this.voteNonces.get(voter) ?? 0
      this.voteNonces.set(voter, nonce + 1)
      this.queue.push(this.now + this.rng.int(0, 200), {kind: "submit", tx: validatorVoteTx(voter, action, target, nonce)})
    }
  }

  // ---- measurements and end-of-run checks ----

  private honestNodes(): SimNode[] {
    return this.nodes.filter((n) => !n.byzantine && !this.config.downNodes.includes(n.index))
  }

  private maxHonestHeight(): number {
    return Math.max(0, ...this.honestNodes().map((n) => n.chain.length))
  }

  private checkRecoveries(): void {
    if (this.pendingRecoveries.length === 0) return
    const running = this.honestNodes().filter((n) => n.up)
    const low = Math.min(...running.map((n) => n.chain.length))
    this.pendingRecoveries = this.pendingRecoveries.filter((r) => {
      if (low < r.target) return true
      this.stats.recoveryMs.push(this.now - r.at)
      return false
    })
  }

  private finish(): void {
    if (this.config.trace) {
      this.stats.finalStates = this.nodes.map(
        (n) => `node ${n.index}${n.byzantine ? " (equivocator)" : ""}${n.up ? "" : " (down)"} chain=${n.chain.length} pool=${n.pool.size} ${n.machine?.debugState() ?? ""}`,
      )
    }
    if (this.violations.length > 0) {
      this.stats.heights = this.nodes.map((n) => n.chain.length)
      return
    }
    const honest = this.honestNodes()
    this.stats.heights = this.nodes.map((n) => n.chain.length)
    this.stats.endHeight = Math.min(...honest.map((n) => n.chain.length))
    this.stats.finalizedTxs = Math.max(0, ...honest.map((n) => n.finalizedTxs.size))
    const needed = this.stats.stableStartHeight + LIVENESS_MIN_PROGRESS
    for (const node of honest) {
      if (node.chain.length < needed) {
        this.violations.push(
          `liveness: node ${node.index} reached height ${node.chain.length}, needed ${needed} within ${this.config.stableMs} ms of stabilisation`,
        )
      }
    }
    for (const r of this.pendingRecoveries) {
      if (r.at >= this.config.faultMs) this.violations.push(`liveness: no recovery after the final heal at ${r.at}`)
    }
  }
}
