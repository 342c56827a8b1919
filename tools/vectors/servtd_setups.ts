// Set-ups for the service-TD vectors (scenarios/module_servtd.yaml): a running service TD
// whose guest makes the tdcall steps ($tdr, $vcpu) and a target TD, built through
// SEAMCALLs. The target and the values a service TD learns at binding time are given as
// host-page symbols:
//   $page90          the target's TDR            $page91..$page94  the target's TD_UUID words
//   $page95          the binding handle of slot 0 (target TDR + the service TD's UUID bits 63:0)
//   $page96..$page101 the service TD's SERVTD_INFO_HASH (attributes 0) as 6 words
//   $page102         the target's first TDCS page  $page103  a handle naming that page
//   $page104         the TDR of a second running TD, built as the service TD is (same TDINFO)
//   $page105         the target's vCPU (servtd-pair-runnable)
// - servtd-pair: the target INITIALIZED, nothing bound;
// - servtd-bound: the same, then TDH.SERVTD.BIND of slot 0 (type 0, attributes 0);
// - servtd-pair-runnable: the target RUNNABLE (one vCPU, TDH.MR.FINALIZE), nothing bound.
import type { Platform } from "../../impl/module/testing/fixture.ts";
import { type CreatedTd, finalizeTd } from "../../impl/module/testing/td_fixture.ts";
import { servtdInfoHash, uuidWord } from "../../impl/module/servtd.ts";

export type ServtdSetup = "servtd-pair" | "servtd-bound" | "servtd-pair-runnable";

interface SetupSymbols {
  td?: CreatedTd;
  vcpu?: bigint;
  pages: Map<string, bigint>;
}

const U64 = 0xFFFF_FFFF_FFFF_FFFFn;

function pair(p: Platform, sym: SetupSymbols, runnableTarget: boolean, bind: boolean): void {
  const servtd = p.createTd();
  sym.td = servtd;
  sym.vcpu = p.createVcpu(servtd);
  finalizeTd(p, servtd);
  const target = p.createTd();
  if (runnableTarget) {
    sym.pages.set("105", p.createVcpu(target));
    finalizeTd(p, target);
  }
  const other = p.createTd();
  p.createVcpu(other);
  finalizeTd(p, other);
  sym.pages.set("104", other.tdr);
  if (bind) {
    const r = p.seamcall("TDH.SERVTD.BIND", {
      tdr_pa: target.tdr,
      servtd_tdr_pa: servtd.tdr,
      servtd_slot: 0,
      servtd_type: 0,
      servtd_attr: 0,
    });
    if (r.name !== "TDX_SUCCESS") throw new Error(`set-up: TDH.SERVTD.BIND answered ${r.name}`);
  }
  const state = p.module.state;
  const servtdState = state.tds.get(servtd.tdr)!;
  const targetState = state.tds.get(target.tdr)!;
  const uuid0 = uuidWord(servtdState.uuid, 0);
  const set = (n: number, v: bigint) => sym.pages.set(String(n), v & U64);
  set(90, target.tdr);
  for (let i = 0; i < 4; i++) set(91 + i, uuidWord(targetState.uuid, i));
  set(95, target.tdr + uuid0);
  const hash = servtdInfoHash(p.spec, servtdState, 0n);
  const view = new DataView(hash.buffer, hash.byteOffset);
  for (let i = 0; i < 6; i++) set(96 + i, view.getBigUint64(8 * i, true));
  set(102, target.tdcx[0]);
  set(103, target.tdcx[0] + uuid0);
}

export const SERVTD_SETUPS: Record<ServtdSetup, (p: Platform, sym: SetupSymbols) => void> = {
  "servtd-pair": (p, sym) => pair(p, sym, false, false),
  "servtd-bound": (p, sym) => pair(p, sym, false, true),
  "servtd-pair-runnable": (p, sym) => pair(p, sym, true, false),
};
