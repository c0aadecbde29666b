/**
 * Every JSON-RPC route declared once: its name, its params (the parser the node runs before the
 * handler, from which the client's param types come), who may call it and its result type. The node
 * implements these (`serve` in node/src/rpc/method.ts) and the client calls them (`call`), so a change
 * here is checked on both sides by the compiler, as Lodestar's api package does for its routes.
 */
import {PURPOSES} from "../tx/types.js"
import {HOSPITAL_ID_PATTERN, MAX_HOSPITAL_ID_LENGTH, RECORD_ID_PATTERN} from "../tx/payload.js"
import type {JournalAnchorRecord} from "../state/records.js"
import type {AuditRequestJson, ReadRequestJson} from "../request/index.js"
import {p, params, type ParamsParser} from "./params.js"
import type {
  AuditPage,
  ConsentCheckResult,
  ConsentJson,
  FhirResource,
  RecordGetResult,
  RecordHistoryResult,
  RecordPutResult,
  RecordVerifyResult,
  TrialVerifyResult,
} from "./health.js"
import type {
  BlockJson,
  ChainHeadJson,
  ConsensusStatusJson,
  HospitalInfo,
  NodeInfo,
  PeerInfoJson,
  PendingValidatorVote,
  Permission,
  TxBatchOutcome,
  TxLookup,
  TxProof,
  JsonValue,
  TxSubmitted,
  ValidatorInfo,
} from "./types.js"

export interface Route<P, R> {
  readonly params: ParamsParser<P>
  /** The least permission a caller's token must carry. */
  readonly permission: Permission
  /** One line for docs and listings. */
  readonly summary: string
  /** Only a type: the result, for the handler and the client. Never set at run time. */
  readonly result?: R
}

/** Declares a route; `.returns<R>()` names its result type (params are inferred from the parser). */
export function route<P>(parser: ParamsParser<P>, spec: {permission: Permission; summary: string}): {returns<R>(): Route<P, R>} {
  return {returns: () => ({params: parser, permission: spec.permission, summary: spec.summary})}
}

export type RouteParams<T> = T extends Route<infer P, unknown> ? P : never
export type RouteResult<T> = T extends Route<unknown, infer R> ? R : never
/** What a caller passes: the parsed params, with the keys a parser lets be absent made optional. */
export type RouteInput<T> = OptionalUndefined<RouteParams<T>>
type OptionalUndefined<P> = {[K in keyof P as undefined extends P[K] ? never : K]: P[K]} & {[K in keyof P as undefined extends P[K] ? K : never]?: P[K]}

/** Largest hex accepted for one transaction: twice core's MAX_TX_BYTES. */
export const MAX_TX_HEX_BYTES = 64 * 1024
/** Most transactions in one tx_sendBatch (the request body bound applies as well). */
export const MAX_TX_BATCH = 512
/** Longest a chain_waitForTx call is held open. */
export const MAX_TX_WAIT_MS = 30_000
const hospitalId = () => p.string({min: 1, max: 32, pattern: /^[a-z0-9-]+$/})
const noParams = () => params({})

