import {parseArgs} from "node:util"
import {configFlagSpec, layerFromFlags, resolveConfig} from "../../config/index.js"
import {createLogger} from "../../logger/index.js"
import {CareLedgerNode} from "../../node/node.js"
import type {CliIo} from "../io.js"

/** Runs the node until SIGINT or SIGTERM, then stops it cleanly (exit 0). */
export async function startCommand(args: string[], io: CliIo): Promise<number> {
  const {values} = parseArgs({args, options: configFlagSpec(), strict: true})
  const config = resolveConfig({env: io.env, flags: layerFromFlags(values), ...(typeof values.config === "string" ? {configPath: values.config} : {})})
  const logger = createLogger({level: config.logLevel, pretty: config.logFormat === "pretty" || (config.logFormat === "auto" && io.isTty)})
  const node = new CareLedgerNode(config, {logger})
  let stopping: Promise<void> | null = null
  const stop = (signal: string): void => {
    if (stopping !== null) return
    logger.info({signal}, "stopping")
    stopping = node.stop()
  }
  const done = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      stop(signal)
      void stopping!.then(resolve, resolve)
    }
    process.once("SIGINT", onSignal)
    process.once("SIGTERM", onSignal)
  })
  try {
    await node.start()
  } catch (err) {
    await node.stop().catch(() => undefined)
    throw err
  }
  await done
  return 0
}
