#!/usr/bin/env node
import type {CliIo} from "./io.js"
import {runCli} from "./run.js"

const io: CliIo = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  env: process.env,
  isTty: process.stdout.isTTY === true,
}

const code = await runCli(process.argv.slice(2), io)
process.exitCode = code
// A daemon that has stopped cleanly exits even if a library left a timer or socket behind.
if (process.argv[2] === "start" || process.argv[2] === "devnet") setTimeout(() => process.exit(code), 1000).unref()
