import {expect} from "chai"
import {
  GenesisErrorCode,
  MemoryState,
  genesisBlock,
  genesisExecution,
  listHospitals,
  parseGenesis,
  toHex,
  validatorsHashOf,
  getChainMeta,
} from "../../src/index.js"
import {caught, keyOf} from "./fixture.js"

const valid = () => ({
  chainId: "careledger-dev",
  timestamp: 1_700_000_000_000,
  hospitals: [
    {id: "hosp-a", name: "Saint A", key: keyOf("hosp-a").id, validator: true},
    {id: "hosp-b", name: "B General", key: keyOf("hosp-b").id, validator: true},
    {id: "clinic-c", name: "Clinic C", key: keyOf("clinic-c").id, validator: false},
  ],
  consensus: {blockIntervalMs: 500, roundTimeoutMs: 2000, emptyBlocks: false},
})

describe("state/genesis", function () {
  it("parses a genesis file and builds block 0 and its state", async function () {
    const genesis = parseGenesis(JSON.parse(JSON.stringify(valid())))
    const execution = genesisExecution(genesis)
    expect(execution.validators.map(toHex)).to.deep.equal([keyOf("hosp-a").id, keyOf("hosp-b").id])
    const block = genesisBlock(genesis, execution)
    expect(block.header).to.include({height: 0, round: 0, chainId: "careledger-dev", timestamp: genesis.timestamp, lastCommit: null})
    expect(block.header.parentHash).to.deep.equal(new Uint8Array(32))
    expect(block.header.proposer).to.deep.equal(new Uint8Array(32))
    expect(block.header.validatorsHash).to.deep.equal(validatorsHashOf(execution.validators))
    expect(block.txs).to.have.length(0)
    const state = new MemoryState()
    state.apply(execution.writes)
    expect((await listHospitals(state)).map((h) => [h.id, h.validator])).to.deep.equal([
      ["clinic-c", false],
      ["hosp-a", true],
      ["hosp-b", true],
    ])
    expect(await getChainMeta(state)).to.deep.equal({chainId: "careledger-dev", consensus: genesis.consensus})
    // Same genesis, same block hash, on any node.
    expect(genesisBlock(genesis, genesisExecution(parseGenesis(valid()))).hashHex()).to.equal(block.hashHex())
  })

  it("fills in default consensus parameters", function () {
    const {consensus: _omit, ...rest} = valid()
    expect(parseGenesis(rest).consensus).to.deep.equal({blockIntervalMs: 1000, roundTimeoutMs: 1000, emptyBlocks: true})
  })

  const bad: [string, (g: ReturnType<typeof valid>) => unknown, GenesisErrorCode][] = [
    ["not an object", () => [], GenesisErrorCode.MALFORMED],
    ["an unknown field", (g) => ({...g, extra: 1}), GenesisErrorCode.MALFORMED],
    ["an empty chain id", (g) => ({...g, chainId: ""}), GenesisErrorCode.BAD_CHAIN_ID],
    ["a chain id with spaces", (g) => ({...g, chainId: "care ledger"}), GenesisErrorCode.BAD_CHAIN_ID],
    ["a fractional timestamp", (g) => ({...g, timestamp: 1.5}), GenesisErrorCode.BAD_TIMESTAMP],
    ["no hospitals", (g) => ({...g, hospitals: []}), GenesisErrorCode.BAD_HOSPITAL],
    ["an uppercase hospital id", (g) => ({...g, hospitals: [{...g.hospitals[0]!, id: "Hosp-A"}]}), GenesisErrorCode.BAD_HOSPITAL],
    ["a short key", (g) => ({...g, hospitals: [{...g.hospitals[0]!, key: "abcd"}]}), GenesisErrorCode.BAD_HOSPITAL],
    ["a missing name", (g) => ({...g, hospitals: [{...g.hospitals[0]!, name: ""}]}), GenesisErrorCode.BAD_HOSPITAL],
    ["a duplicate id", (g) => ({...g, hospitals: [g.hospitals[0], {...g.hospitals[1]!, id: "hosp-a"}]}), GenesisErrorCode.DUPLICATE_HOSPITAL],
    ["a duplicate key", (g) => ({...g, hospitals: [g.hospitals[0], {...g.hospitals[1]!, key: g.hospitals[0]!.key}]}), GenesisErrorCode.DUPLICATE_HOSPITAL],
    ["no validator", (g) => ({...g, hospitals: g.hospitals.map((h) => ({...h, validator: false}))}), GenesisErrorCode.NO_VALIDATORS],
    ["a block interval under 200 ms", (g) => ({...g, consensus: {...g.consensus, blockIntervalMs: 100}}), GenesisErrorCode.BAD_CONSENSUS_PARAMS],
    ["a round timeout over a minute", (g) => ({...g, consensus: {...g.consensus, roundTimeoutMs: 600_000}}), GenesisErrorCode.BAD_CONSENSUS_PARAMS],
    ["a round timeout under 500 ms", (g) => ({...g, consensus: {...g.consensus, roundTimeoutMs: 100}}), GenesisErrorCode.BAD_CONSENSUS_PARAMS],
    ["an unknown consensus field", (g) => ({...g, consensus: {...g.consensus, fast: true}}), GenesisErrorCode.MALFORMED],
  ]
  for (const [name, make, code] of bad) {
    it(`refuses ${name} with ${code}`, async function () {
      expect((await caught(() => parseGenesis(make(valid())))).code).to.equal(code)
    })
  }
})
