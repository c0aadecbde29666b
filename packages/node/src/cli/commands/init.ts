import {copyFileSync, existsSync, mkdirSync, writeFileSync} from "node:fs"
import {dirname, join, resolve} from "node:path"
import {parseArgs} from "node:util"
import {CONFIG_FILE, configFlagSpec, layerFromFlags, parseLayer, readConfigFile, type ConfigLayer} from "../../config/index.js"
import {readGenesisFile} from "../../genesis/index.js"
import {loadOrCreateNodeKey, nodeKeyPath, readKeyFile, writeKeyFile} from "../../keystore/index.js"
import {UsageError, type CliIo} from "../io.js"

/**
 * Prepares a data dir: the node key (created once, never replaced), a copy of the genesis and a
 * config file holding whatever start flags were given, so `careledger start --datadir DIR` is enough.
 */
export async function initCommand(args: string[], io: CliIo): Promise<number> {
  const {values} = parseArgs({args, options: {...configFlagSpec(), key: {type: "string"}}, strict: true})
  const layer = parseLayer(layerFromFlags(values), "flags")
  if (typeof layer.dataDir !== "string") throw new UsageError("--datadir is required")
  if (typeof layer.genesis !== "string") throw new UsageError("--genesis is required")
  const dataDir = resolve(layer.dataDir)
  mkdirSync(dataDir, {recursive: true, mode: 0o700})
  const genesis = readGenesisFile(layer.genesis)
  const genesisTarget = join(dataDir, "genesis.json")
  if (resolve(layer.genesis) !== genesisTarget) copyFileSync(layer.genesis, genesisTarget)
  // --key imports an existing key (e.g. one listed in a genesis made beforehand) when the dir has none.
  const importing = typeof values.key === "string" && !existsSync(nodeKeyPath(dataDir))
  if (importing) writeKeyFile(nodeKeyPath(dataDir), readKeyFile(values.key as string))
  const {key, created} = loadOrCreateNodeKey(dataDir)
  if (typeof values.key === "string" && !importing && readKeyFile(values.key).id !== key.id) {
    io.err(`warning: ${values.key} was not imported: ${nodeKeyPath(dataDir)} already holds another key, which is kept`)
  }
  // With --config the file lives elsewhere, so it names the data dir; in the data dir it need not.
  const configFlag = (values as {config?: string}).config
  const explicit = configFlag !== undefined
  const configPath = explicit ? resolve(configFlag) : join(dataDir, CONFIG_FILE)
  const existing = existsSync(configPath) ? readConfigFile(configPath) : {}
  const saved: ConfigLayer = {...existing, ...layer}
  delete saved.dataDir
  if (explicit) saved.dataDir = dataDir
  saved.genesis = "genesis.json"
  mkdirSync(dirname(configPath), {recursive: true})
  writeFileSync(configPath, `${JSON.stringify(saved, null, 2)}\n`)
  const member = genesis.hospitals.find((h) => h.key === key.id)
  io.out(`data dir: ${dataDir}`)
  io.out(`config: ${configPath}`)
  io.out(`node key: ${importing ? "imported" : created ? "created" : "kept"} ${join(dataDir, "node.key")}`)
  io.out(`public key: ${key.id}`)
  io.out(`peer id: ${key.peerId}`)
  io.out(`chain: ${genesis.chainId}; ${member === undefined ? "this key is not a genesis hospital (it can join as an observer once voted in or listed)" : `hospital ${member.id}${member.validator ? " (validator)" : " (observer)"}`}`)
  return 0
}
