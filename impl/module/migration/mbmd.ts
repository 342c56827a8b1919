// Migration bundle metadata (MBMD): a 24-byte header, 8 bytes by bundle type and the
// 16-byte MAC, laid out by spec/struct/mbmd_*.yaml. The MAC covers every byte before it
// with the header's IV_COUNTER taken as 0 (it is written after the MAC is computed).
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { migLimitN } from "./limits.ts";

export interface MbmdHeader {
  mig_version: number;
  migs_index: number;
  mb_type: number;
  mb_counter: number;
  mig_epoch: number;
  iv_counter: bigint;
}

/** An MBMD of `struct` (e.g. MBMD_IMMUTABLE_TD_STATE) with a zero MAC. */
export function encodeMbmd(
  spec: Spec,
  struct: string,
  header: MbmdHeader,
  body: DecodedStruct = {},
): Uint8Array {
  const size = migLimitN(spec, "MBMD_SIZE");
  return new StructCodec(spec).encode(struct, {
    header: { size, ...header },
    ...body,
    mac: new Uint8Array(migLimitN(spec, "MAC_SIZE")),
  });
}

export function decodeMbmd(spec: Spec, struct: string, bytes: Uint8Array): DecodedStruct {
  return new StructCodec(spec).decode(struct, bytes).value;
}

export function mbmdHeader(d: DecodedStruct): DecodedStruct {
  return d.header as DecodedStruct;
}

function macOffset(spec: Spec): number {
  return migLimitN(spec, "MBMD_SIZE") - migLimitN(spec, "MAC_SIZE");
}

/** The MAC'ed bytes: everything before the MAC, with IV_COUNTER zeroed. */
export function macedBytes(spec: Spec, mbmd: Uint8Array): Uint8Array {
  const d = decodeMbmd(spec, "MBMD_HEADER", mbmd);
  const copy = mbmd.slice(0, macOffset(spec));
  const zeroed = new StructCodec(spec).encode("MBMD_HEADER", { ...d, iv_counter: 0n });
  copy.set(zeroed, 0);
  return copy;
}

export function withMac(spec: Spec, mbmd: Uint8Array, mac: Uint8Array): Uint8Array {
  const out = mbmd.slice();
  out.set(mac, macOffset(spec));
  return out;
}

export function macOf(spec: Spec, mbmd: Uint8Array): Uint8Array {
  return mbmd.slice(macOffset(spec), migLimitN(spec, "MBMD_SIZE"));
}

/** The MBMD with the header's IV_COUNTER set. */
export function withIvCounter(spec: Spec, mbmd: Uint8Array, ivCounter: bigint): Uint8Array {
  const d = decodeMbmd(spec, "MBMD_HEADER", mbmd);
  const out = mbmd.slice();
  out.set(new StructCodec(spec).encode("MBMD_HEADER", { ...d, iv_counter: ivCounter }), 0);
  return out;
}
