import {expect} from "chai"
import {createServer, type IncomingHttpHeaders, type Server} from "node:http"
import type {AddressInfo} from "node:net"
import {PrivateKey, Role, Transaction, TxType, fromHex} from "@careledger/core"
import {CareLedgerClient, ClientError, ClientErrorCode, RpcError, TxSender} from "../src/index.js"

interface Seen {
  body: unknown
  headers: IncomingHttpHeaders
}

/** A JSON-RPC endpoint answering from a table, recording what it was sent. */
async function endpoint(answer: (method: string, params: unknown) => unknown): Promise<{url: string; seen: Seen[]; server: Server}> {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {id: number; method: string; params: unknown} | {id: number; method: string; params: unknown}[]
      seen.push({body, headers: req.headers})
      const one = (r: {id: number; method: string; params: unknown}) => {
        const result = answer(r.method, r.params)
        return result instanceof RpcError
          ? {jsonrpc: "2.0", id: r.id, error: {code: result.code, message: result.message, data: result.data}}
          : {jsonrpc: "2.0", id: r.id, result}
      }
      res.writeHead(200, {"content-type": "application/json"}).end(JSON.stringify(Array.isArray(body) ? body.map(one).reverse() : one(body)))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server}
}

describe("client", () => {
  const servers: Server[] = []
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
  })

  it("returns typed results, sends the bearer token, and raises RpcError with code and data", async () => {
    const {url, seen, server} = await endpoint((method) =>
      method === "chain_head"
        ? {height: 3, hash: "aa", finalizedHeight: 3, finalizedHash: "aa", timestamp: 1}
        : new RpcError(-32001, "signature does not verify", {code: "TX_ERROR_BAD_SIGNATURE"}),
    )
    servers.push(server)
    const client = new CareLedgerClient({url, token: "secret-token"})
    expect((await client.head()).finalizedHeight).to.equal(3)
    expect(seen[0]!.headers.authorization).to.equal("Bearer secret-token")
    const err = (await client.sendTx(new Uint8Array([1])).catch((e: unknown) => e)) as RpcError
    expect(err).to.be.instanceOf(RpcError)
    expect(err.code).to.equal(-32001)
    expect(err.domainCode).to.equal("TX_ERROR_BAD_SIGNATURE")
    expect((seen[1]!.body as {params: unknown}).params).to.deep.equal({tx: "01"})
  })

  it("matches batch answers to calls by id, whatever order they come back in", async () => {
    const {url, server} = await endpoint((method, params) => (method === "fail" ? new RpcError(-32601, "unknown method fail") : params))
    servers.push(server)
    const results = await new CareLedgerClient(url).batch([{method: "echo", params: [1]}, {method: "fail"}, {method: "echo", params: [3]}])
    expect(results[0]).to.deep.equal({ok: true, result: [1]})
    expect(results[1]!.ok).to.equal(false)
    expect(results[2]).to.deep.equal({ok: true, result: [3]})
  })

  it("reports an unreachable node as a transport error", async () => {
    const err = (await new CareLedgerClient({url: "http://127.0.0.1:1", timeoutMs: 2000}).head().catch((e: unknown) => e)) as ClientError
    expect(err).to.be.instanceOf(ClientError)
    expect(err.code).to.equal(ClientErrorCode.TRANSPORT)
  })

  it("signs transactions with consecutive nonces after one lookup, and asks again after a refusal", async () => {
    const key = PrivateKey.generate()
    let refuse = false
    const sent: Transaction[] = []
    const {url, seen, server} = await endpoint((method, params) => {
      if (method === "node_info") return {chainId: "test-chain"}
      if (method === "chain_getNonce") return {account: key.id, nonce: 5}
      if (refuse) return new RpcError(-32003, "nonce replayed")
      const tx = Transaction.decode(fromHex((params as {tx: string}).tx)!)
      sent.push(tx)
      return {hash: tx.hashHex()}
    })
    servers.push(server)
    const sender = new TxSender(new CareLedgerClient(url), key)
    const a = await sender.registerIdentity(PrivateKey.generate().publicKey, Role.Patient)
    await sender.registerIdentity(PrivateKey.generate().publicKey, Role.Patient)
    expect(sent.map((tx) => tx.nonce)).to.deep.equal([5, 6])
    expect(sent[0]!.verifySignature()).to.equal(true)
    expect(sent[0]!.chainId).to.equal("test-chain")
    expect(sent[0]!.type).to.equal(TxType.IdentityRegister)
    expect(a.hash).to.equal(sent[0]!.hashHex())
    refuse = true
    await sender.registerIdentity(PrivateKey.generate().publicKey, Role.Patient).catch(() => undefined)
    const lookups = seen.filter((s) => (s.body as {method: string}).method === "chain_getNonce").length
    await sender.registerIdentity(PrivateKey.generate().publicKey, Role.Patient).catch(() => undefined)
    expect(seen.filter((s) => (s.body as {method: string}).method === "chain_getNonce").length).to.equal(lookups + 1)
  })
})
