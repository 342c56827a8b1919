// Service-TD binding, shared by TDH.SERVTD.PREBIND/BIND and TDG.SERVTD.RD/WR, and what
// other modules read of it:
//   servtdAttributesValid / servtdTypeSupported   the binding leaves' operand checks
//   servtdInfoHash(spec, td, attributes)          SHA-384 of the TD's TDINFO_STRUCT with the
//                                                 fields the IGNORE_* bits select zeroed
//   bindingHandle / breakBindingHandle            the handle TDH.SERVTD.BIND returns
//   servtdHashOf(spec, td)                        SERVTD_HASH for TDH.MR.FINALIZE
//   checkOtherTdState                             state checks of a TD the leaf is not about
//   Migration keys (written by a Migration TD with TDG.SERVTD.WR, kept in the target TD's
//   stored TD-scope metadata): migDecKey, migEncKey, migVersion, setMigEncKey.
import { createHash } from "node:crypto";
import type { Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import { StructCodec } from "../spec/codec.ts";
import type { Completion } from "./completion.ts";
import type { LeafContext } from "./leaf_context.ts";
import { lockKey } from "./locks.ts";
import { catalog } from "./metadata.ts";
import { tdInfo } from "./report.ts";
import { servtdOf } from "./servtd_state.ts";
import type { TdState } from "./state.ts";
import { tdxLimitN } from "./td_limits.ts";

const U64 = 0xFFFF_FFFF_FFFF_FFFFn;

/** Lock of a TD's binding table (operand SERVTD_BINDINGS). */
export function servtdBindingsLock(tdr: bigint): string {
  return `servtd-bindings:${tdr.toString(16)}`;
}

/** Only bits FIXED_0 allows may be set, and every FIXED_1 bit must be. */
export function servtdAttributesValid(spec: Spec, attributes: bigint): boolean {
  const fixed0 = spec.enumValue("SERVTD_LIMITS", "SERVTD_ATTRIBUTES_FIXED_0");
  const fixed1 = spec.enumValue("SERVTD_LIMITS", "SERVTD_ATTRIBUTES_FIXED_1");
  return ((attributes & ~fixed0) | (~attributes & fixed1)) === 0n;
}

/** A 16-bit service TD type this module supports (a SERVTD_TYPE value). */
export function servtdTypeSupported(spec: Spec, type: bigint): boolean {
  return spec.enum("SERVTD_TYPE").values.some((v) => BigInt(v.value) === type);
}

export function isMigTd(spec: Spec, type: bigint): boolean {
  return type === spec.enumValue("SERVTD_TYPE", "MIGTD");
}

/** SERVTD_INFO_HASH of a TD: its TDINFO_STRUCT with the IGNORE_* fields zeroed, hashed. */
export function servtdInfoHash(spec: Spec, td: TdState, attributes: bigint): Uint8Array {
  const f = decodeBits(spec.bitfield("SERVTD_ATTRIBUTES").fields, attributes).fields;
  const zero = new Uint8Array(48);
  const view: TdState = {
    ...td,
    attributes: f.IGNORE_ATTRIBUTES ? 0n : td.attributes,
    xfam: f.IGNORE_XFAM ? 0n : td.xfam,
    mrtd: f.IGNORE_MRTD ? zero : td.mrtd,
    mrconfigid: f.IGNORE_MRCONFIGID ? zero : td.mrconfigid,
    mrowner: f.IGNORE_MROWNER ? zero : td.mrowner,
    mrownerconfig: f.IGNORE_MROWNERCONFIG ? zero : td.mrownerconfig,
    rtmr: td.rtmr.map((r, i) => ((f.IGNORE_RTMR >> BigInt(i)) & 1n) === 1n ? zero : r),
    servtdHash: f.IGNORE_SERVTD_HASH ? zero : td.servtdHash,
  };
  return new Uint8Array(createHash("sha384").update(tdInfo(spec, view)).digest());
}

/** Bits 63:0 of a TD_UUID. */
export function uuidWord(uuid: Uint8Array | undefined, i: number): bigint {
  if (!uuid) return 0n;
  return new DataView(uuid.buffer, uuid.byteOffset, uuid.byteLength).getBigUint64(8 * i, true);
}

function handleFields(spec: Spec) {
  return spec.tdcall("TDG.SERVTD.RD").inputs.find((r) => r.name === "binding_handle")!.fields!;
}

/** The binding handle: target TDR page and slot, plus the service TD's TD_UUID bits 63:0. */
export function bindingHandle(spec: Spec, tdr: bigint, slot: number, servtdUuid: Uint8Array) {
  const raw = encodeBits(handleFields(spec), { BINDING_SLOT: BigInt(slot), TDR_PAGE: tdr >> 12n });
  return (raw + uuidWord(servtdUuid, 0)) & U64;
}

/** The target TDR address and slot a handle names for the service TD with `servtdUuid`. */
export function breakBindingHandle(
  spec: Spec,
  handle: bigint,
  servtdUuid: Uint8Array | undefined,
): { tdr: bigint; slot: bigint } {
  const f = decodeBits(handleFields(spec), (handle - uuidWord(servtdUuid, 0)) & U64).fields;
  return { tdr: f.TDR_PAGE << 12n, slot: f.BINDING_SLOT };
}

/**
 * SERVTD_HASH at TDH.MR.FINALIZE: SHA-384 over a SERVTD_HASH_ENTRY per slot that is not
 * NOT_BOUND (one slot in this module, so no ordering to do); all zero without any.
 */
export function servtdHashOf(spec: Spec, td: TdState): Uint8Array {
  const codec = new StructCodec(spec);
  const used = servtdOf(spec, td).bindings.filter((b) => b.state !== "SERVTD_NOT_BOUND");
  if (used.length === 0) return new Uint8Array(48);
  const h = createHash("sha384");
  for (const b of used) {
    h.update(codec.encode("SERVTD_HASH_ENTRY", {
      info_hash: b.infoHash,
      type: b.type,
      attributes: b.attributes,
    }));
  }
  return new Uint8Array(h.digest());
}

/**
 * The state checks of a TD other than the one the leaf is about (the service TD of
 * TDH.SERVTD.BIND, the target of TDG.SERVTD.RD/WR): not fatal, keys configured, TDCS
 * allocated, its OP_STATE lock shared, then OTHER_TD_OP_STATES for the leaf.
 */
export function checkOtherTdState(ctx: LeafContext, td: TdState): Completion | undefined {
  if (td.fatal) return ctx.status("TDX_TD_FATAL");
  if (td.lifecycle !== "TD_KEYS_CONFIGURED") return ctx.status("TDX_TD_KEYS_NOT_CONFIGURED");
  if (td.tdcx.length < tdxLimitN(ctx.spec, "MIN_NUM_TDCS_PAGES")) {
    return ctx.status("TDX_TDCS_NOT_ALLOCATED");
  }
  const busy = ctx.lock(lockKey.tdcs(td.tdr), "shared", "OP_STATE");
  if (busy) return busy;
  const bitmap = ctx.spec.enumValue("OTHER_TD_OP_STATES", ctx.leaf.name);
  const allowed = (bitmap >> ctx.spec.enumValue("OP_STATE", td.opState)) & 1n;
  if (allowed !== 1n) return ctx.status("TDX_OP_STATE_INCORRECT");
  return undefined;
}

// ---------------------------------------------------------------- migration keys

/** The 4 x 64-bit elements of a TD-scope field as bytes, from the TD's stored metadata. */
function storedBytes(spec: Spec, td: TdState, name: string): Uint8Array {
  const cat = catalog(spec);
  const field = cat.field("td", name);
  const out = new Uint8Array(8 * field.item.elements);
  const view = new DataView(out.buffer);
  for (let i = 0; i < field.item.elements; i++) {
    view.setBigUint64(8 * i, td.fields.get(cat.elementId(field, i)) ?? 0n, true);
  }
  return out;
}

/**
 * The migration decryption key the TD's Migration TD wrote (TDG.SERVTD.WR of MIG_DEC_KEY),
 * 32 bytes; undefined while none was written (MIG_DEC_KEY_SET clear).
 */
export function migDecKey(spec: Spec, td: TdState): Uint8Array | undefined {
  if (!servtdOf(spec, td).migDecKeySet) return undefined;
  return storedBytes(spec, td, "MIG_DEC_KEY");
}

/** The current migration encryption key (MIG_ENC_KEY, 32 bytes; zero until first drawn). */
export function migEncKey(spec: Spec, td: TdState): Uint8Array {
  return storedBytes(spec, td, "MIG_ENC_KEY");
}

/** MIG_VERSION as a Migration TD set it (0 until written). */
export function migVersion(spec: Spec, td: TdState): bigint {
  const cat = catalog(spec);
  return td.fields.get(cat.field("td", "MIG_VERSION").baseId) ?? 0n;
}

/** Stores a new 32-byte MIG_ENC_KEY (drawn when a Migration TD reads its element 0). */
export function setMigEncKey(spec: Spec, td: TdState, key: Uint8Array): void {
  const cat = catalog(spec);
  const field = cat.field("td", "MIG_ENC_KEY");
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  for (let i = 0; i < field.item.elements; i++) {
    td.fields.set(cat.elementId(field, i), view.getBigUint64(8 * i, true));
  }
}
