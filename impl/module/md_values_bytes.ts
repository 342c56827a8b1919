// Metadata elements backed by byte strings (measurements, UUIDs): element i is the
// little-endian 64-bit word at byte offset 8 * i.

export function wordOf(bytes: Uint8Array | undefined, index: number): bigint {
  if (!bytes || bytes.length < 8 * (index + 1)) return 0n;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(
    8 * index,
    true,
  );
}
