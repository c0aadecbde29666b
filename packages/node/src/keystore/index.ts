import {chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from "node:fs"
import {dirname, join} from "node:path"
import {CareLedgerError, PrivateKey} from "@careledger/core"

export enum KeystoreErrorCode {
  MISSING = "KEYSTORE_ERROR_MISSING",
  UNREADABLE = "KEYSTORE_ERROR_UNREADABLE",
  BAD_KEY = "KEYSTORE_ERROR_BAD_KEY",
  TOO_OPEN = "KEYSTORE_ERROR_PERMISSIONS_TOO_OPEN",
  EXISTS = "KEYSTORE_ERROR_EXISTS",
}

export class KeystoreError extends CareLedgerError<KeystoreErrorCode> {}

export const NODE_KEY_FILE = "node.key"

export function nodeKeyPath(dataDir: string): string {
  return join(dataDir, NODE_KEY_FILE)
}

/** Writes a key as libp2p protobuf bytes, readable by its owner only; never overwrites. */
export function writeKeyFile(path: string, key: PrivateKey): void {
  if (existsSync(path)) throw new KeystoreError(KeystoreErrorCode.EXISTS, `${path} already exists; refusing to overwrite a key`, {path})
  mkdirSync(dirname(path), {recursive: true})
  writeFileSync(path, key.toLibp2pProtobuf(), {mode: 0o600, flag: "wx"})
  chmodSync(path, 0o600)
}

/**
 * Reads a key file. A key others can read is refused: the node key signs blocks for the hospital,
 * so a leaked copy lets someone equivocate in its name.
 */
export function readKeyFile(path: string): PrivateKey {
  if (!existsSync(path)) throw new KeystoreError(KeystoreErrorCode.MISSING, `no key at ${path} (run careledger init or keys generate)`, {path})
  const mode = statSync(path).mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new KeystoreError(KeystoreErrorCode.TOO_OPEN, `${path} has mode ${mode.toString(8)}; run chmod 600 ${path}`, {path, mode})
  }
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(readFileSync(path))
  } catch (err) {
    throw new KeystoreError(KeystoreErrorCode.UNREADABLE, `cannot read ${path}: ${(err as Error).message}`, {path})
  }
  try {
    return PrivateKey.fromLibp2pProtobuf(bytes)
  } catch (err) {
    throw new KeystoreError(KeystoreErrorCode.BAD_KEY, `${path} is not a libp2p Ed25519 key: ${(err as Error).message}`, {path})
  }
}

/** Loads `<dataDir>/node.key`, creating it on first use. */
export function loadOrCreateNodeKey(dataDir: string): {key: PrivateKey; created: boolean} {
  const path = nodeKeyPath(dataDir)
  if (existsSync(path)) return {key: readKeyFile(path), created: false}
  const key = PrivateKey.generate()
  writeKeyFile(path, key)
  return {key, created: true}
}

/** The one signer of the node key (validator votes, access logs, custodian erasures). */
export * from "./signer.js"
