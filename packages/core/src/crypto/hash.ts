import {createHash} from "node:crypto"

export const HASH_LENGTH = 32

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256")
  for (const part of parts) h.update(part)
  return new Uint8Array(h.digest())
}
