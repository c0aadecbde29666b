import type {ChainStore} from "../store/chainStore.js"

/** What a next block is checked and built against: the parent block and the validator sets around it. */
export interface ParentView {
  chainId: string
  /** Height of the parent (0 for genesis). */
  height: number
  hash: Uint8Array
  timestamp: number
  /** The validator set that decides the next height (proposer rotation, validators hash). */
  validators: readonly Uint8Array[]
  /** The validator set that decided the parent (signs its commit certificate; unused at height 1). */
  parentValidators: readonly Uint8Array[]
}

/** The store's head as the parent of the next block. */
export function parentViewOf(store: ChainStore): ParentView {
  const head = store.head()
  return {
    chainId: store.chainId,
    height: head.height,
    hash: head.hash,
    timestamp: head.header.timestamp,
    validators: store.validatorsAt(head.height + 1),
    parentValidators: store.validatorsAt(head.height),
  }
}
