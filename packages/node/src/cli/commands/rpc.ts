import {parseArgs} from "node:util"
import {CareLedgerClient} from "@careledger/client"
import {readPrivateFile} from "../../rpc/auth.js"
import {intArg, UsageError, type CliIo} from "../io.js"

/** The flags every RPC-calling command takes to find the node and its token. */
export const RPC_CLIENT_FLAGS = {url: {type: "string"}, token: {type: "string"}, "token-file": {type: "string"}} as const

/**
 * The bearer token from `--token-file` (mode 600) or `$CARELEDGER_RPC_TOKEN`. A token given in
 * argv is refused: any user of the machine can read another process's arguments.
 */
export function rpcToken(values: {token?: string; "token-file"?: string}, env: CliIo["env"]): string | undefined {
  if (values.token !== undefined) {
    throw new UsageError("a token on the command line is visible to every user of this machine: use --token-file FILE or $CARELEDGER_RPC_TOKEN")
  }
  if (values["token-file"] !== undefined) return readPrivateFile(values["token-file"], "token file").toString("utf8").trim()
  return env.CARELEDGER_RPC_TOKEN
}

/** Calls one JSON-RPC method and prints the result as JSON. */
export async function rpcCommand(args: string[], io: CliIo): Promise<number> {
  const {values, positionals} = parseArgs({
    args,
    options: {...RPC_CLIENT_FLAGS, timeout: {type: "string"}},
    allowPositionals: true,
    strict: true,
  })
  const [method, ...rawParams] = positionals
  if (method === undefined) throw new UsageError("METHOD is required")
  const url = values.url ?? io.env.CARELEDGER_RPC_URL ?? "http://127.0.0.1:8545"
  const token = rpcToken(values, io.env)
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
