// Hex strings as the spec writes them ("0x1F") to and from bigint.

export function parseHex(text: string): bigint {
  if (!/^0x[0-9A-Fa-f]+$/.test(text)) throw new RangeError(`not a hex number: ${text}`);
  return BigInt(text);
}

export function toHex(value: bigint | number, digits = 0): string {
  const v = typeof value === "number" ? BigInt(value) : value;
  return `0x${v.toString(16).toUpperCase().padStart(digits, "0")}`;
}

export function bytesToHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function hexToBytes(hex: string): Uint8Array {
  const clean = hex.startsWith("0x") ? hex.slice(2) : hex;
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new RangeError(`not an even-length hex string: ${hex.slice(0, 40)}`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
