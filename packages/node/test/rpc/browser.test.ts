/**
 * The RPC port seen from a browser on the node's host: real HTTP requests and a real WebSocket with
 * foreign Host, Origin and content types, as a web page or a DNS-rebinding attack would send them.
 */
import {expect} from "chai"
import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {WebSocket} from "ws"
import {RpcErrorCodes} from "@careledger/client"
import {NodeConfigErrorCode} from "../../src/config/index.js"
import {silentLogger} from "../../src/logger/index.js"
import {runCli} from "../../src/cli/run.js"
import {selfSignedCertificate, send} from "../http.js"
import {RpcServer, defaultRpcServerOptions, joinNamespaces, method, p, params, type RpcServerOptions} from "../../src/rpc/index.js"

const call = (method: string, params: unknown = []): string => JSON.stringify({jsonrpc: "2.0", id: 1, method, params})

/** Opens a WebSocket; resolves "open" or the HTTP status of the refused upgrade. */
function upgrade(url: string, options: {origin?: string; host?: string; ca?: Buffer} = {}): Promise<{outcome: "open"; ws: WebSocket} | {outcome: number}> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      ...(options.origin === undefined ? {} : {origin: options.origin}),
      ...(options.host === undefined ? {} : {headers: {host: options.host}}),
      ...(options.ca === undefined ? {} : {ca: options.ca}),
    })
    ws.once("open", () => resolve({outcome: "open", ws}))
    ws.once("unexpected-response", (_req, res) => {
      resolve({outcome: res.statusCode ?? 0})
      res.resume()
      ws.terminate()
    })
    ws.once("error", (err) => reject(err))
  })
}

