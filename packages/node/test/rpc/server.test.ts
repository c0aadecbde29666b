import {expect} from "chai"
import {mkdtempSync, rmSync, writeFileSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {connect} from "node:net"
import {WebSocket} from "ws"
import {TxError, TxErrorCode} from "@careledger/core"
import {CareLedgerClient, RpcError, RpcErrorCodes} from "@careledger/client"
import {HeadFeed, RpcServer, defaultRpcServerOptions, joinNamespaces, method, p, params, type RpcServerOptions} from "../../src/rpc/index.js"
import {NodeConfigErrorCode} from "../../src/config/index.js"
import {silentLogger} from "../../src/logger/index.js"

/** A small namespace whose handlers record what reached them, so tests can see that bad input changed nothing. */
function testNamespace(calls: string[]) {
  return {
    test_add: method(params({a: p.uint(), b: p.uint()}), {
      permission: "read",
      summary: "adds",
      handler: ({a, b}) => {
        calls.push(`add ${a} ${b}`)
        return a + b
      },
    }),
    test_submit: method(params({value: p.string({max: 10})}), {
      permission: "submit",
      summary: "records a value",
      handler: ({value}) => {
        calls.push(`submit ${value}`)
        return {stored: value}
      },
    }),
    test_badSignature: method(params({}), {
      permission: "read",
      summary: "fails like a bad tx",
      handler: () => {
        throw new TxError(TxErrorCode.BAD_SIGNATURE, "signature does not verify", {hash: "ab"})
      },
    }),
    test_crash: method(params({}), {
      permission: "read",
      summary: "fails unexpectedly",
      handler: () => {
        throw new Error("secret internal detail")
      },
    }),
  }
}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{status: number; json: unknown}> {
  const res = await fetch(url, {method: "POST", headers: {"content-type": "application/json", ...headers}, body})
  const text = await res.text()
  return {status: res.status, json: text === "" ? undefined : (JSON.parse(text) as unknown)}
}

/**
 * Sends a whole request over a raw socket in small paced writes and only then reads the answer, as
 * blocking HTTP clients do. Resolves with the status line, or rejects with the socket error.
 */
async function sendWholeThenRead(url: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  const {hostname, port} = new URL(url)
  const socket = connect(Number(port), hostname)
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject))
  const received: Buffer[] = []
  socket.on("data", (chunk: Buffer) => received.push(chunk))
  const closed = new Promise<void>((resolve, reject) => socket.once("close", () => resolve()).once("error", reject))
  const head = Object.entries({"content-type": "application/json", ...headers, "content-length": String(Buffer.byteLength(body))})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")
  const bytes = Buffer.from(`POST / HTTP/1.1\r\nhost: ${hostname}:${port}\r\n${head}\r\n${body}`)
  socket.pause()
  for (let offset = 0; offset < bytes.length; offset += 64 * 1024) {
    await new Promise<void>((resolve, reject) => socket.write(bytes.subarray(offset, offset + 64 * 1024), (err) => (err ? reject(err) : resolve())))
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  socket.resume()
  await closed
  return Buffer.concat(received).toString("latin1").split("\r\n")[0]!
}

