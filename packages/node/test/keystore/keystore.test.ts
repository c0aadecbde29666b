import {expect} from "chai"
import {chmodSync, mkdtempSync, rmSync, statSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {KeystoreErrorCode, loadOrCreateNodeKey, nodeKeyPath, readKeyFile} from "../../src/keystore/index.js"

describe("keystore", () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "careledger-keys-"))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it("creates node.key once, owner-only, and loads the same key afterwards", () => {
    const first = loadOrCreateNodeKey(dir)
    expect(first.created).to.equal(true)
    expect(statSync(nodeKeyPath(dir)).mode & 0o777).to.equal(0o600)
    const again = loadOrCreateNodeKey(dir)
    expect(again.created).to.equal(false)
    expect(again.key.id).to.equal(first.key.id)
  })

  it("refuses a key file others can read", () => {
    loadOrCreateNodeKey(dir)
    chmodSync(nodeKeyPath(dir), 0o644)
    expect(() => readKeyFile(nodeKeyPath(dir))).to.throw().with.property("code", KeystoreErrorCode.TOO_OPEN)
  })
})
