/**
 * An in-order TCP delay proxy for the fault suite (the kernel here has no netem): listens on
 * LISTEN_HOST:LISTEN_PORT, forwards every connection to TARGET_HOST:TARGET_PORT, and holds each
 * chunk, in both directions, for the delay (ms) written in DELAY_FILE (re-read every 200 ms, so the
 * suite turns the delay on and off without reconnecting anyone). Bytes of one direction always
 * leave in the order they came, even when the delay shrinks.
 *
 *   node proxy.js LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_FILE
 */
import {readFileSync} from "node:fs"
import {connect, createServer, type Socket} from "node:net"

const [listenHost, listenPort, targetHost, targetPort, delayFile] = process.argv.slice(2)
if (delayFile === undefined) {
  process.stderr.write("usage: proxy.js LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_FILE\n")
  process.exit(2)
}

/** Per direction, bytes waiting for their release time; past this the source is paused. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024
let delayMs = 0

function readDelay(): void {
  try {
    const value = Number(readFileSync(delayFile!, "utf8").trim())
    if (Number.isFinite(value) && value >= 0) delayMs = value
  } catch {
    delayMs = 0
  }
}
readDelay()
setInterval(readDelay, 200).unref()

/** Copies `from` to `to`, each chunk released `delayMs` after it arrived and never before the one ahead of it. */
function delayedPipe(from: Socket, to: Socket): void {
  const queue: {due: number; chunk: Buffer}[] = []
  let queued = 0
  let timer: NodeJS.Timeout | undefined
  let ended = false

  const drain = (): void => {
    timer = undefined
    const now = Date.now()
    while (queue.length > 0 && queue[0]!.due <= now) {
      const {chunk} = queue.shift()!
      queued -= chunk.length
      to.write(chunk)
    }
    if (queued < MAX_QUEUED_BYTES && from.isPaused()) from.resume()
    if (queue.length > 0) timer = setTimeout(drain, queue[0]!.due - now)
    else if (ended) to.end()
  }

  from.on("data", (chunk: Buffer) => {
    const last = queue.length > 0 ? queue[queue.length - 1]!.due : 0
    queue.push({due: Math.max(Date.now() + delayMs, last), chunk})
    queued += chunk.length
    if (queued >= MAX_QUEUED_BYTES) from.pause()
    if (timer === undefined) timer = setTimeout(drain, Math.max(0, queue[0]!.due - Date.now()))
  })
  from.on("end", () => {
    ended = true
    if (queue.length === 0 && timer === undefined) to.end()
  })
}

const server = createServer((client) => {
  const upstream = connect({host: targetHost!, port: Number(targetPort)})
  const close = (): void => {
    client.destroy()
    upstream.destroy()
  }
  client.on("error", close).on("close", close)
  upstream.on("error", close).on("close", close)
  delayedPipe(client, upstream)
  delayedPipe(upstream, client)
})
server.listen(Number(listenPort), listenHost, () => process.stdout.write(`proxy ${listenHost}:${listenPort} -> ${targetHost}:${targetPort}\n`))
process.on("SIGTERM", () => process.exit(0))
