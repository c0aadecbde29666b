/** JSON-RPC of a real in-process node (LevelDB in a temp dir, libp2p and RPC on 127.0.0.1 port 0). */
import {expect} from "chai"
import {mkdtempSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {CareLedgerClient, RpcError, RpcErrorCodes} from "@careledger/client"
import {Transaction, TxType, coreRoutes, sha256, toHex, utf8} from "@careledger/core"
import {defaultConfig} from "../../src/config/index.js"
import {buildGenesis, writeGenesisFile} from "../../src/genesis/index.js"
import {loadOrCreateNodeKey} from "../../src/keystore/index.js"
import {silentLogger} from "../../src/logger/index.js"
import {CareLedgerNode} from "../../src/node/index.js"
import {coreNamespaces} from "../../src/rpc/core.js"
import {joinNamespaces} from "../../src/rpc/index.js"

async function post(url: string, body: string): Promise<{status: number; json: {error?: {code: number; message: string}} | {error?: {code: number}}[]}> {
  const res = await fetch(url, {method: "POST", headers: {"content-type": "application/json"}, body})
  return {status: res.status, json: (await res.json()) as {error?: {code: number; message: string}}}
}

describe("rpc of an in-process node", function () {
  this.timeout(120_000)
  let dir: string
  let node: CareLedgerNode
  let client: CareLedgerClient

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "careledger-noderpc-"))
    const key = loadOrCreateNodeKey(dir).key
    const genesis = join(dir, "genesis.json")
    writeGenesisFile(genesis, buildGenesis({chainId: "rpc-inproc", hospitals: [{id: "hosp-a", name: "Hospital A", key: key.id, validator: true}], blockIntervalMs: 200}))
    node = new CareLedgerNode(
      {...defaultConfig(dir), genesis, listen: ["/ip4/127.0.0.1/tcp/0"], rpcPort: 0, metricsPort: 0, fhirPort: 0, logLevel: "silent"},
      {logger: silentLogger()},
    )
    await node.start()
    client = new CareLedgerClient(node.rpcUrl!)
  })

  after(async () => {
    await node?.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  it("says 'exactly one of' to chain_getBlock given both height and hash", async () => {
    const genesisHash = (await client.getBlock(0))!.hash
    const both = (await client.request("chain_getBlock", {height: 0, hash: genesisHash}).catch((err: unknown) => err)) as RpcError
    expect(both).to.be.instanceOf(RpcError)
    expect(both.code).to.equal(RpcErrorCodes.INVALID_PARAMS)
    expect(both.message).to.contain("exactly one of")
    const neither = (await client.request("chain_getBlock", {}).catch((err: unknown) => err)) as RpcError
    expect(neither.code).to.equal(RpcErrorCodes.INVALID_PARAMS)
    expect(neither.message).to.contain("exactly one of")
  })

  it("answers a deeply nested body to any method with -32700 or -32602, never -32603, and keeps serving", async () => {
    const url = node.rpcUrl!
    const deepObject = (levels: number): string => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`
    const deepArray = (levels: number): string => `${"[".repeat(levels)}${"]".repeat(levels)}`
    for (const levels of [5_000, 100_000]) {
      const bodies = [
        `{"jsonrpc":"2.0","id":1,"method":"record_verify","params":{"recordId":"r1","resource":${deepObject(levels)},"salt":"${"00".repeat(32)}"}}`,
        `{"jsonrpc":"2.0","id":1,"method":"record_get","params":{"request":${deepObject(levels)}}}`,
        `{"jsonrpc":"2.0","id":1,"method":"chain_head","params":${deepArray(levels)}}`,
        `{"jsonrpc":"2.0","id":1,"method":"tx_send","params":[${deepArray(levels)}]}`,
        `[{"jsonrpc":"2.0","id":1,"method":"consent_list","params":{"patient":${deepArray(levels)}}}]`,
      ]
      for (const body of bodies) {
        expect(body.length).to.be.below(1024 * 1024)
        const {status, json} = await post(url, body)
        const error = Array.isArray(json) ? json[0]!.error : json.error
        expect(status, `${levels} levels: ${body.slice(0, 60)}`).to.equal(200)
        expect(error?.code, `${levels} levels: ${body.slice(0, 60)}`).to.be.oneOf([RpcErrorCodes.PARSE_ERROR, RpcErrorCodes.INVALID_PARAMS])
      }
    }
    expect((await client.head()).height).to.be.a("number")
  })

  it("serves every core route as declared once in core: its permission, summary and params parser", async () => {
    const served = joinNamespaces(...coreNamespaces(node))
    for (const [name, route] of Object.entries(coreRoutes)) {
      const method = served.get(name)
      expect(method, name).to.not.equal(undefined)
      expect(method!.permission, name).to.equal(route.permission)
      expect(method!.summary, name).to.equal(route.summary)
    }
    // The declared parser is what refuses bad params, named by the param.
    const bad = (await client.request("chain_getNonce", {account: "zz"}).catch((err: unknown) => err)) as RpcError
    expect(bad.code).to.equal(RpcErrorCodes.INVALID_PARAMS)
    expect(bad.data?.param).to.equal("account")
    // The typed client call takes the route's params and returns its result.
    const nonce = await client.call("chain_getNonce", {account: node.key.id})
    expect(nonce).to.deep.equal({account: node.key.id, nonce: 0})
  })

  it("chain_journalAnchor: null until the hospital anchors its interaction journal, then its latest finalized anchor", async () => {
    expect(await client.call("chain_journalAnchor", {hospital: "hosp-a"})).to.equal(null)
    const bad = (await client.request("chain_journalAnchor", {hospital: "Hosp A"}).catch((err: unknown) => err)) as RpcError
    expect(bad.code).to.equal(RpcErrorCodes.INVALID_PARAMS)
    const head = sha256(utf8("journal entry 4"))
    const nonce = (await client.call("chain_getNonce", {account: node.key.id})).nonce
    const tx = Transaction.sign({chainId: "rpc-inproc", type: TxType.AuditAnchor, nonce, payload: {sequence: 4, head}}, node.key)
    await client.call("tx_send", {tx: toHex(tx.serialize())})
    await client.call("chain_waitForTx", {hash: tx.hashHex()})
    const anchor = await client.call("chain_journalAnchor", {hospital: "hosp-a"})
    expect(anchor).to.include({hospital: "hosp-a", sequence: 4, head: toHex(head), txHash: tx.hashHex()})
  })

  it("records each method's latency in careledger_rpc_request_duration_seconds", async () => {
    await client.head()
    await client.request("chain_nothing").catch(() => undefined)
    const text = await node.metrics.registry.metrics()
    const count = (method: string): number => {
      const line = text.split("\n").find((l) => l.startsWith(`careledger_rpc_request_duration_seconds_count{method="${method}"}`))
      return line === undefined ? 0 : Number(line.split(" ").pop())
    }
    expect(count("chain_head")).to.be.at.least(1)
    expect(count("(unknown)")).to.be.at.least(1)
    expect(text).to.contain('careledger_rpc_request_duration_seconds_bucket{le="0.005",method="chain_head"}')
    expect(text).to.not.contain('method="chain_nothing"')
  })
})
