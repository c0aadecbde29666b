import {expect} from "chai"
import {mkdtempSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {defaultConfig} from "../../src/config/index.js"
import {buildGenesis, writeGenesisFile} from "../../src/genesis/index.js"
import {loadOrCreateNodeKey} from "../../src/keystore/index.js"
import {silentLogger} from "../../src/logger/index.js"
import {CareLedgerNode} from "../../src/node/index.js"

describe("fhir endpoint in the node", () => {
  it("refuses a non-loopback FHIR host without TLS before anything opens, and accepts it with TLS or with the endpoint off", () => {
    const dir = mkdtempSync(join(tmpdir(), "careledger-fhir-node-"))
    try {
      const key = loadOrCreateNodeKey(dir).key
      const genesis = join(dir, "genesis.json")
      writeGenesisFile(genesis, buildGenesis({chainId: "fhir-host", hospitals: [{id: "hosp-a", name: "Hospital A", key: key.id, validator: true}]}))
      const config = {...defaultConfig(dir), genesis, fhirHost: "0.0.0.0"}
      expect(() => new CareLedgerNode(config, {logger: silentLogger()}))
        .to.throw(/FHIR host 0\.0\.0\.0 is not loopback.*--fhir-tls-cert/)
        .with.property("code", "CONFIG_ERROR_BAD_VALUE")
      expect(() => new CareLedgerNode({...config, fhirTlsCert: join(dir, "fhir.crt")}, {logger: silentLogger()})).to.throw(/is not loopback/)
      expect(() => new CareLedgerNode({...config, fhirTlsCert: join(dir, "fhir.crt"), fhirTlsKey: join(dir, "fhir.key")}, {logger: silentLogger()})).to.not.throw()
      expect(() => new CareLedgerNode({...config, fhir: false}, {logger: silentLogger()})).to.not.throw()
      expect(() => new CareLedgerNode({...config, fhirHost: "127.0.0.1", fhirPublicUrl: "ftp://x/fhir"}, {logger: silentLogger()}))
        .to.throw(/must be an http\(s\) URL/)
        .with.property("code", "CONFIG_ERROR_BAD_VALUE")
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
