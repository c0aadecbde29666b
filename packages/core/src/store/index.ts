export * from "./errors.js"
export {Bucket} from "./db.js"
export type {TxLocation} from "./repositories.js"
export {ChainStore, MAX_CONSENSUS_KEY_LENGTH, encodeGenesis, genesisDocumentHash, type ChainHead, type ChainStoreOptions} from "./chainStore.js"
