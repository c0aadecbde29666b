export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")
}

const HEX = /^(?:[0-9a-f]{2})*$/

/** Parses lowercase or uppercase hex with an optional 0x prefix; returns undefined when not hex. */
export function fromHex(hex: string): Uint8Array | undefined {
  const body = (hex.startsWith("0x") ? hex.slice(2) : hex).toLowerCase()
  if (!HEX.test(body)) return undefined
  return new Uint8Array(Buffer.from(body, "hex"))
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

/** Byte-wise comparison, used to sort keys and hashes deterministically. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}