describe("rpc/server from a browser's point of view", () => {
  const servers: RpcServer[] = []
  let dir: string
  let calls: string[]

  async function startServer(overrides: Partial<RpcServerOptions> = {}): Promise<RpcServer> {
    const namespace = {
      test_erase: method(params({id: p.string({max: 10})}), {
        permission: "admin",
        summary: "stands for any destructive admin method",
        handler: ({id}) => {
          calls.push(`erase ${id}`)
          return true
        },
      }),
    }
    const server = new RpcServer({...defaultRpcServerOptions, port: 0, ...overrides}, {methods: joinNamespaces(namespace), logger: silentLogger()})
    servers.push(server)
    await server.start()
    return server
  }

  beforeEach(() => {
    calls = []
    dir = mkdtempSync(join(tmpdir(), "careledger-browser-"))
  })

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()))
    rmSync(dir, {recursive: true, force: true})
  })

  it("runs nothing for a cross-origin text/plain POST (the form a page may send without a preflight)", async () => {
    const server = await startServer()
    const noOrigin = await send(server.url, {headers: {"content-type": "text/plain"}, body: call("test_erase", ["r1"])})
    expect(noOrigin.status).to.equal(415)
    expect(JSON.parse(noOrigin.body).error.code).to.equal(RpcErrorCodes.INVALID_REQUEST)
    const fromPage = await send(server.url, {headers: {"content-type": "text/plain;charset=UTF-8", origin: "https://evil.example"}, body: call("test_erase", ["r2"])})
    expect(fromPage.status).to.be.oneOf([403, 415])
    const form = await send(server.url, {headers: {"content-type": "application/x-www-form-urlencoded"}, body: call("test_erase", ["r3"])})
    expect(form.status).to.equal(415)
    expect(calls).to.deep.equal([])
    const json = await send(server.url, {headers: {"content-type": "application/json; charset=utf-8"}, body: call("test_erase", ["ok"])})
    expect(json.status).to.equal(200)
    expect(calls).to.deep.equal(["erase ok"])
  })

  it("refuses a foreign Host (DNS rebinding) and serves the bind address and localhost names", async () => {
    const server = await startServer()
    const port = server.port
    for (const host of [`evil.example:${port}`, `127.0.0.1.evil.example:${port}`, "attacker.test"]) {
      const answer = await send(server.url, {headers: {"content-type": "application/json", host}, body: call("test_erase", ["x"])})
      expect(answer.status, host).to.equal(403)
      expect(JSON.parse(answer.body).error.code, host).to.equal(RpcErrorCodes.FORBIDDEN)
    }
    expect(calls).to.deep.equal([])
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST.:${port}`, `[::1]:${port}`]) {
      const answer = await send(server.url, {headers: {"content-type": "application/json", host}, body: call("test_erase", ["ok"])})
      expect(answer.status, host).to.equal(200)
    }
    const configured = await startServer({allowedHosts: ["rpc.hospital-a.example"]})
    expect((await send(configured.url, {headers: {"content-type": "application/json", host: "rpc.hospital-a.example:443"}, body: call("test_erase", ["c"])})).status).to.equal(200)
    expect((await send(configured.url, {headers: {"content-type": "application/json", host: `localhost:${configured.port}`}, body: call("test_erase", ["d"])})).status).to.equal(403)
  })

  it("sends no CORS headers and refuses a foreign Origin unless that origin is configured", async () => {
    const server = await startServer()
    const post = await send(server.url, {headers: {"content-type": "application/json", origin: "https://evil.example"}, body: call("test_erase", ["x"])})
    expect(post.status).to.equal(403)
    expect(post.headers["access-control-allow-origin"]).to.equal(undefined)
    const preflight = await send(server.url, {method: "OPTIONS", headers: {origin: "https://evil.example", "access-control-request-method": "POST"}})
    expect(preflight.status).to.equal(403)
    expect(preflight.headers["access-control-allow-origin"]).to.equal(undefined)
    expect(calls).to.deep.equal([])

    const dashboard = "https://dashboard.hospital-a.example"
    const open = await startServer({corsOrigins: [dashboard]})
    const allowed = await send(open.url, {
      method: "OPTIONS",
      headers: {origin: dashboard, "access-control-request-method": "POST", "access-control-request-headers": "content-type"},
    })
    expect(allowed.status).to.equal(204)
    expect(allowed.headers["access-control-allow-origin"]).to.equal(dashboard)
    expect(allowed.headers["access-control-allow-methods"]).to.contain("POST")
    expect(allowed.headers["access-control-allow-headers"]).to.contain("content-type")
    const real = await send(open.url, {headers: {"content-type": "application/json", origin: dashboard}, body: call("test_erase", ["ok"])})
    expect(real.status).to.equal(200)
    expect(real.headers["access-control-allow-origin"]).to.equal(dashboard)
    const other = await send(open.url, {headers: {"content-type": "application/json", origin: "https://evil.example"}, body: call("test_erase", ["no"])})
    expect(other.status).to.equal(403)
    expect(calls).to.deep.equal(["erase ok"])
  })

  it("refuses WebSocket upgrades from a foreign Origin or Host, and a token in the URL", async () => {
    const tokensFile = join(dir, "tokens.json")
    writeFileSync(tokensFile, JSON.stringify({tokens: [{name: "ops", token: "admin-token-0123456789", permission: "admin"}]}), {mode: 0o600})
    const server = await startServer()
    expect(await upgrade(server.wsUrl, {origin: "https://evil.example"})).to.deep.equal({outcome: 403})
    expect(await upgrade(server.wsUrl, {host: `evil.example:${server.port}`})).to.deep.equal({outcome: 403})
    const local = await upgrade(server.wsUrl)
    expect(local.outcome).to.equal("open")
    if (local.outcome === "open") {
      const answer = new Promise<string>((resolve) => local.ws.once("message", (data) => resolve(String(data))))
      local.ws.send(call("test_erase", ["ws"]))
      expect(JSON.parse(await answer).result).to.equal(true)
      local.ws.close()
    }
    expect(calls).to.deep.equal(["erase ws"])
    const withTokens = await startServer({tokensFile})
    expect(await upgrade(`${withTokens.wsUrl}/?token=admin-token-0123456789`)).to.deep.equal({outcome: 400})
  })

  it("refuses a tokens file that group or others may read, as it refuses such a node key", () => {
    const tokensFile = join(dir, "tokens.json")
    writeFileSync(tokensFile, JSON.stringify({tokens: [{name: "ops", token: "admin-token-0123456789", permission: "admin"}]}))
    chmodSync(tokensFile, 0o644)
    expect(() => new RpcServer({...defaultRpcServerOptions, port: 0, tokensFile}, {methods: new Map(), logger: silentLogger()}))
      .to.throw()
      .with.property("code", NodeConfigErrorCode.FILE_TOO_OPEN)
    chmodSync(tokensFile, 0o600)
    expect(new RpcServer({...defaultRpcServerOptions, port: 0, tokensFile}, {methods: new Map(), logger: silentLogger()}).authRequired).to.equal(true)
  })

  it("careledger rpc takes its token from a private file or the environment, never from argv", async () => {
    const tokensFile = join(dir, "tokens.json")
    const token = "admin-token-0123456789"
    writeFileSync(tokensFile, JSON.stringify({tokens: [{name: "ops", token, permission: "admin"}]}), {mode: 0o600})
    const server = await startServer({tokensFile})
    const run = async (args: string[], env: Record<string, string> = {}): Promise<{code: number; out: string[]; err: string[]}> => {
      const out: string[] = []
      const err: string[] = []
      const code = await runCli(["rpc", "test_erase", "cli", "--url", server.url, ...args], {out: (l) => out.push(l), err: (l) => err.push(l), env, isTty: false})
      return {code, out, err}
    }
    const inArgv = await run(["--token", token])
    expect(inArgv.code).to.equal(2)
    expect(inArgv.err.join("\n")).to.contain("--token-file")
    const tokenFile = join(dir, "token")
    writeFileSync(tokenFile, `${token}\n`, {mode: 0o644})
    chmodSync(tokenFile, 0o644)
    expect((await run(["--token-file", tokenFile])).code).to.equal(1)
    expect(calls).to.deep.equal([])
    chmodSync(tokenFile, 0o600)
    expect((await run(["--token-file", tokenFile])).code).to.equal(0)
    expect((await run([], {CARELEDGER_RPC_TOKEN: token})).code).to.equal(0)
    expect(calls).to.deep.equal(["erase cli", "erase cli"])
  })

  it("serves HTTPS and WSS with a configured certificate and key", async function () {
    const {cert, key} = selfSignedCertificate(dir, "rpc")
    const ca = readFileSync(cert)
    const server = await startServer({tlsCert: cert, tlsKey: key})
    expect(server.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/)
    expect(server.wsUrl).to.match(/^wss:/)
    const answer = await send(server.url, {headers: {"content-type": "application/json"}, body: call("test_erase", ["tls"]), ca})
    expect(answer.status).to.equal(200)
    expect(JSON.parse(answer.body).result).to.equal(true)
    // Plain HTTP on the TLS port gets no JSON-RPC answer.
    const plain = await send(server.url.replace("https:", "http:"), {headers: {"content-type": "application/json"}, body: call("test_erase", ["plain"])}).catch((err: Error) => err)
    expect(plain instanceof Error || plain.status === 400).to.equal(true)
    const ws = await upgrade(server.wsUrl, {ca})
    expect(ws.outcome).to.equal("open")
    if (ws.outcome === "open") ws.ws.close()
    expect(calls).to.deep.equal(["erase tls"])
    chmodSync(key, 0o644)
    expect(() => new RpcServer({...defaultRpcServerOptions, port: 0, tlsCert: cert, tlsKey: key}, {methods: new Map(), logger: silentLogger()}))
      .to.throw()
      .with.property("code", NodeConfigErrorCode.FILE_TOO_OPEN)
  })
})
