// The service-TD part of a TD's TDCS: the binding table (MAX_SERVTDS slots, each with
// its SERVTD_BINDING_STATE, type, attributes, bound service TD's TD_UUID and expected
// TDINFO hash), the number of slots in use (SERVTD_NUM) and whether a Migration TD has
// written the migration decryption key (MIG_DEC_KEY_SET). Created on first use.
import type { Spec } from "../spec/mod.ts";
import type { TdState } from "./state.ts";

export interface ServtdBinding {
  /** SERVTD_BINDING_STATE value name. */
  state: string;
  /** SERVTD_TYPE value. */
  type: bigint;
  /** SERVTD_ATTRIBUTES value. */
  attributes: bigint;
  /** TD_UUID of the bound service TD (32 bytes, zero until bound). */
  uuid: Uint8Array;
  /** SERVTD_INFO_HASH (48 bytes). */
  infoHash: Uint8Array;
}

export interface TdServtd {
  bindings: ServtdBinding[];
  /** SERVTD_NUM: slots that are not NOT_BOUND. */
  num: number;
  /** Set by a service TD's write of MIG_DEC_KEY. */
  migDecKeySet: boolean;
}

export function maxServtds(spec: Spec): number {
  return Number(spec.enumValue("SERVTD_LIMITS", "MAX_SERVTDS"));
}

/** The TD's service-TD fields (all slots NOT_BOUND until a binding leaf changes them). */
export function servtdOf(spec: Spec, td: TdState): TdServtd {
  td.servtd ??= {
    bindings: Array.from({ length: maxServtds(spec) }, () => ({
      state: "SERVTD_NOT_BOUND",
      type: 0n,
      attributes: 0n,
      uuid: new Uint8Array(32),
      infoHash: new Uint8Array(48),
    })),
    num: 0,
    migDecKeySet: false,
  };
  return td.servtd;
}
