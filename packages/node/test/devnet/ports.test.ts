import {expect} from "chai"
import {createServer} from "node:net"
import {ephemeralPortRange, freePort} from "../../src/devnet/index.js"

describe("devnet ports", () => {
  it("hands out distinct bindable ports that no outgoing connection can take first", async () => {
    const [low, high] = ephemeralPortRange()
    const ports: number[] = []
    for (let i = 0; i < 64; i++) ports.push(await freePort())
    // Sixteen nodes need 64 ports: none twice, none where a node's dial to a peer could take it.
    expect(new Set(ports).size).to.equal(ports.length)
    for (const port of ports) expect(port < low || port > high, `port ${port} inside the ephemeral range ${low}-${high}`).to.equal(true)
    for (const port of ports.slice(0, 8)) {
      const server = createServer()
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject)
        server.listen(port, "127.0.0.1", resolve)
      })
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
