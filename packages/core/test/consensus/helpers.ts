import {sha256} from "../../src/crypto/hash.js"
import {PrivateKey} from "../../src/crypto/keys.js"
import {utf8} from "../../src/encoding/bytes.js"
import {Block, validatorsHashOf} from "../../src/block/block.js"
import {Transaction} from "../../src/tx/transaction.js"
import {Purpose, TxType} from "../../src/tx/types.js"

export const CHAIN = "careledger-test"

export function keys(n: number): PrivateKey[] {
  return Array.from({length: n}, (_, i) => PrivateKey.fromSeed(sha256(utf8(`consensus-test-key-${i}`))))
}

/** A structurally valid block for (height, round) proposed by `proposer`; `salt` makes distinct blocks. */
export function makeBlock(
  height: number,
  round: number,
  proposer: PrivateKey,
  validators: readonly Uint8Array[],
  salt = 0,
  txs: readonly Transaction[] = [],
  chainId = CHAIN,
): Block {
  return Block.create(
    {
      chainId,
      height,
      round,
      parentHash: sha256(utf8(`parent-${height}`)),
      timestamp: 1_000 + height * 10 + salt,
      proposer: proposer.publicKey,
      stateRoot: sha256(utf8(`state-${height}-${salt}`)),
      validatorsHash: validatorsHashOf(validators),
      lastCommit: null,
    },
    txs,
  )
}

/** A consent grant of valid size whose record ids total `chars` characters (each id 24..64 long). */
export function grantTx(key: PrivateKey, nonce: number, ids: number, chars: number, chainId = CHAIN): Transaction {
  const recordIds = Array.from({length: ids}, (_, i) => {
    const length = Math.floor(chars / ids) + (i < chars % ids ? 1 : 0)
    return `${String(i).padStart(3, "0")}-${"r".repeat(length - 4)}`
  })
  return Transaction.sign(
    {
      chainId,
      type: TxType.ConsentGrant,
      nonce,
      payload: {grantee: {kind: "hospital", hospital: "hosp-a"}, scope: {kind: "records", recordIds}, purposes: [Purpose.Treatment], expiresAt: 2_000_000_000_000},
    },
    key,
  )
}
