/**
 * The JSON shapes and routes of the CareLedger JSON-RPC API. They are declared once in core
 * (`@careledger/core`, `api/`), where the node implements them; the client re-exports them so an
 * integrator needs only this package.
 */
export type {
  AddPeerParams,
  BlockJson,
  ChainHeadJson,
  CommitJson,
  CommitSignatureJson,
  ConsensusStatusJson,
  ConsensusTimeout,
  CoreMethodName,
  CoreRpcMethods,
  HeadNotification,
  HeaderJson,
  Hex,
  HospitalInfo,
  JsonValue,
  MerkleStepJson,
  NodeInfo,
  PeerInfoJson,
  PendingValidatorVote,
  Permission,
  SubscriptionTopic,
  TxJson,
  TxLookup,
  TxBatchOutcome,
  TxProof,
  TxStatus,
  TxSubmitted,
  ValidatorInfo,
  ValidatorVoteParams,
} from "@careledger/core"
export {coreRoutes} from "@careledger/core"
