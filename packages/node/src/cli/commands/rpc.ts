import {parseArgs} from "node:util"
import {CareLedgerClient} from "@careledger/client"
import {intArg, UsageError, type CliIo} from "../io.js"

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
  const client = new CareLedgerClient({url, ...(token === undefined ? {} : {token}), ...(values.timeout === undefined ? {} : {timeoutMs: intArg("--timeout", values.timeout)})})
  const result = await client.request(method, paramsFrom(rawParams))
  io.out(JSON.stringify(result, null, 2))
  return 0
}

/**
 * One JSON object or array is the params; otherwise each argument is one positional param, a JSON
 * value or else a plain string. Text that starts like JSON (`{`, `[`, `"`) must be valid JSON: a
 * typo there is reported rather than sent as a string.
 */
export function paramsFrom(raw: string[]): unknown {
  if (raw.length === 0) return []
  const parsed = raw.map((arg) => {
    try {
      return JSON.parse(arg) as unknown
    } catch (err) {
      if (/^\s*[[{"]/.test(arg)) throw new UsageError(`params ${JSON.stringify(arg)} are not valid JSON: ${(err as Error).message}`)
      return arg
    }
  })
  if (parsed.length === 1 && parsed[0] !== null && typeof parsed[0] === "object") return parsed[0]
  return parsed
}
