#!/usr/bin/env node
import type {CliIo} from "./io.js"
import {runCli} from "./run.js"

const io: CliIo = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  env: process.env,
  isTty: process.stdout.isTTY === true,
}

process.exitCode = await runCli(process.argv.slice(2), io)
