import {
  MemoryState,
  PrivateKey,
  Purpose,
  Role,
  Transaction,
  TxType,
  checkTx,
  executeBlock,
  genesisExecution,
  getNextNonce,
  parseGenesis,
  sha256,
  utf8,
  type BlockExecution,
  type Genesis,
  type PayloadByType,
} from "../../src/index.js"

export const CHAIN_ID = "careledger-test"
export const GENESIS_TIME = 1_700_000_000_000
export const BLOCK_MS = 1000

/** Deterministic keys so failures reproduce. */
export function keyOf(name: string): PrivateKey {
  return PrivateKey.fromSeed(sha256(utf8(`careledger-test/${name}`)))
}

export function hash32(text: string): Uint8Array {
  return sha256(utf8(text))
}

/** A consortium of hospitals in genesis (validators unless listed in `observers`) over real state. */
export class TestChain {
  readonly state = new MemoryState()
  readonly genesis: Genesis
  height = 0
  stateRoot: Uint8Array
  validators: Uint8Array[]

  constructor(hospitals: string[] = ["hosp-a", "hosp-b", "hosp-c"], observers: string[] = []) {
    this.genesis = parseGenesis({
      chainId: CHAIN_ID,
      timestamp: GENESIS_TIME,
      hospitals: [...hospitals, ...observers].map((id) => ({
        id,
        name: `Hospital ${id}`,
        key: keyOf(id).id,
        validator: !observers.includes(id),
      })),
    })
    const execution = genesisExecution(this.genesis)
    this.state.apply(execution.writes)
    this.stateRoot = execution.stateRoot
    this.validators = execution.validators
  }

  get nextTimestamp(): number {
    return GENESIS_TIME + (this.height + 1) * BLOCK_MS
  }

  context(): {chainId: string; height: number; timestamp: number; parentStateRoot: Uint8Array} {
    return {chainId: CHAIN_ID, height: this.height + 1, timestamp: this.nextTimestamp, parentStateRoot: this.stateRoot}
  }

  async sign<T extends TxType>(key: PrivateKey, type: T, payload: PayloadByType[T], nonce?: number): Promise<Transaction<T>> {
    return Transaction.sign({chainId: CHAIN_ID, type, nonce: nonce ?? (await getNextNonce(this.state, key.publicKey)), payload}, key)
  }

  /** Executes a block of `txs` and commits it to the state. */
  async block(txs: readonly Transaction[]): Promise<BlockExecution> {
    const execution = await executeBlock(this.state, this.context(), txs)
    this.state.apply(execution.writes)
    this.height++
    this.stateRoot = execution.stateRoot
    this.validators = execution.validators
    return execution
  }

  /** Signs and commits one transaction in its own block. */
  async submit<T extends TxType>(key: PrivateKey, type: T, payload: PayloadByType[T]): Promise<Transaction<T>> {
    const tx = await this.sign(key, type, payload)
    await this.block([tx])
    return tx
  }

  /** The finalized height and its block time: what a custodian decides (and logs) as of. */
  decidedNow(): {height: number; at: number} {
    return {height: this.height, at: GENESIS_TIME + this.height * BLOCK_MS}
  }

  check(tx: Transaction): Promise<void> {
    return checkTx(this.state, tx, this.context())
  }

  async enrol(hospital: string, name: string, role: Role, patient?: PrivateKey): Promise<PrivateKey> {
    const key = keyOf(name)
    await this.submit(keyOf(hospital), TxType.IdentityRegister, {key: key.publicKey, role, ...(patient === undefined ? {} : {patient: patient.publicKey})})
    return key
  }

  async anchor(provider: PrivateKey, recordId: string, patient: PrivateKey, opts: {custodian?: string; resourceType?: string; version?: number; previous?: Uint8Array | null; content?: string} = {}) {
    const payload = {
      recordId,
      patient: patient.publicKey,
      resourceType: opts.resourceType ?? "Observation",
      custodian: opts.custodian ?? "hosp-a",
      contentHash: hash32(opts.content ?? `${recordId}/v${opts.version ?? 1}`),
      version: opts.version ?? 1,
      previous: opts.previous ?? null,
    }
    return this.submit(provider, TxType.RecordAnchor, payload)
  }
}

/** A populated chain: validator hospitals a, b, c and observer x; at hosp-a a provider, a lab, a researcher and two patients; a provider at hosp-b. */
export async function populated(): Promise<{
  chain: TestChain
  hospA: PrivateKey
  hospB: PrivateKey
  provider: PrivateKey
  lab: PrivateKey
  researcher: PrivateKey
  patient: PrivateKey
  otherPatient: PrivateKey
  providerB: PrivateKey
  researcherB: PrivateKey
}> {
  const chain = new TestChain(["hosp-a", "hosp-b", "hosp-c"], ["hosp-x"])
  const provider = await chain.enrol("hosp-a", "provider-a", Role.Provider)
  const lab = await chain.enrol("hosp-a", "lab-a", Role.Lab)
  const researcher = await chain.enrol("hosp-a", "researcher-a", Role.Researcher)
  const patient = await chain.enrol("hosp-a", "patient-1", Role.Patient)
  const otherPatient = await chain.enrol("hosp-a", "patient-2", Role.Patient)
  const providerB = await chain.enrol("hosp-b", "provider-b", Role.Provider)
  const researcherB = await chain.enrol("hosp-b", "researcher-b", Role.Researcher)
  return {chain, hospA: keyOf("hosp-a"), hospB: keyOf("hosp-b"), provider, lab, researcher, patient, otherPatient, providerB, researcherB}
}

export const FAR_FUTURE = GENESIS_TIME + 365 * 24 * 3600 * 1000

export {Purpose, Role, TxType}

/** Resolves to the error a promise or function throws, failing when it does not throw. */
export async function caught(action: Promise<unknown> | (() => unknown)): Promise<Error & {code?: string; details?: Record<string, unknown>}> {
  try {
    await (typeof action === "function" ? action() : action)
  } catch (err) {
    return err as Error & {code?: string}
  }
  throw new Error("expected an error, but none was thrown")
}
