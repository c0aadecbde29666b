import {parseArgs} from "node:util"
import {CareLedgerClient} from "@careledger/client"
import {UsageError, type CliIo} from "../io.js"

export const rpcUsage = "careledger rpc METHOD [PARAMS-JSON | ARG ...] [--url URL] [--token TOKEN]"

/** Calls one JSON-RPC method and prints the result as JSON. */
export async function rpcCommand(args: string[], io: CliIo): Promise<number> {
  const {values, positionals} = parseArgs({
    args,
    options: {url: {type: "string"}, token: {type: "string"}, timeout: {type: "string"}},
    allowPositionals: true,
    strict: true,
  })
  const [method, ...rawParams] = positionals
  if (method === undefined) throw new UsageError("METHOD is required")
  const url = values.url ?? io.env.CARELEDGER_RPC_URL ?? "http://127.0.0.1:8545"
  const token = values.token ?? io.env.CARELEDGER_RPC_TOKEN
  const client = new CareLedgerClient({url, ...(token === undefined ? {} : {token}), timeoutMs: Number(values.timeout ?? 10_000)})
  const result = await client.request(method, paramsFrom(rawParams))
  io.out(JSON.stringify(result, null, 2))
  return 0
}

/** One JSON object or array is the params; otherwise each argument is one positional param. */
function paramsFrom(raw: string[]): unknown {
  if (raw.length === 0) return []
  const parsed = raw.map((arg) => {
    try {
      return JSON.parse(arg) as unknown
    } catch {
      return arg
    }
  })
  if (parsed.length === 1 && parsed[0] !== null && typeof parsed[0] === "object") return parsed[0]
  return parsed
}
