import {expect} from "chai"
import {mkdtempSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {
  Block,
  ChainStore,
  ConsensusErrorCode,
  PrivateKey,
  Role,
  Transaction,
  TxType,
  consensusRecordPrefix,
  encode,
  encodeConsensusFrame,
  fromHex,
  sha256,
  signProposal,
  toHex,
  utf8,
} from "@careledger/core"
import {NetworkHost} from "@careledger/network"
import {CareLedgerClient} from "@careledger/client"
import {defaultConfig, type NodeConfig} from "../../src/config/index.js"
import {buildGenesis, writeGenesisFile} from "../../src/genesis/index.js"
import {loadOrCreateNodeKey} from "../../src/keystore/index.js"
import {createLogger, silentLogger} from "../../src/logger/index.js"
import {CareLedgerNode} from "../../src/node/index.js"

/** A real node in this process: real LevelDB in a temp dir, libp2p and RPC on 127.0.0.1 port 0. */
function singleValidatorConfig(dir: string): NodeConfig {
  return validatorConfigs([dir])[0]!
}

/** One validator per data dir (hosp-a, hosp-b, ...), all with the same genesis. */
function validatorConfigs(dirs: string[]): NodeConfig[] {
  const hospitals = dirs.map((dir, i) => {
    const letter = String.fromCharCode(97 + i)
    return {id: `hosp-${letter}`, name: `Hospital ${letter.toUpperCase()}`, key: loadOrCreateNodeKey(dir).key.id, validator: true}
  })
  const genesis = buildGenesis({chainId: "inproc", hospitals, blockIntervalMs: 200})
  return dirs.map((dir) => nodeConfig(dir, genesis))
}

function nodeConfig(dir: string, genesis: ReturnType<typeof buildGenesis>): NodeConfig {
  const genesisPath = join(dir, "genesis.json")
  writeGenesisFile(genesisPath, genesis)
  return {
    ...defaultConfig(dir),
    genesis: genesisPath,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    rpcPort: 0,
    metricsPort: 0,
    fhirPort: 0,
    logLevel: "silent",
  }
}

/** This node's hospital A (a validator) plus hospitals O, P, ... with the given keys, each a validator or not. */
function hospitalsConfig(dir: string, others: {key: PrivateKey; validator: boolean}[]): {config: NodeConfig; validatorKey: PrivateKey} {
  const config = singleValidatorConfig(dir)
  const validatorKey = loadOrCreateNodeKey(dir).key
  const hospitals = others.map(({key, validator}, i) => {
    const letter = String.fromCharCode(111 + i)
    return {id: `hosp-${letter}`, name: `Hospital ${letter.toUpperCase()}`, key: key.id, validator}
  })
  writeGenesisFile(
    config.genesis,
    buildGenesis({chainId: "inproc", hospitals: [{id: "hosp-a", name: "Hospital A", key: validatorKey.id, validator: true}, ...hospitals], blockIntervalMs: 200}),
  )
  return {config, validatorKey}
}

/** This node's hospital A plus one more hospital (key `other`), as a validator or not. */
function twoHospitalConfig(dir: string, other: PrivateKey, otherValidates: boolean): {config: NodeConfig; validatorKey: PrivateKey} {
  return hospitalsConfig(dir, [{key: other, validator: otherValidates}])
}

/** The single validator plus an admitted observer hospital, whose key the test drives through its own NetworkHost. */
function validatorWithObserver(dir: string): {config: NodeConfig; validatorKey: PrivateKey; observerKey: PrivateKey} {
  const observerKey = PrivateKey.generate()
  return {...twoHospitalConfig(dir, observerKey, false), observerKey}
}

/** The observer's own libp2p host, dialling the node; it says its chain is at `finalizedHeight` and serves no blocks. */
function observerHost(node: CareLedgerNode, validatorKey: PrivateKey, observerKey: PrivateKey, finalizedHeight = 0): NetworkHost {
  const hash = new Uint8Array(32)
  return new NetworkHost(
    {chainId: "inproc", members: [validatorKey.id], bootstrap: node.network.addresses(), heartbeatMs: 100},
    {
      privateKey: observerKey,
      gossipHandlers: {tx: async () => "ignore", consensus: async () => "ignore"},
      getStatus: () => ({headHeight: finalizedHeight, headHash: hash, finalizedHeight, finalizedHash: hash}),
      readBlocks: async function* () {},
    },
  )
}

/** Hex trial registrations signed by `sender`, by nonce: a transaction any node can decode and check. */
function trialTxs(sender: PrivateKey): (nonce: number) => string {
  return (nonce) =>
    toHex(Transaction.sign({chainId: "inproc", type: TxType.TrialRegister, nonce, payload: {trialId: `trial-${nonce}`, protocolHash: new Uint8Array(32)}}, sender).serialize())
}

/** The JSON-RPC error code a call is refused with (fails the test when it succeeds). */
async function rpcCode(call: Promise<unknown>): Promise<number> {
  try {
    await call
  } catch (err) {
    return (err as {code: number}).code
  }
  throw new Error("expected the call to be refused")
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, attempts = 300): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`gave up waiting for ${what}`)
}