export const coreRoutes = {
  node_info: route(noParams(), {permission: "read", summary: "who this node is: chain, key, peer ID, hospital, role, addresses, height"}).returns<NodeInfo>(),
  net_peers: route(noParams(), {permission: "read", summary: "connected peers with their hospital and announced height"}).returns<PeerInfoJson[]>(),
  admin_addPeer: route(params({multiaddr: p.string({min: 1, max: 512, pattern: /\/p2p\/\w+$/})}), {
    permission: "admin",
    summary: "dial a member peer (multiaddr ending in /p2p/<peer id>) and keep redialling it",
  }).returns<{peerId: string | null; connected: boolean}>(),
  chain_head: route(noParams(), {
    permission: "read",
    summary: "latest block and latest finalized block (the same here: only final blocks are stored)",
  }).returns<ChainHeadJson>(),
  chain_getBlock: route(params({height: p.optional(p.uint()), hash: p.optional(p.hex({bytes: 32}))}), {
    permission: "read",
    summary: "a block by height or hash (exactly one of them), with its transactions and commit certificate (null when absent)",
  }).returns<BlockJson | null>(),
  chain_getTx: route(params({hash: p.hex({bytes: 32})}), {
    permission: "read",
    summary: "a transaction, pending in the mempool or final in a block (null when unknown)",
  }).returns<TxLookup | null>(),
  chain_waitForTx: route(params({hash: p.hex({bytes: 32}), timeoutMs: p.optional(p.uint({max: MAX_TX_WAIT_MS}))}), {
    permission: "read",
    summary: `answers as chain_getTx once the transaction is final, or when timeoutMs (default and at most ${MAX_TX_WAIT_MS}) pass`,
  }).returns<TxLookup | null>(),
  chain_getTxProof: route(params({hash: p.hex({bytes: 32})}), {
    permission: "read",
    summary: "Merkle path, header and commit certificate proving a final transaction (null when not final)",
  }).returns<TxProof | null>(),
  chain_getNonce: route(params({account: p.hex({bytes: 32})}), {
    permission: "read",
    summary: "the nonce the account's next transaction must carry (counting its pending ones)",
  }).returns<{account: string; nonce: number}>(),
  chain_hospitals: route(noParams(), {permission: "read", summary: "member hospitals with their node keys and whether they validate"}).returns<HospitalInfo[]>(),
  chain_journalAnchor: route(params({hospital: p.string({min: 1, max: MAX_HOSPITAL_ID_LENGTH, pattern: HOSPITAL_ID_PATTERN})}), {
    permission: "read",
    summary: "a hospital's latest finalized audit.anchor of its FHIR interaction journal (null when it has none)",
  }).returns<JournalAnchorRecord | null>(),
  tx_send: route(params({tx: p.hex({maxBytes: MAX_TX_HEX_BYTES})}), {
    permission: "submit",
    summary: "submit a signed transaction (hex of its canonical bytes); answers its hash once it is pending",
  }).returns<TxSubmitted>(),
  tx_sendBatch: route(params({txs: p.array(p.hex({maxBytes: MAX_TX_HEX_BYTES}), {max: MAX_TX_BATCH})}), {
    permission: "submit",
    summary: `submit up to ${MAX_TX_BATCH} signed transactions in order, gossiped together; one outcome per tx: its hash, or the error tx_send would answer`,
  }).returns<TxBatchOutcome[]>(),
  validator_list: route(noParams(), {permission: "read", summary: "the validator set in proposer order, with hospital names"}).returns<ValidatorInfo[]>(),
  validator_getValidatorsByHeight: route(params({height: p.uint()}), {
    permission: "read",
    summary: "the validator set that had to sign the block at a height (as Besu's qbft_getValidatorsByBlockNumber)",
  }).returns<ValidatorInfo[]>(),
  validator_getPendingVotes: route(noParams(), {
    permission: "read",
    summary: "proposals to add or remove a hospital that have not passed yet, with their votes and how many are needed",
  }).returns<PendingValidatorVote[]>(),
  validator_propose: route(
    params({action: p.oneOf("add", "remove"), hospital: hospitalId(), key: p.hex({bytes: 32}), name: p.optional(p.string({min: 1, max: 128}))}),
    {permission: "admin", summary: "this validator votes (a validator.vote tx signed by the node key) to add or remove a hospital"},
  ).returns<TxSubmitted>(),
  validator_discardVote: route(params({action: p.oneOf("add", "remove"), hospital: hospitalId(), key: p.hex({bytes: 32})}), {
    permission: "admin",
    summary: "this validator takes back its vote on a pending proposal (as Besu's qbft_discardValidatorVote)",
  }).returns<TxSubmitted>(),
  consensus_status: route(noParams(), {
    permission: "read",
    summary: "height, round, step and proposer being decided, recent timeouts and equivocation evidence",
  }).returns<ConsensusStatusJson>(),
} as const

export type CoreRoutes = typeof coreRoutes
export type CoreMethodName = keyof CoreRoutes
/** Params (named form) and result of every core method, as the client sees them. */
export type CoreRpcMethods = {[M in CoreMethodName]: {params: RouteInput<CoreRoutes[M]>; result: RouteResult<CoreRoutes[M]>}}

/** validator_propose's params, as a caller passes them. */
export type ValidatorVoteParams = RouteInput<CoreRoutes["validator_propose"]>
/** admin_addPeer's params. */
export type AddPeerParams = RouteInput<CoreRoutes["admin_addPeer"]>

/** Largest document trial_verify hashes for the caller (protocol, results or dataset text). */
export const MAX_TRIAL_DOCUMENT = 1024 * 1024
/** Record ids, and trial ids, follow the chain's rule. */
const recordId = () => p.string({min: 1, max: 64, pattern: RECORD_ID_PATTERN})

/**
 * The health routes: records, consents, audit and trials. A signed request or a FHIR resource is
 * checked here only as a JSON object; the service parses it with its wire format's own parser.
 */