describe("rpc/server", () => {
  const servers: RpcServer[] = []
  let dir: string
  let calls: string[]
  let feed: HeadFeed

  async function startServer(overrides: Partial<RpcServerOptions> = {}): Promise<RpcServer> {
    const server = new RpcServer(
      {...defaultRpcServerOptions, port: 0, maxBodyBytes: 4096, maxBatch: 5, ...overrides},
      {methods: joinNamespaces(testNamespace(calls)), logger: silentLogger(), feed},
    )
    servers.push(server)
    await server.start()
    return server
  }

  beforeEach(() => {
    calls = []
    feed = new HeadFeed()
    dir = mkdtempSync(join(tmpdir(), "careledger-rpc-"))
  })

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()))
    rmSync(dir, {recursive: true, force: true})
  })

  it("answers a call with named or positional params", async () => {
    const server = await startServer()
    const client = new CareLedgerClient(server.url)
    expect(await client.request("test_add", {a: 2, b: 3})).to.equal(5)
    expect(await client.request("test_add", [4, 5])).to.equal(9)
  })

  it("answers a batch in order, skipping notifications", async () => {
    const server = await startServer()
    const {status, json} = await post(
      server.url,
      JSON.stringify([
        {jsonrpc: "2.0", id: 1, method: "test_add", params: [1, 1]},
        {jsonrpc: "2.0", method: "test_submit", params: ["note"]},
        {jsonrpc: "2.0", id: "x", method: "nope"},
      ]),
    )
    expect(status).to.equal(200)
    const replies = json as {id: unknown; result?: unknown; error?: {code: number}}[]
    expect(replies.map((r) => r.id)).to.deep.equal([1, "x"])
    expect(replies[0]!.result).to.equal(2)
    expect(replies[1]!.error!.code).to.equal(RpcErrorCodes.METHOD_NOT_FOUND)
    expect(calls).to.deep.equal(["add 1 1", "submit note"])
  })

  it("gives each standard error its code and reaches no handler", async () => {
    const server = await startServer()
    const cases: [string, number][] = [
      ["{not json", RpcErrorCodes.PARSE_ERROR],
      [JSON.stringify({id: 1, method: "test_add"}), RpcErrorCodes.INVALID_REQUEST],
      [JSON.stringify({jsonrpc: "2.0", id: 1, method: 7}), RpcErrorCodes.INVALID_REQUEST],
      [JSON.stringify([]), RpcErrorCodes.INVALID_REQUEST],
      [JSON.stringify({jsonrpc: "2.0", id: 1, method: "test_nothing"}), RpcErrorCodes.METHOD_NOT_FOUND],
      [JSON.stringify({jsonrpc: "2.0", id: 1, method: "test_add", params: {a: -1, b: 2}}), RpcErrorCodes.INVALID_PARAMS],
      [JSON.stringify({jsonrpc: "2.0", id: 1, method: "test_add", params: {a: 1, b: 2, c: 3}}), RpcErrorCodes.INVALID_PARAMS],
      [JSON.stringify({jsonrpc: "2.0", id: 1, method: "test_add", params: [1, 2, 3]}), RpcErrorCodes.INVALID_PARAMS],
    ]
    for (const [body, code] of cases) {
      const {json} = await post(server.url, body)
      expect((json as {error: {code: number}}).error.code, body).to.equal(code)
    }
    expect(calls).to.deep.equal([])
  })

  it("hides unexpected failures behind -32603 and maps domain errors to their code", async () => {
    const server = await startServer()
    const client = new CareLedgerClient(server.url)
    const crash = await client.request("test_crash").catch((err: unknown) => err)
    expect(crash).to.be.instanceOf(RpcError)
    expect((crash as RpcError).code).to.equal(RpcErrorCodes.INTERNAL_ERROR)
    expect((crash as RpcError).message).to.not.contain("secret")
    const bad = (await client.request("test_badSignature").catch((err: unknown) => err)) as RpcError
    expect(bad.code).to.equal(RpcErrorCodes.BAD_SIGNATURE)
    expect(bad.domainCode).to.equal(TxErrorCode.BAD_SIGNATURE)
    expect(bad.data?.hash).to.equal("ab")
  })

  it("refuses an oversize body with 413 and an oversize batch, changing nothing", async () => {
    const server = await startServer()
    const big = JSON.stringify({jsonrpc: "2.0", id: 1, method: "test_submit", params: ["x".repeat(8000)]})
    const oversize = await post(server.url, big)
    expect(oversize.status).to.equal(413)
    expect((oversize.json as {error: {code: number}}).error.code).to.equal(RpcErrorCodes.REQUEST_TOO_LARGE)
    const batch = Array.from({length: 6}, (_, i) => ({jsonrpc: "2.0", id: i, method: "test_submit", params: [`v${i}`]}))
    const tooMany = await post(server.url, JSON.stringify(batch))
    expect((tooMany.json as {error: {code: number}}).error.code).to.equal(RpcErrorCodes.BATCH_TOO_LARGE)
    expect(calls).to.deep.equal([])
    // The server is still healthy afterwards.
    expect(await new CareLedgerClient(server.url).request("test_add", [1, 2])).to.equal(3)
  })

  it("lets a client that sends its whole oversize body before reading still read the 413", async () => {
    const server = await startServer({maxBodyBytes: 64 * 1024})
    const big = JSON.stringify({jsonrpc: "2.0", id: 1, method: "test_submit", params: ["x".repeat(256 * 1024)]})
    for (let i = 0; i < 5; i++) expect(await sendWholeThenRead(server.url, big)).to.equal("HTTP/1.1 413 Payload Too Large")
    const viaFetch = await post(server.url, big)
    expect(viaFetch.status).to.equal(413)
    expect(calls).to.deep.equal([])
    expect(await new CareLedgerClient(server.url).request("test_add", [1, 2])).to.equal(3)
  })

  it("will not listen beyond loopback without tokens", () => {
    expect(() => new RpcServer({...defaultRpcServerOptions, host: "0.0.0.0", port: 0}, {methods: new Map(), logger: silentLogger()}))
      .to.throw()
      .with.property("code", NodeConfigErrorCode.AUTH_REQUIRED)
  })

  it("with tokens: refuses missing and wrong tokens, enforces permissions, rate limits guessing", async () => {
    const tokensFile = join(dir, "tokens.json")
    writeFileSync(
      tokensFile,
      JSON.stringify({
        tokens: [
          {name: "dashboard", token: "read-token-0123456789", permission: "read"},
          {name: "ehr", token: "submit-token-0123456789", permission: "submit"},
        ],
      }),
      {mode: 0o600},
    )
    const server = await startServer({tokensFile, maxAuthFailures: 3})
    const call = (token?: string) =>
      new CareLedgerClient({url: server.url, ...(token === undefined ? {} : {token})}).request("test_submit", ["v"]).catch((err: unknown) => err as RpcError)

    expect(((await call()) as RpcError).code).to.equal(RpcErrorCodes.UNAUTHORIZED_TOKEN)
    const readOnly = (await call("read-token-0123456789")) as RpcError
    expect(readOnly.code).to.equal(RpcErrorCodes.UNAUTHORIZED_TOKEN)
    expect(readOnly.domainCode).to.equal("RPC_ERROR_PERMISSION")
    expect(await call("submit-token-0123456789")).to.deep.equal({stored: "v"})
    for (let i = 0; i < 3; i++) expect(((await call(`wrong-token-${i}-0123456789`)) as RpcError).code).to.equal(RpcErrorCodes.UNAUTHORIZED_TOKEN)
    const limited = await post(server.url, JSON.stringify({jsonrpc: "2.0", id: 1, method: "test_add", params: [1, 1]}), {
      authorization: "Bearer submit-token-0123456789",
    })
    expect(limited.status).to.equal(429)
    expect((limited.json as {error: {code: number}}).error.code).to.equal(RpcErrorCodes.RATE_LIMITED)
    expect(calls).to.deep.equal(["submit v"])
  })

  it("serves calls and head subscriptions over WebSocket", async () => {
    const server = await startServer()
    const ws = new WebSocket(server.wsUrl)
    const messages: {id?: number; result?: unknown; method?: string; params?: {subscription: string; result: {height: number}}}[] = []
    const next = (predicate: (m: (typeof messages)[number]) => boolean) =>
      new Promise<(typeof messages)[number]>((resolve) => {
        const check = (): void => {
          const found = messages.find(predicate)
          if (found !== undefined) resolve(found)
          else setTimeout(check, 10)
        }
        check()
      })
    ws.on("message", (data) => messages.push(JSON.parse(String(data)) as (typeof messages)[number]))
    await new Promise((resolve) => ws.once("open", resolve))
    ws.send(JSON.stringify({jsonrpc: "2.0", id: 1, method: "test_add", params: [20, 22]}))
    expect((await next((m) => m.id === 1)).result).to.equal(42)
    ws.send(JSON.stringify({jsonrpc: "2.0", id: 2, method: "chain_subscribe", params: ["finalized"]}))
    const subscription = (await next((m) => m.id === 2)).result as string
    feed.publish("finalized", {height: 7, hash: "aa", finalizedHeight: 7, finalizedHash: "aa", timestamp: 1, txs: 0})
    const note = await next((m) => m.method === "chain_subscription")
    expect(note.params).to.deep.include({subscription})
    expect(note.params!.result.height).to.equal(7)
    ws.send(JSON.stringify({jsonrpc: "2.0", id: 3, method: "chain_unsubscribe", params: [subscription]}))
    expect((await next((m) => m.id === 3)).result).to.equal(true)
    ws.close()
  })

  it("says subscriptions need a WebSocket over HTTP", async () => {
    const server = await startServer()
    const err = (await new CareLedgerClient(server.url).request("chain_subscribe", ["newHeads"]).catch((e: unknown) => e)) as RpcError
    expect(err.code).to.equal(RpcErrorCodes.INVALID_REQUEST)
  })
})
