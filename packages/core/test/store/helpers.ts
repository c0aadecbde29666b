/** Builders for store tests and the crash-test writer: a real genesis, real signed txs and commits. */
import {mkdtempSync, rmSync} from "node:fs"
import {tmpdir} from "node:os"
import {join} from "node:path"
import {encode} from "../../src/encoding/index.js"
import {utf8} from "../../src/encoding/bytes.js"
import {sha256} from "../../src/crypto/hash.js"
import {PrivateKey} from "../../src/crypto/keys.js"
import {Block, validatorsHashOf, type BlockHeader} from "../../src/block/block.js"
import {precommitSigningBytes, quorumSize, type CommitCertificate} from "../../src/block/commit.js"
import {Transaction} from "../../src/tx/transaction.js"
import {proposerOf} from "../../src/chain/proposer.js"
import {Role, TxType} from "../../src/tx/types.js"
import type {BlockExecution, Genesis, StateWrites} from "../../src/state/types.js"

export const TEST_CHAIN_ID = "careledger-test"

export function testKey(seedByte: number): PrivateKey {
  return PrivateKey.fromSeed(new Uint8Array(32).fill(seedByte))
}

export function validatorKeys(n: number): PrivateKey[] {
  return Array.from({length: n}, (_, i) => testKey(0x10 + i))
}

export function testGenesis(keys: readonly PrivateKey[], chainId = TEST_CHAIN_ID): Genesis {
  return {
    chainId,
    timestamp: 1_700_000_000_000,
    hospitals: keys.map((key, i) => ({id: `hosp-${i}`, name: `Hospital ${i}`, key: key.id, validator: true})),
    consensus: {blockIntervalMs: 1000, roundTimeoutMs: 3000, emptyBlocks: true},
  }
}

export function testStateRoot(label: string, height: number): Uint8Array {
  return sha256(encode(["test-state-root", label, height]))
}

export interface GenesisFixture {
  genesis: Genesis
  block: Block
  execution: BlockExecution
}

export function genesisFixture(keys: readonly PrivateKey[], chainId = TEST_CHAIN_ID): GenesisFixture {
  const genesis = testGenesis(keys, chainId)
  const validators = keys.map((key) => key.publicKey)
  const writes: StateWrites = new Map([["test/genesis", utf8(chainId)]])
  const execution: BlockExecution = {writes, stateRoot: testStateRoot(chainId, 0), validators}
  const block = Block.create(
    {
      chainId,
      height: 0,
      round: 0,
      parentHash: new Uint8Array(32),
      timestamp: genesis.timestamp,
      proposer: new Uint8Array(32),
      stateRoot: execution.stateRoot,
      validatorsHash: validatorsHashOf(validators),
      lastCommit: null,
    },
    [],
  )
  return {genesis, block, execution}
}

export interface NextBlockOptions {
  chainId?: string
  txs?: Transaction[]
  writes?: StateWrites
  /** Validator set the block's execution leaves for the next height (default: unchanged). */
  nextValidators?: Uint8Array[]
  /** Keys that sign the commit (default: all `signers`). */
  commitKeys?: readonly PrivateKey[]
  round?: number
}

export interface BuiltBlock {
  block: Block
  commit: CommitCertificate
  execution: BlockExecution
}

/**
 * The block after `parent`, finalized by `signers` (the set in force at its height). Every block
 * writes "test/height" so a reader can tell which block the state belongs to.
 */
export function nextBlock(
  parent: {height: number; hash: Uint8Array; header: Readonly<BlockHeader>},
  signers: readonly PrivateKey[],
  options: NextBlockOptions = {},
): BuiltBlock {
  const chainId = options.chainId ?? parent.header.chainId
  const height = parent.height + 1
  const round = options.round ?? 0
  const writes: StateWrites = new Map(options.writes ?? [])
  writes.set("test/height", encode(height))
  const execution: BlockExecution = {
    writes,
    stateRoot: testStateRoot(chainId, height),
    validators: options.nextValidators ?? signers.map((key) => key.publicKey),
  }
  const block = Block.create(
    {
      chainId,
      height,
      round,
      parentHash: parent.hash,
      timestamp: parent.header.timestamp + 1000,
      proposer: proposerOf(signers, height, round).publicKey,
      stateRoot: execution.stateRoot,
      validatorsHash: validatorsHashOf(signers.map((key) => key.publicKey)),
      lastCommit: null,
    },
    options.txs ?? [],
  )
  const commitKeys = options.commitKeys ?? signers.slice(0, quorumSize(signers.length))
  const message = precommitSigningBytes(chainId, height, round, block.hash())
  const commit: CommitCertificate = {
    height,
    round,
    blockHash: block.hash(),
    signatures: commitKeys.map((key) => ({validator: key.publicKey, signature: key.sign(message)})),
  }
  return {block, commit, execution}
}

/** A valid identity.register tx (the kind of tx every block of these tests carries). */
export function registerTx(sender: PrivateKey, nonce: number, enrolled: PrivateKey, chainId = TEST_CHAIN_ID): Transaction {
  return Transaction.sign({chainId, type: TxType.IdentityRegister, nonce, payload: {key: enrolled.publicKey, role: Role.Patient}}, sender)
}

export function tempDir(label: string): {dir: string; remove: () => void} {
  const dir = mkdtempSync(join(tmpdir(), `careledger-${label}-`))
  return {dir, remove: () => rmSync(dir, {recursive: true, force: true})}
}
