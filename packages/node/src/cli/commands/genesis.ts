import {parseArgs} from "node:util"
import {buildGenesis, parseHospitalArg, writeGenesisFile} from "../../genesis/index.js"
import {intArg, UsageError, type CliIo} from "../io.js"

export async function genesisCommand(args: string[], io: CliIo): Promise<number> {
  const {values} = parseArgs({
    args,
    options: {
      "chain-id": {type: "string"},
      hospital: {type: "string", multiple: true},
      "block-interval": {type: "string"},
      "round-timeout": {type: "string"},
      "no-empty-blocks": {type: "boolean"},
      out: {type: "string"},
    },
    strict: true,
  })
  if (values["chain-id"] === undefined) throw new UsageError("--chain-id is required")
  if (values.out === undefined) throw new UsageError("--out is required")
  if (values.hospital === undefined || values.hospital.length === 0) throw new UsageError("at least one --hospital is required")
  const genesis = buildGenesis({
    chainId: values["chain-id"],
    hospitals: values.hospital.map(parseHospitalArg),
    ...(values["block-interval"] === undefined ? {} : {blockIntervalMs: intArg("--block-interval", values["block-interval"])}),
    ...(values["round-timeout"] === undefined ? {} : {roundTimeoutMs: intArg("--round-timeout", values["round-timeout"])}),
    emptyBlocks: values["no-empty-blocks"] !== true,
  })
  writeGenesisFile(values.out, genesis)
  const validators = genesis.hospitals.filter((h) => h.validator).length
  io.out(`wrote ${values.out}: chain ${genesis.chainId}, ${genesis.hospitals.length} hospitals, ${validators} validators`)
  return 0
}
