import {parseArgs} from "node:util"
import {PrivateKey, toHex} from "@careledger/core"
import {readKeyFile, writeKeyFile} from "../../keystore/index.js"
import {UsageError, type CliIo} from "../io.js"

export async function keysCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args
  const {values} = parseArgs({args: rest, options: {out: {type: "string"}, key: {type: "string"}, json: {type: "boolean"}}, strict: true})
  let key: PrivateKey
  if (sub === "generate") {
    key = PrivateKey.generate()
    if (values.out !== undefined) writeKeyFile(values.out, key)
  } else if (sub === "show") {
    if (values.key === undefined) throw new UsageError("keys show needs --key FILE")
    key = readKeyFile(values.key)
  } else {
    throw new UsageError(`unknown keys subcommand ${sub ?? "(none)"}`)
  }
  const info = {publicKey: key.id, peerId: key.peerId, ...(sub === "generate" && values.out !== undefined ? {file: values.out} : {})}
  if (sub === "generate" && values.out === undefined) {
    // Without --out the only copy of the secret is what we print, so print it, and say so.
    io.err("warning: no --out given; the private key below is the only copy")
    Object.assign(info, {privateKey: toHex(key.toLibp2pProtobuf())})
  }
  io.out(values.json === true ? JSON.stringify(info) : Object.entries(info).map(([k, v]) => `${k}: ${v}`).join("\n"))
  return 0
}
