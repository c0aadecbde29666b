/**
 * A consortium of real node processes on loopback: 4 validators and 1 observer hospital, each
 * `careledger start` with its own LevelDB, libp2p host and JSON-RPC port.
 */
import {expect} from "chai"
import {writeFile} from "node:fs/promises"
import {join} from "node:path"
import {PrivateKey, Role, Transaction, TxType} from "@careledger/core"
import {CareLedgerClient, RpcError, RpcErrorCodes, TxSender, verifyTxProof} from "@careledger/client"
import {readKeyFile} from "@careledger/node"
import {WebSocket} from "ws"
import {Cluster, eventually, rpcFailure} from "./helpers/cluster.js"

const VALIDATORS = 4
const OBSERVER = 4
const READ_TOKEN = "observer-read-token-0123456789"
const SUBMIT_TOKEN = "observer-submit-token-0123456789"


async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{status: number; json: {error?: {code: number; data?: {code?: string}}} | undefined}> {
  const res = await fetch(url, {method: "POST", headers: {"content-type": "application/json", ...headers}, body})
  const text = await res.text()
  return {status: res.status, json: text === "" ? undefined : (JSON.parse(text) as {error?: {code: number}})}
}

describe("consortium (multi-process)", function () {
  this.timeout(300_000)
  let cluster: Cluster
  let clients: CareLedgerClient[]
  let hospitalKeys: PrivateKey[]

  const heights = async (indexes: number[]): Promise<number[]> => Promise.all(indexes.map(async (i) => (await clients[i]!.head()).finalizedHeight))
  const validatorIndexes = Array.from({length: VALIDATORS}, (_, i) => i)

  /** Every listed node reports the same block hash at every height from 1 to `upTo`. */
  async function expectSameChain(indexes: number[], upTo: number): Promise<void> {
    for (let height = 1; height <= upTo; height++) {
      const hashes = await Promise.all(indexes.map(async (i) => (await clients[i]!.getBlock(height))?.hash))
      expect(new Set(hashes).size, `height ${height}: ${hashes.join(" ")}`).to.equal(1)
      expect(hashes[0]).to.be.a("string")
    }
  }

  before(async () => {
    cluster = await Cluster.create({nodes: VALIDATORS, observers: 1, blockIntervalMs: 500, chainId: "consortium-test"})
    const tokensFile = join(cluster.dir, "tokens.json")
    await writeFile(
      tokensFile,
      JSON.stringify({tokens: [{name: "dashboard", token: READ_TOKEN, permission: "read"}, {name: "ehr", token: SUBMIT_TOKEN, permission: "submit"}]}),
      {mode: 0o600},
    )
    for (const i of validatorIndexes) cluster.start(i)
    cluster.start(OBSERVER, ["--observer", "--rpc-tokens", tokensFile])
    await Promise.all(validatorIndexes.map((i) => cluster.ready(i)))
    await cluster.ready(OBSERVER, READ_TOKEN)
    clients = cluster.plan.nodes.map((_, i) => cluster.client(i, i === OBSERVER ? READ_TOKEN : undefined))
    hospitalKeys = cluster.plan.nodes.map((spec) => readKeyFile(join(spec.dataDir, "node.key")))
  })

  after(async () => {
    await cluster?.destroy()
  })

  it("finalizes blocks, and every validator reports the same hash at every finalized height", async () => {
    await eventually(async () => ((await heights(validatorIndexes)).every((h) => h >= 3) ? true : undefined), "height 3 on every validator")
    const upTo = Math.min(...(await heights(validatorIndexes)))
    await expectSameChain(validatorIndexes, upTo)
    const validators = await clients[0]!.validators()
    expect(validators.map((v) => v.key)).to.deep.equal(hospitalKeys.slice(0, VALIDATORS).map((k) => k.id))
  })

  it("shows an operator its peers, accepted gossip and finalized height on /metrics", async () => {
    const metric = (text: string, name: string): number => {
      const line = text.split("\n").find((l) => l.startsWith(`${name} `))
      return line === undefined ? Number.NaN : Number(line.slice(name.length + 1))
    }
    // Four validators and the observer are all members, so validator 0 ends up connected to the other four.
    const text = await eventually(async () => {
      const body = await (await fetch(`${cluster.spec(0).metricsUrl}/metrics`)).text()
      return metric(body, "careledger_peers") === VALIDATORS ? body : undefined
    }, "validator 0 reporting 4 peers on /metrics")
    expect(metric(text, "careledger_finalized_height")).to.be.at.least(3)
    expect(metric(text, 'careledger_gossip_messages_in_total{topic="consensus",result="accept"}')).to.be.greaterThan(0)
    expect(metric(text, 'careledger_gossip_messages_out_total{topic="consensus"}')).to.be.greaterThan(0)
  })

  it("makes a transaction sent to any node final on all, with a proof that verifies", async () => {
    for (const i of validatorIndexes) {
      // Hospital i enrols a patient through another hospital's node.
      const via = (i + 1) % VALIDATORS
      const sender = new TxSender(clients[via]!, hospitalKeys[i]!)
      const {hash} = await sender.registerIdentity(PrivateKey.generate().publicKey, Role.Patient)
      const lookups = await Promise.all(validatorIndexes.map((n) => clients[n]!.waitForTx(hash, {timeoutMs: 60_000})))
      expect(new Set(lookups.map((l) => l.blockHash)).size).to.equal(1)
      expect(lookups[0]!.tx.sender).to.equal(hospitalKeys[i]!.id)
      const proof = await clients[(i + 2) % VALIDATORS]!.getTxProof(hash)
      expect(proof).to.not.equal(null)
      verifyTxProof(proof!, hospitalKeys.slice(0, VALIDATORS).map((k) => k.id))
    }
  })

  it("lets an observer hospital sync and follow without voting", async () => {
    const observer = clients[OBSERVER]!
    const info = await observer.nodeInfo()
    expect(info.validator).to.equal(false)
    expect(info.hospital).to.equal(cluster.spec(OBSERVER).hospital)
    expect((await observer.consensusStatus()).validator).to.equal(false)
    const target = Math.max(...(await heights(validatorIndexes))) + 2
    await eventually(async () => ((await observer.head()).finalizedHeight >= target ? true : undefined), `observer at height ${target}`)
    await expectSameChain([0, OBSERVER], target)
    const certificate = (await observer.getBlock(target))!.commit!
    // Only validators sign commits; the observer's key never appears.
    expect(certificate.signatures.map((s) => s.validator)).to.not.include(hospitalKeys[OBSERVER]!.id)
  })

  it("answers each standard JSON-RPC error, and an oversize body with 413, changing nothing", async () => {
    const url = cluster.spec(1).rpcUrl
    const before = await clients[1]!.head()
    const cases: [string, number][] = [
      ["{oops", RpcErrorCodes.PARSE_ERROR],
      [JSON.stringify({jsonrpc: "1.0", id: 1, method: "chain_head"}), RpcErrorCodes.INVALID_REQUEST],
      [JSON.stringify({jsonrpc: "2.0", id: 1, method: "chain_nothing"}), RpcErrorCodes.METHOD_NOT_FOUND],
      [JSON.stringify({jsonrpc: "2.0", id: 1, method: "chain_getBlock", params: {height: -4}}), RpcErrorCodes.INVALID_PARAMS],
      [JSON.stringify({jsonrpc: "2.0", id: 1, method: "tx_send", params: ["zz"]}), RpcErrorCodes.INVALID_PARAMS],
    ]
    for (const [body, code] of cases) expect((await post(url, body)).json?.error?.code, body).to.equal(code)
    const oversize = await post(url, JSON.stringify({jsonrpc: "2.0", id: 1, method: "tx_send", params: ["00".repeat(1024 * 1024)]}))
    expect(oversize.status).to.equal(413)
    expect(oversize.json?.error?.code).to.equal(RpcErrorCodes.REQUEST_TOO_LARGE)
    const batch = Array.from({length: 101}, (_, id) => ({jsonrpc: "2.0", id, method: "chain_head"}))
    expect((await post(url, JSON.stringify(batch))).json?.error?.code).to.equal(RpcErrorCodes.BATCH_TOO_LARGE)
    expect((await clients[1]!.head()).finalizedHeight).to.be.at.least(before.finalizedHeight)
  })

  it("refuses a bad signature, a replay, a wrong chain id and an unauthorised signer with their codes", async () => {
    const client = clients[2]!
    const {chainId} = await client.nodeInfo()
    const hospital = hospitalKeys[2]!
    const nonce = await client.getNonce(hospital.id)
    const good = Transaction.sign({chainId, type: TxType.IdentityRegister, nonce, payload: {key: PrivateKey.generate().publicKey, role: Role.Provider}}, hospital)

    const tampered = Uint8Array.from(good.serialize())
    tampered[tampered.length - 1] ^= 0xff
    const badSignature = await rpcFailure(client.sendTx(tampered))
    expect(badSignature.code).to.equal(RpcErrorCodes.BAD_SIGNATURE)
    expect(badSignature.domainCode).to.equal("TX_ERROR_BAD_SIGNATURE")

    const otherChain = Transaction.sign({chainId: "another-chain", type: TxType.IdentityRegister, nonce, payload: {key: PrivateKey.generate().publicKey, role: Role.Provider}}, hospital)
    expect((await rpcFailure(client.sendTx(otherChain))).code).to.equal(RpcErrorCodes.WRONG_CHAIN)

    const stranger = PrivateKey.generate()
    const unauthorised = Transaction.sign({chainId, type: TxType.IdentityRegister, nonce: 0, payload: {key: PrivateKey.generate().publicKey, role: Role.Patient}}, stranger)
    expect((await rpcFailure(client.sendTx(unauthorised))).code).to.equal(RpcErrorCodes.UNAUTHORIZED_SIGNER)

    const {hash} = await client.sendTx(good)
    await client.waitForTx(hash, {timeoutMs: 60_000})
    const replay = await rpcFailure(client.sendTx(good))
    expect(replay.code).to.equal(RpcErrorCodes.NONCE_REPLAYED)
    // None of the refused transactions reached the chain.
    for (const refused of [otherChain, unauthorised]) expect(await client.getTx(refused.hashHex())).to.equal(null)
  })

  it("with token auth on: refuses a missing or wrong token, and a read token cannot submit", async () => {
    const url = cluster.spec(OBSERVER).rpcUrl
    const body = JSON.stringify({jsonrpc: "2.0", id: 1, method: "chain_head"})
    const missing = await post(url, body)
    expect(missing.status).to.equal(401)
    expect(missing.json?.error?.code).to.equal(RpcErrorCodes.UNAUTHORIZED_TOKEN)
    const wrong = await post(url, body, {authorization: "Bearer not-a-real-token-0000000000"})
    expect(wrong.json?.error?.code).to.equal(RpcErrorCodes.UNAUTHORIZED_TOKEN)
    expect((await clients[OBSERVER]!.head()).finalizedHeight).to.be.a("number")
    const denied = await rpcFailure(clients[OBSERVER]!.sendTx(new Uint8Array([1, 2, 3])))
    expect(denied.code).to.equal(RpcErrorCodes.UNAUTHORIZED_TOKEN)
    expect(denied.domainCode).to.equal("RPC_ERROR_PERMISSION")
    const submit = new CareLedgerClient({url, token: SUBMIT_TOKEN})
    expect((await rpcFailure(submit.sendTx(new Uint8Array([1, 2, 3])))).code).to.equal(RpcErrorCodes.MALFORMED_TX)
  })

  it("keeps finalizing with one validator killed by SIGKILL, and the restarted validator catches up", async () => {
    const victim = 3
    const survivors = [0, 1, 2]
    await cluster.kill(victim)
    const atKill = Math.max(...(await heights(survivors)))
    await eventually(async () => (Math.min(...(await heights(survivors))) >= atKill + 3 ? true : undefined), "3 more blocks without the killed validator")
    // A tx sent while it is down is final on the survivors and, later, on the restarted node.
    const {hash} = await new TxSender(clients[0]!, hospitalKeys[0]!).registerIdentity(PrivateKey.generate().publicKey, Role.Lab)
    await clients[0]!.waitForTx(hash, {timeoutMs: 60_000})

    cluster.start(victim)
    await cluster.ready(victim)
    const target = Math.max(...(await heights(survivors)))
    await eventually(async () => ((await clients[victim]!.head()).finalizedHeight >= target ? true : undefined), `restarted validator at height ${target}`)
    expect((await clients[victim]!.getTx(hash))?.status).to.equal("final")
    await expectSameChain([0, victim], target)
    // Back in the set, it keeps up with new blocks too.
    const next = Math.max(...(await heights(survivors))) + 2
    await eventually(async () => ((await heights(validatorIndexes)).every((h) => h >= next) ? true : undefined), `all validators at ${next}`)
  })

  it("streams finalized heads to a WebSocket subscriber", async () => {
    const ws = new WebSocket(cluster.spec(0).rpcUrl.replace(/^http/, "ws"))
    const heads: number[] = []
    let subscription: string | undefined
    ws.on("message", (data) => {
      const message = JSON.parse(String(data)) as {id?: number; result?: string; params?: {subscription: string; result: {height: number}}}
      if (message.id === 1) subscription = message.result
      else if (message.params !== undefined && message.params.subscription === subscription) heads.push(message.params.result.height)
    })
    try {
      await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject))
      ws.send(JSON.stringify({jsonrpc: "2.0", id: 1, method: "chain_subscribe", params: ["finalized"]}))
      await eventually(async () => (heads.length >= 2 ? true : undefined), "two finalized heads")
      expect(heads[1]).to.equal(heads[0]! + 1)
    } finally {
      ws.close()
    }
  })

  it("adds a hospital to the validator set when more than half of the validators vote for it", async () => {
    const candidate = cluster.spec(OBSERVER)
    const proposal = {action: "add" as const, hospital: candidate.hospital, key: candidate.key, name: `Devnet Hospital ${OBSERVER}`}
    for (const i of [0, 1, 2]) {
      const {hash} = await clients[i]!.proposeValidator(proposal)
      await clients[i]!.waitForTx(hash, {timeoutMs: 60_000})
    }
    await eventually(
      async () => ((await Promise.all(validatorIndexes.map(async (i) => (await clients[i]!.validators()).length))).every((n) => n === VALIDATORS + 1) ? true : undefined),
      "a set of 5 on every validator",
    )
    expect((await clients[0]!.validators()).map((v) => v.key)).to.include(candidate.key)
    // The four voting validators still make a quorum of the five (the new one runs as an observer here).
    const next = Math.max(...(await heights(validatorIndexes))) + 3
    await eventually(async () => ((await heights(validatorIndexes)).every((h) => h >= next) ? true : undefined), `all validators at ${next}`)
    await eventually(async () => ((await clients[OBSERVER]!.head()).finalizedHeight >= next ? true : undefined), `observer at ${next}`)
  })
})
