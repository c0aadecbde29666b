/**
 * The JSON shapes of the CareLedger JSON-RPC API. The node implements exactly these types and the
 * client calls with them, so both sides are checked by the compiler. Bytes travel as lowercase hex.
 * Names end in `Json` where core has a value of the same idea (the store's head, the machine's status).
 */

export type Hex = string

export type Permission = "read" | "submit" | "admin"

export interface NodeInfo {
  chainId: string
  /** Hex public key of this node (its validator identity when it is one). */
  nodeKey: Hex
  peerId: string
  /** The hospital this node belongs to, when its key is a member of genesis or a later vote. */
  hospital: string | null
  validator: boolean
  observer: boolean
  version: string
  listenAddrs: string[]
  height: number
  syncing: boolean
}

export interface PeerInfoJson {
  peerId: string
  addrs: string[]
  /** Hex public key of the peer, when it is an Ed25519 peer ID. */
  key: Hex | null
  hospital: string | null
  /** Height the peer announced in its last status message. */
  height: number | null
}

export interface ChainHeadJson {
  height: number
  hash: Hex
  finalizedHeight: number
  finalizedHash: Hex
  timestamp: number
}

export interface CommitSignatureJson {
  validator: Hex
  signature: Hex
}

export interface CommitJson {
  height: number
  round: number
  blockHash: Hex
  signatures: CommitSignatureJson[]
}

export interface HeaderJson {
  chainId: string
  height: number
  round: number
  parentHash: Hex
  timestamp: number
  proposer: Hex
  txRoot: Hex
  stateRoot: Hex
  validatorsHash: Hex
  lastCommit: CommitJson | null
}

/** A JSON view of any value where byte strings became hex. */
export type JsonValue = null | boolean | number | string | JsonValue[] | {[key: string]: JsonValue}

export interface TxJson {
  hash: Hex
  chainId: string
  type: string
  sender: Hex
  nonce: number
  payload: JsonValue
  signature: Hex
  /** The canonical bytes, as `tx_send` takes them. */
  raw: Hex
}

export interface BlockJson {
  hash: Hex
  header: HeaderJson
  txs: TxJson[]
  /** The certificate that finalized this block (it also travels in the next block's header). */
  commit: CommitJson | null
}

export type TxStatus = "pending" | "final"

export interface TxLookup {
  status: TxStatus
  tx: TxJson
  /** Where the transaction is, once final. */
  blockHeight: number | null
  blockHash: Hex | null
  index: number | null
}

export interface MerkleStepJson {
  side: "left" | "right"
  hash: Hex
}

/** Everything needed to check that a transaction is final without trusting the node. */
export interface TxProof {
  chainId: string
  txHash: Hex
  index: number
  path: MerkleStepJson[]
  header: HeaderJson
  blockHash: Hex
  commit: CommitJson
  /** The validator set that had to sign `commit` (the set in force at the block's height). */
  validators: Hex[]
}

export interface ValidatorInfo {
  hospital: string
  name: string
  key: Hex
  peerId: string
}

export interface HospitalInfo extends ValidatorInfo {
  validator: boolean
}

export interface ConsensusTimeout {
  height: number
  round: number
  /** Which wait ran out: propose, prevote or precommit. */
  step: string
  at: number
}

export interface ConsensusStatusJson {
  height: number
  round: number
  step: string
  /** Hex key of the proposer of the current height and round. */
  proposer: Hex | null
  validator: boolean
  validators: number
  lastTimeouts: ConsensusTimeout[]
  evidence: JsonValue[]
}

export interface TxSubmitted {
  hash: Hex
}

/** A proposal to change the validator set that has not passed yet (validator_getPendingVotes). */
/** One outcome of tx_sendBatch, in the order sent: the hash once pending, or the JSON-RPC error tx_send would have answered. */
export type TxBatchOutcome = {hash: Hex} | {error: {code: number; message: string; data?: JsonValue}}

/** A proposal to change the validator set that has not passed yet (validator_getPendingVotes). */
export interface PendingValidatorVote {
  action: "add" | "remove"
  hospital: string
  key: Hex
  name: string
  /** Validators whose votes count, in vote order. */
  voters: {hospital: string; key: Hex}[]
  votes: number
  /** Votes that pass it: more than half of the validators. */
  needed: number
  validators: number
}

export type SubscriptionTopic = "newHeads" | "finalized"

/** What `chain_subscription` notifications carry. */
export interface HeadNotification {
  subscription: string
  result: ChainHeadJson & {txs: number}
}
