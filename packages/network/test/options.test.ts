import {expect} from "chai"
import {PrivateKey} from "@careledger/core"
import {bootstrapAddress, NetworkErrorCode} from "../src/index.js"

describe("bootstrap addresses", () => {
  const key = PrivateKey.generate()
  const peerIdOf = (hospital: string): string | undefined => (hospital === "hosp-b" ? key.peerId : undefined)

  it("turns HOSPITAL@HOST:PORT into a multiaddr with the hospital's peer id", () => {
    expect(bootstrapAddress("hosp-b@10.0.0.2:30400", peerIdOf)).to.equal(`/ip4/10.0.0.2/tcp/30400/p2p/${key.peerId}`)
    expect(bootstrapAddress("hosp-b@hosp-b.example.org:30400", peerIdOf)).to.equal(`/dns4/hosp-b.example.org/tcp/30400/p2p/${key.peerId}`)
    expect(bootstrapAddress("hosp-b@[::1]:30400", peerIdOf)).to.equal(`/ip6/::1/tcp/30400/p2p/${key.peerId}`)
    const full = `/ip4/127.0.0.1/tcp/1/p2p/${key.peerId}`
    expect(bootstrapAddress(full, peerIdOf)).to.equal(full)
  })

  it("refuses an unknown hospital or a malformed entry", () => {
    for (const entry of ["hosp-x@10.0.0.2:30400", "10.0.0.2:30400", "hosp-b@10.0.0.2", "hosp-b@10.0.0.2:99999"]) {
      expect(() => bootstrapAddress(entry, peerIdOf), entry).to.throw().with.property("code", NetworkErrorCode.BAD_MULTIADDR)
    }
  })
})
