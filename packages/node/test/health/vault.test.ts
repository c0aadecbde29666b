import {expect} from "chai"
import {mkdtemp, readFile, readdir, rm, stat, writeFile, chmod} from "node:fs/promises"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {randomBytes} from "node:crypto"
import {utf8} from "@careledger/core"
import {Vault} from "../../src/health/vault.js"
import {VaultError, VaultErrorCode} from "../../src/health/errors.js"

async function allFileBytes(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = []
  for (const entry of await readdir(dir, {withFileTypes: true, recursive: true})) {
    if (entry.isFile()) out.push(await readFile(join(entry.parentPath, entry.name)))
  }
  return out
}

async function rejection(p: Promise<unknown>): Promise<VaultError> {
  try {
    await p
  } catch (err) {
    expect(err).to.be.instanceOf(VaultError)
    return err as VaultError
  }
  throw new Error("expected a VaultError")
}

describe("health/vault", () => {
  let dir: string
  let vault: Vault
  const entry = {salt: new Uint8Array(randomBytes(32)), resource: utf8('{"resourceType":"Observation","note":"Zebulon"}')}

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "careledger-vault-"))
    vault = new Vault({datadir: dir})
    await vault.start()
  })

  afterEach(async () => {
    await vault.stop()
    await rm(dir, {recursive: true, force: true})
  })

  it("stores versions encrypted, reads them back, and survives a restart", async () => {
    await vault.putNew("rec-1", 1, entry)
    await vault.putNew("rec-1", 2, {...entry, resource: utf8("v2")})
    for (const bytes of await allFileBytes(dir)) expect(bytes.includes(Buffer.from("Zebulon"))).to.equal(false)
    await vault.stop()
    await vault.start()
    expect(await vault.versions("rec-1")).to.deep.equal([1, 2])
    const back = await vault.get("rec-1", 1)
    expect(back?.salt).to.deep.equal(entry.salt)
    expect(back?.resource).to.deep.equal(entry.resource)
    expect(await vault.get("rec-1", 3)).to.equal(undefined)
    expect(await vault.get("nope", 1)).to.equal(undefined)
  })

  it("keeps the vault key in a 0600 file and refuses one that others can read", async () => {
    const keyFile = join(dir, "vault.key")
    expect((await stat(keyFile)).mode & 0o777).to.equal(0o600)
    await vault.stop()
    await chmod(keyFile, 0o644)
    expect((await rejection(vault.start())).code).to.equal(VaultErrorCode.BAD_KEY)
    await chmod(keyFile, 0o600)
    await vault.start()
  })

  it("detects tampered ciphertext and swapped blobs", async () => {
    await vault.putNew("rec-1", 1, entry)
    await vault.putNew("rec-1", 2, {...entry, resource: utf8("second")})
    const path = vault.blobPath("custody", "rec-1", 1)
    const bytes = await readFile(path)
    bytes[bytes.length - 3] ^= 0x01
    await writeFile(path, bytes)
    expect((await rejection(vault.get("rec-1", 1))).code).to.equal(VaultErrorCode.TAMPERED)
    // Version 2's blob copied over version 1: authenticated data binds each blob to its version.
    await writeFile(path, await readFile(vault.blobPath("custody", "rec-1", 2)))
    expect((await rejection(vault.get("rec-1", 1))).code).to.equal(VaultErrorCode.TAMPERED)
    expect(new TextDecoder().decode((await vault.get("rec-1", 2))?.resource)).to.equal("second")
  })

  it("a different vault key cannot open the records", async () => {
    await vault.putNew("rec-1", 1, entry)
    await vault.stop()
    await writeFile(join(dir, "vault.key"), `${Buffer.from(randomBytes(32)).toString("hex")}\n`, {mode: 0o600})
    await vault.start()
    expect((await rejection(vault.get("rec-1", 1))).code).to.equal(VaultErrorCode.TAMPERED)
  })

  it("crypto-shreds: after erase neither the wrapped key nor the ciphertext is on disk", async () => {
    await vault.putNew("rec-1", 1, entry)
    await vault.putNew("rec-2", 1, entry)
    const sealed = await readFile(vault.blobPath("custody", "rec-1", 1))
    expect(await vault.erase("rec-1")).to.equal(true)
    expect(await vault.get("rec-1", 1)).to.equal(undefined)
    expect(await vault.has("rec-1")).to.equal(false)
    expect(await vault.versions("rec-1")).to.deep.equal([])
    // A 24-byte window of the ciphertext body must not survive anywhere in the vault's files.
    const probes = [Buffer.from(sealed.subarray(40, 64))]
    for (const bytes of await allFileBytes(dir)) for (const probe of probes) expect(bytes.includes(probe)).to.equal(false)
    expect((await vault.get("rec-2", 1))?.resource).to.deep.equal(entry.resource)
    expect(await vault.erase("rec-1")).to.equal(false)
  })

  it("concurrent first writes of one record share one data key", async () => {
    await Promise.all(Array.from({length: 8}, (_, i) => vault.putNew("rec-c", i + 1, {...entry, resource: utf8(`v${i + 1}`)})))
    for (let i = 1; i <= 8; i++) expect(new TextDecoder().decode((await vault.get("rec-c", i))?.resource)).to.equal(`v${i}`)
  })

  it("of concurrent writes of the same version exactly one stores, and the stored one is never replaced", async () => {
    const results = await Promise.all(Array.from({length: 6}, (_, i) => vault.putNew("rec-d", 1, {...entry, resource: utf8(`w${i}`)})))
    expect(results.filter((wrote) => wrote)).to.have.length(1)
    const winner = results.indexOf(true)
    expect(new TextDecoder().decode((await vault.get("rec-d", 1))?.resource)).to.equal(`w${winner}`)
  })

  it("journals node transactions durably until they are dropped", async () => {
    await vault.putPending("aa", utf8("tx-a"))
    await vault.putPending("bb", utf8("tx-b"))
    await vault.stop()
    await vault.start()
    expect((await vault.pending(10)).map((p) => p.hash)).to.deep.equal(["aa", "bb"])
    await vault.deletePending("aa")
    expect((await vault.pending(10)).map((p) => p.hash)).to.deep.equal(["bb"])
  })

  it("refuses unsafe ids and use before start", async () => {
    expect((await rejection(vault.putNew("../x", 1, entry))).code).to.equal(VaultErrorCode.BAD_ID)
    expect((await rejection(vault.putNew("ok", 0, entry))).code).to.equal(VaultErrorCode.BAD_ID)
    await vault.putNew("..", 1, entry)
    expect((await vault.get("..", 1))?.resource).to.deep.equal(entry.resource)
    await vault.stop()
    expect((await rejection(vault.get("ok", 1))).code).to.equal(VaultErrorCode.CLOSED)
  })
})