export const healthRoutes = {
  record_put: route(params({resource: p.jsonObject<FhirResource>(), salt: p.hex({bytes: 32}), anchorTx: p.hex({maxBytes: MAX_TX_HEX_BYTES}), wait: p.optional(p.bool())}), {
    permission: "submit",
    summary: "Store a FHIR resource encrypted at this custodian and submit the provider-signed record.anchor over its salted hash",
  }).returns<RecordPutResult>(),
  record_get: route(params({request: p.jsonObject<ReadRequestJson>()}), {
    permission: "read",
    summary: "Read a record with a reader-signed request; decided from finalized consent, logged either way, fetched from the custodian when held elsewhere",
  }).returns<RecordGetResult>(),
  record_verify: route(params({recordId: recordId(), resource: p.jsonObject<FhirResource>(), salt: p.hex({bytes: 32}), version: p.optional(p.uint())}), {
    permission: "read",
    summary: "Check a resource and salt against the finalized anchor (works after erasure too)",
  }).returns<RecordVerifyResult>(),
  record_history: route(params({recordId: recordId()}), {
    permission: "read",
    summary: "Every anchored version of a record: hash, previous, anchoring provider, block",
  }).returns<RecordHistoryResult>(),
  /** The handler also requires an admin token: the node key signs for the hospital. */
  record_erase: route(params({recordId: recordId(), legalBasis: p.string({min: 1, max: 256}), wait: p.optional(p.bool())}), {
    permission: "submit",
    summary:
      "Have this custodian node sign a record.erase under a stated legal basis (admin); a patient's own erasure is a record.erase sent with tx_send. Once final the custodian shreds the record",
  }).returns<TxSubmitted & {final: boolean}>(),
  consent_list: route(params({patient: p.optional(p.hex({bytes: 32})), grantee: p.optional(p.hex({bytes: 32})), hospital: p.optional(p.string({min: 1, max: 32}))}), {
    permission: "read",
    summary: "Consents of a patient, to a person, or to a hospital (finalized state)",
  }).returns<ConsentJson[]>(),
  consent_check: route(
    params({recordId: recordId(), reader: p.hex({bytes: 32}), purpose: p.oneOf(...PURPOSES), breakGlassReason: p.optional(p.string({min: 1, max: 256}))}),
    {
      permission: "read",
      summary:
        "Would this reader be allowed to read this record for this purpose as of the finalized head (break-glass when a reason is given), and if not why",
    },
  ).returns<ConsentCheckResult>(),
  /** Without a patient-signed request the handler requires an admin token for a recordId's trail. */
  audit_trail: route(
    params({
      request: p.optional(p.jsonObject<AuditRequestJson>()),
      recordId: p.optional(recordId()),
      cursor: p.optional(p.string({min: 16, max: 16, pattern: /^[0-9]{16}$/})),
      limit: p.optional(p.uint({max: 1000})),
    }),
    {
      permission: "read",
      summary:
        "One page ({entries, next}) of every release, denial, break-glass access and erasure of the signing patient's records (or one of them), newest first; pass `next` as `cursor` for older entries; a record's trail without a patient signature needs an admin token",
    },
  ).returns<AuditPage>(),
  audit_export: route(params({request: p.jsonObject<AuditRequestJson>()}), {
    permission: "read",
    summary: "The signing patient's consents and access log as a FHIR R4 Bundle of Consent and AuditEvent resources",
  }).returns<JsonValue>(),
  trial_verify: route(
    params({
      trialId: recordId(),
      protocol: p.optional(p.string({max: MAX_TRIAL_DOCUMENT})),
      protocolHash: p.optional(p.hex({bytes: 32})),
      results: p.optional(p.string({max: MAX_TRIAL_DOCUMENT})),
      resultsHash: p.optional(p.hex({bytes: 32})),
      dataset: p.optional(p.string({max: MAX_TRIAL_DOCUMENT})),
      datasetHash: p.optional(p.hex({bytes: 32})),
    }),
    {
      permission: "read",
      summary: "Does a document match the registered protocol (which version) or results, and was the protocol registered before the results",
    },
  ).returns<TrialVerifyResult>(),
} as const

export type HealthRoutes = typeof healthRoutes
export type HealthMethodName = keyof HealthRoutes
/** Params (named form) and result of every health method, as the client sees them. */
export type HealthRpcMethods = {[M in HealthMethodName]: {params: RouteInput<HealthRoutes[M]>; result: RouteResult<HealthRoutes[M]>}}