describe("node/node (in-process)", function () {
  this.timeout(120_000)
  let dir: string
  let node: CareLedgerNode | undefined
  let cleanups: (() => Promise<void>)[] = []

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "careledger-node-"))
  })

  afterEach(async () => {
    for (const cleanup of cleanups) await cleanup()
    cleanups = []
    await node?.stop()
    node = undefined
    rmSync(dir, {recursive: true, force: true})
  })

  it("starts, finalizes blocks as the single validator, answers over RPC, and stops cleanly", async () => {
    node = new CareLedgerNode(singleValidatorConfig(dir), {logger: silentLogger()})
    await node.start()
    expect(node.isValidator).to.equal(true)
    expect(node.rpcUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+/)
    expect(((await (await fetch(`${node.fhirUrl}/metadata`)).json()) as {resourceType: string}).resourceType).to.equal("CapabilityStatement")
    const client = new CareLedgerClient({url: node.rpcUrl!})

    const head = await until("three finalized blocks", async () => {
      const h = await client.head()
      return h.height >= 3 ? h : undefined
    })
    expect(head.height).to.be.at.least(3)

    // A transaction signed with the node key goes through intake, consensus and the store.
    const vote = await client.proposeValidator({action: "add", hospital: "hosp-b", key: toHex(PrivateKey.generate().publicKey), name: "Hospital B"})
    const found = await client.waitForTx(vote.hash, {timeoutMs: 60_000})
    expect(found.status).to.equal("final")

    const stopped = node
    await stopped.stop()
    node = undefined
    // The store was closed: the same LevelDB opens again and holds the finalized blocks.
    const store = await ChainStore.open({dir: join(dir, "chain"), logger: silentLogger()})
    try {
      expect(store.head().height).to.be.at.least(head.height)
    } finally {
      await store.close()
    }
    // And the RPC port no longer answers.
    const refused = await fetch(stopped.rpcUrl!, {method: "POST", body: "{}"}).then(
      () => false,
      () => true,
    )
    expect(refused).to.equal(true)
  })

  it("refuses to start, naming the record, when a consensus record of the next height cannot be read", async () => {
    const config = singleValidatorConfig(dir)
    node = new CareLedgerNode(config, {logger: silentLogger()})
    await node.start()
    await until("a finalized block", async () => (node!.store.head().height >= 1 ? true : undefined))
    await node.stop()
    node = undefined
    const store = await ChainStore.open({dir: join(dir, "chain"), logger: silentLogger()})
    const key = `${consensusRecordPrefix(store.head().height + 1)}precommit/00000000`
    try {
      await store.putConsensusRecord(key, encode(["vote", "damaged"]))
    } finally {
      await store.close()
    }
    node = new CareLedgerNode(config, {logger: silentLogger()})
    let caught: unknown
    try {
      await node.start()
    } catch (err) {
      caught = err
    }
    expect((caught as {code?: string} | undefined)?.code).to.equal(ConsensusErrorCode.UNREADABLE_RECORD)
    expect(String(caught)).to.include(key)
  })

  it("rejects consensus gossip signed outside the validator set: the observer that sent it loses score and nothing is buffered", async () => {
    const {config, validatorKey, observerKey} = validatorWithObserver(dir)
    node = new CareLedgerNode(config, {logger: silentLogger()})
    await node.start()
    const running = node
    const flooder = observerHost(running, validatorKey, observerKey)
    try {
      await flooder.start()
      await until("the observer sees the validator on the consensus topic", async () => (flooder.topicPeers("consensus").includes(running.network.peerId) ? true : undefined))
      const filler = Array.from({length: 100}, (_, i) =>
        Transaction.sign({chainId: "inproc", type: TxType.TrialRegister, nonce: i, payload: {trialId: `trial-${i}-${"x".repeat(40)}`, protocolHash: new Uint8Array(32)}}, observerKey),
      )
      const observerPeer = observerKey.peerId
      let sent = 0
      await until("the validator to lower the observer's score", async () => {
        const throwaway = PrivateKey.generate()
        const height = running.store.head().height + 2
        const head = running.store.head()
        const block = Block.create(
          {
            chainId: "inproc",
            height,
            round: 0,
            parentHash: head.hash,
            timestamp: head.header.timestamp + 1,
            proposer: throwaway.publicKey,
            stateRoot: head.header.stateRoot,
            validatorsHash: head.header.validatorsHash,
            lastCommit: null,
          },
          filler,
        )
        const proposal = signProposal({chainId: "inproc", height, round: 0, validRound: -1, block}, throwaway)
        await flooder.publish("consensus", encodeConsensusFrame(proposal, sent++))
        return running.network.getScore(observerPeer) < 0 ? true : undefined
      })
      expect(running.machine.status.futureBytes).to.equal(0)
      // The validator keeps finalizing: the flood cost it nothing it needs.
      const height = running.store.head().height
      await until("another finalized block", async () => (running.store.head().height > height ? true : undefined))
    } finally {
      await flooder.stop()
    }
  })

  it("is not held back by one member announcing a chain it does not have, only by more validators than can be faulty", async () => {
    // Four validators: this node (hosp-a) and three whose hosts the test drives; f = 1.
    const others = [PrivateKey.generate(), PrivateKey.generate(), PrivateKey.generate()]
    const {config, validatorKey} = hospitalsConfig(dir, others.map((key) => ({key, validator: true})))
    node = new CareLedgerNode(config, {logger: silentLogger()})
    await node.start()
    const client = new CareLedgerClient({url: node.rpcUrl!})
    const tx = trialTxs(PrivateKey.generate())
    const running = node
    const liar = observerHost(running, validatorKey, others[0]!, 1_000_000)
    const second = observerHost(running, validatorKey, others[1]!, 1_000_000)
    try {
      await liar.start()
      await until("the node to hear the lying validator's status", async () => (running.network.peerStatuses().has(others[0]!.peerId) ? true : undefined))
      // One validator alone may be the faulty one: the node keeps taking submissions.
      expect(running.blocksBehind()).to.equal(0)
      expect(await client.request("tx_send", {tx: tx(0)}).then(() => 0, (err: {code?: number}) => err.code ?? 0)).to.not.equal(-32016)
      // A second validator vouches for the height: more than f say so, so this node is behind.
      await second.start()
      await until("the node to hear the second validator's status", async () => (running.network.peerStatuses().has(others[1]!.peerId) ? true : undefined))
      const info = await until("node_info to say it is syncing", async () => {
        const reply = (await client.request("node_info")) as {syncing: boolean}
        return reply.syncing ? reply : undefined
      })
      expect(info.syncing).to.equal(true)
      expect(await rpcCode(client.request("tx_send", {tx: tx(1)}))).to.equal(-32016)
      expect(await rpcCode(client.request("tx_sendBatch", {txs: [tx(1), tx(2)]}))).to.equal(-32016)
    } finally {
      await liar.stop()
      await second.stop()
    }
  })

  it("is not held back by an observer hospital announcing a chain far ahead", async () => {
    const {config, validatorKey, observerKey} = validatorWithObserver(dir)
    node = new CareLedgerNode(config, {logger: silentLogger()})
    await node.start()
    const client = new CareLedgerClient({url: node.rpcUrl!})
    const tx = trialTxs(PrivateKey.generate())
    const running = node
    // An observer announces a chain far ahead and serves none of it; only validators vouch for heights.
    const ahead = observerHost(running, validatorKey, observerKey, 1_000_000)
    try {
      await ahead.start()
      await until("the node to hear the observer's status", async () => (running.network.peerStatuses().has(observerKey.peerId) ? true : undefined))
      expect(running.blocksBehind()).to.equal(0)
      // The state decides on the transaction (its sender is not enrolled), not the sync check.
      expect(await rpcCode(client.request("tx_send", {tx: tx(0)}))).to.not.equal(-32016)
    } finally {
      await ahead.stop()
    }
  })

  it("warns that the chain is stalled, naming whose votes are missing, and reports the last finalized block's age", async () => {
    const absent = PrivateKey.generate()
    // Two validators, one of which never starts: no block can reach a quorum.
    const {config} = twoHospitalConfig(dir, absent, true)
    const lines: string[] = []
    const logger = createLogger({level: "warn", pretty: false, destination: {write: (line: string) => void lines.push(line)}})
    node = new CareLedgerNode({...config, metrics: true}, {logger}, {stallWarningRounds: 2})
    await node.start()
    const warning = await until("a stall warning", async () => {
      const line = lines.find((l) => l.includes("the chain is stalled"))
      return line === undefined ? undefined : (JSON.parse(line) as {height: number; round: number; connected: string[]; missingPrevotes: string[]; missingPrecommits: string[]})
    })
    expect(warning.height).to.equal(1)
    expect(warning.connected).to.deep.equal([])
    expect(warning.missingPrecommits).to.include(absent.id.slice(0, 16))
    const metrics = await (await fetch(`${node.metricsUrl!}/metrics`)).text()
    const age = Number(/^careledger_last_finalized_block_age_seconds (\S+)$/m.exec(metrics)?.[1])
    expect(age).to.be.greaterThan(1)
  })

  it("treats a second start and a second stop as no-ops", async () => {
    node = new CareLedgerNode(singleValidatorConfig(dir), {logger: silentLogger()})
    await node.start()
    const url = node.rpcUrl
    await node.start()
    expect(node.rpcUrl).to.equal(url)
    const client = new CareLedgerClient({url: url!})
    await until("a finalized block", async () => ((await client.head()).height >= 1 ? true : undefined))
    await Promise.all([node.stop(), node.stop()])
    await node.stop()
    const store = await ChainStore.open({dir: join(dir, "chain"), logger: silentLogger()})
    await store.close()
  })

  it("finalizes a custodian's health transaction and a validator vote submitted back-to-back with the node key", async () => {
    // Two validators, so one vote to add a third does not pass and change the set under the test.
    const dirB = join(dir, "b")
    const [configA, configB] = validatorConfigs([join(dir, "a"), dirB])
    node = new CareLedgerNode(configA!, {logger: silentLogger()})
    await node.start()
    const running = node
    const other = new CareLedgerNode({...configB!, bootstrap: running.network.addresses()}, {logger: silentLogger()})
    cleanups.push(() => other.stop())
    await other.start()
    const provider = PrivateKey.generate()
    const patient = PrivateKey.generate()
    const final = async (hash: string): Promise<void> => {
      await until(`tx ${hash.slice(0, 12)} final`, async () => ((await running.store.getTxLocation(fromHex(hash)!)) !== undefined ? true : undefined))
    }
    // Set-up: the hospital enrols a provider and a patient, and the provider anchors a record here.
    for (const [key, role] of [[provider, Role.Provider], [patient, Role.Patient]] as const) {
      const enrol = Transaction.sign({chainId: running.chainId, type: TxType.IdentityRegister, nonce: await running.nextNonce(running.key.id), payload: {key: key.publicKey, role}}, running.key)
      await final(await running.submitTx(enrol))
    }
    const anchor = Transaction.sign(
      {
        chainId: running.chainId,
        type: TxType.RecordAnchor,
        nonce: 0,
        payload: {recordId: "rec-1", patient: patient.publicKey, resourceType: "Observation", custodian: "hosp-a", contentHash: sha256(utf8("rec-1")), version: 1, previous: null},
      },
      provider,
    )
    await final(await running.submitTx(anchor))
    const health = await until("the health service", async () => running.health.healthService)

    // Both node-key transactions at once: each must get its own nonce, and both must finalize.
    const [erasure, vote] = await Promise.all([
      health.eraseAsCustodian({recordId: "rec-1", legalBasis: "court order 12/2026"}),
      running.proposeValidator({action: "add", hospital: "hosp-c", key: PrivateKey.generate().publicKey, name: "Hospital C"}),
    ])
    await final(erasure.hash)
    await final(vote)
    const erased = await running.store.getTxLocation(fromHex(erasure.hash)!)
    expect(erased).to.not.equal(undefined)
  })

  it("refuses a transaction sent again the moment it is final as a replay, never as still pending", async () => {
    node = new CareLedgerNode(singleValidatorConfig(dir), {logger: silentLogger()})
    await node.start()
    const running = node
    const codes: string[] = []
    // The window between the store showing a tx final and the mempool dropping it is short: try several.
    for (let i = 0; i < 8; i++) {
      const tx = Transaction.sign(
        {chainId: running.chainId, type: TxType.IdentityRegister, nonce: await running.nextNonce(running.key.id), payload: {key: PrivateKey.generate().publicKey, role: Role.Provider}},
        running.key,
      )
      const hash = await running.submitTx(tx)
      // Poll as a client would (chain_getTx reads the store), and send it again as soon as it is final.
      for (let polls = 0; (await running.store.getTxLocation(fromHex(hash)!)) === undefined; polls++) {
        if (polls > 100_000) throw new Error(`tx ${hash} never final`)
      }
      const again = await running.submitTx(tx).then(
        () => "accepted",
        (err: {code?: string}) => err.code ?? "no code",
      )
      codes.push(again)
    }
    expect(codes).to.deep.equal(Array(8).fill("MEMPOOL_ERROR_NONCE_TOO_LOW"))
  })

  it("stops cleanly when stopped without having started", async () => {
    node = new CareLedgerNode(singleValidatorConfig(dir), {logger: silentLogger()})
    await node.stop()
    await node.stop()
  })
})
