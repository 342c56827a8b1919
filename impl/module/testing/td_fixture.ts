// Test support for the TD and vCPU life cycle: a valid TD_PARAMS built with the struct
// codec, and TDs and vCPUs created through real SEAMCALLs on a ready platform
// (TDH.MNG.CREATE, TDH.MNG.KEY.CONFIG on one LP of every package, TDH.MNG.ADDCX,
// TDH.MNG.INIT; TDH.VP.CREATE, TDH.VP.ADDCX, TDH.VP.INIT; TDH.MR.FINALIZE).
import type { Spec } from "../../spec/mod.ts";
import { encodeBits } from "../../spec/bits.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import type { CallResult, Platform } from "./fixture.ts";
import { cpuidConfigurable } from "../td_params.ts";
import { requiredTdcsPages, requiredTdvpsPages } from "../td_limits.ts";
import type { TdState, VcpuState } from "../state.ts";
import { alignDown, entryAt, septGeometry } from "../sept.ts";

export interface TdParamsOptions {
  attributes?: bigint;
  /** Shorthand for ATTRIBUTES.DEBUG. */
  debug?: boolean;
  xfam?: bigint;
  maxVcpus?: number;
  numL2Vms?: number;
  /** CONFIG_FLAGS.GPAW (a 5-level EPT then). */
  gpaw52?: boolean;
  configFlags?: bigint;
  eptpControls?: bigint;
  tscFrequency?: number;
  msrConfigCtls?: number;
  ia32ArchCapabilitiesConfig?: bigint;
  mrConfigId?: Uint8Array;
  mrOwner?: Uint8Array;
  mrOwnerConfig?: Uint8Array;
  /** CPUID_CONFIG values by entry index; entries not given are all zero. */
  cpuid?: Record<number, Partial<Record<"eax" | "ebx" | "ecx" | "edx", number>>>;
}

export interface CreateTdOptions extends TdParamsOptions {
  /** How far to build: after TDH.MNG.CREATE, key configuration, TDCS pages, or TDH.MNG.INIT. */
  stage?: "created" | "keys" | "tdcs" | "initialized";
  /** TDCS pages to add (default: as many as the L2 VMs need). */
  tdcsPages?: number;
  hkid?: number;
}

export interface CreatedTd {
  tdr: bigint;
  hkid: number;
  tdcx: bigint[];
}

export interface CreateVcpuOptions {
  /** TDVPS pages in all, TDVPR included (default: as many as needed). */
  tdvpsPages?: number;
  /** Stop after TDH.VP.CREATE and TDH.VP.ADDCX. */
  init?: boolean;
  lp?: number;
  initialRcx?: bigint;
  x2apicId?: bigint;
}

function expectOk(name: string, r: CallResult): CallResult {
  if (r.name !== "TDX_SUCCESS") {
    const op = r.operand ? ` (${r.operand})` : ` (detail 0x${r.detail.toString(16)})`;
    throw new Error(`${name} failed: ${r.name}${op}`);
  }
  return r;
}

/** A TD_PARAMS value TDH.MNG.INIT accepts on the default platform, changed by `o`. */
export function tdParams(spec: Spec, o: TdParamsOptions = {}): DecodedStruct {
  const bits = (name: string, v: Record<string, bigint>) =>
    encodeBits(spec.bitfield(name).fields, v);
  const gpaw = o.gpaw52 ? 1n : 0n;
  const pwl = spec.enumValue("SEPT_LEVEL", o.gpaw52 ? "PML5" : "PML4");
  const cpuid = cpuidConfigurable(spec).map((_, i) => ({
    eax: o.cpuid?.[i]?.eax ?? 0,
    ebx: o.cpuid?.[i]?.ebx ?? 0,
    ecx: o.cpuid?.[i]?.ecx ?? 0,
    edx: o.cpuid?.[i]?.edx ?? 0,
  }));
  return {
    attributes: o.attributes ?? bits("TD_ATTRIBUTES", { DEBUG: o.debug ? 1n : 0n }),
    xfam: o.xfam ?? bits("XFAM", { X87: 1n, SSE: 1n }),
    max_vcpus: o.maxVcpus ?? 4,
    num_l2_vms: o.numL2Vms ?? 0,
    msr_config_ctls: o.msrConfigCtls ?? 0,
    eptp_controls: o.eptpControls ??
      bits("EPTP_CONTROLS", { EPT_PS_MT: spec.enumValue("ept_memory_type", "WB"), EPT_PWL: pwl }),
    config_flags: o.configFlags ?? bits("CONFIG_FLAGS", { GPAW: gpaw }),
    tsc_frequency: o.tscFrequency ?? 100,
    mr_config_id: o.mrConfigId ?? new Uint8Array(48),
    mr_owner: o.mrOwner ?? new Uint8Array(48),
    mr_owner_config: o.mrOwnerConfig ?? new Uint8Array(48),
    ia32_arch_capabilities_config: o.ia32ArchCapabilitiesConfig ?? 0n,
    cpuid_config_vals: cpuid,
  };
}

/** TD_PARAMS bytes in shared host memory (1024-byte aligned); returns their address. */
export function writeTdParams(p: Platform, value: DecodedStruct | Uint8Array): bigint {
  const bytes = value instanceof Uint8Array
    ? value
    : new StructCodec(p.spec).encode("TD_PARAMS", value);
  const pa = p.allocRange(BigInt(bytes.length), 1024n);
  p.cpu.memory.write(pa, bytes);
  return pa;
}

/** TDH.MNG.KEY.CONFIG on the first LP of every package. */
export function configureTdKeys(p: Platform, tdr: bigint): void {
  const done = new Set<number>();
  for (const lp of p.cpu.lps) {
    const pkg = p.cpu.packageOf(lp.id);
    if (done.has(pkg)) continue;
    done.add(pkg);
    expectOk(
      "TDH.MNG.KEY.CONFIG",
      p.seamcall("TDH.MNG.KEY.CONFIG", { tdr_pa: tdr }, { lp: lp.id }),
    );
  }
}

/** A TD built through SEAMCALLs (the platform is brought up first if it is not ready). */
export function createTd(p: Platform, o: CreateTdOptions = {}): CreatedTd {
  if (p.module.state.platform.sysState !== "SYS_READY") p.readyPlatform();
  const tdr = p.allocPage();
  const hkid = o.hkid ?? p.freeHkid();
  expectOk("TDH.MNG.CREATE", p.seamcall("TDH.MNG.CREATE", { tdr_pa: tdr, hkid }));
  const td: CreatedTd = { tdr, hkid, tdcx: [] };
  const stage = o.stage ?? "initialized";
  if (stage === "created") return td;
  configureTdKeys(p, tdr);
  if (stage === "keys") return td;
  const pages = o.tdcsPages ?? requiredTdcsPages(p.spec, o.numL2Vms ?? 0);
  for (let i = 0; i < pages; i++) {
    const page = p.allocPage();
    expectOk("TDH.MNG.ADDCX", p.seamcall("TDH.MNG.ADDCX", { tdcx_pa: page, tdr_pa: tdr }));
    td.tdcx.push(page);
  }
  if (stage === "tdcs") return td;
  const params = writeTdParams(p, tdParams(p.spec, o));
  expectOk("TDH.MNG.INIT", p.seamcall("TDH.MNG.INIT", { tdr_pa: tdr, td_params_pa: params }));
  return td;
}

/** A vCPU of an initialised TD, initialised on `lp` unless `init` is false. */
export function createVcpu(p: Platform, td: CreatedTd, o: CreateVcpuOptions = {}): bigint {
  const tdvpr = p.allocPage();
  expectOk("TDH.VP.CREATE", p.seamcall("TDH.VP.CREATE", { tdvpr_pa: tdvpr, tdr_pa: td.tdr }));
  const state = p.module.state.tds.get(td.tdr)!;
  const pages = o.tdvpsPages ?? requiredTdvpsPages(p.spec, state.numL2Vms ?? 0);
  for (let i = 1; i < pages; i++) {
    expectOk(
      "TDH.VP.ADDCX",
      p.seamcall("TDH.VP.ADDCX", { tdcx_pa: p.allocPage(), tdvpr_pa: tdvpr }),
    );
  }
  if (o.init === false) return tdvpr;
  expectOk(
    "TDH.VP.INIT",
    p.seamcall(
      "TDH.VP.INIT",
      { tdvpr_pa: tdvpr, initial_rcx: o.initialRcx ?? 0n, x2apic_id: o.x2apicId ?? 0n },
      { lp: o.lp ?? 0, version: 1 },
    ),
  );
  return tdvpr;
}

/** TDH.MR.FINALIZE: the TD becomes RUNNABLE. */
export function finalizeTd(p: Platform, td: CreatedTd): void {
  expectOk("TDH.MR.FINALIZE", p.seamcall("TDH.MR.FINALIZE", { tdr_pa: td.tdr }));
}

/** The module's state of a TD and of a vCPU. */
export function tdState(p: Platform, td: CreatedTd): TdState {
  return p.module.state.tds.get(td.tdr)!;
}
export function vcpuState(p: Platform, tdvpr: bigint): VcpuState {
  return p.module.state.vcpus.get(tdvpr)!;
}

/** GPA_AND_LEVEL of a GPA at a level. */
export function gpaAndLevel(p: Platform, gpa: bigint, level: number): bigint {
  return encodeBits(p.spec.bitfield("GPA_AND_LEVEL").fields, {
    gpa: gpa >> 12n,
    level: BigInt(level),
  });
}

/**
 * TDH.MEM.PAGE.ADD of a 4 KiB page holding `bytes` at private `gpa` (Secure EPT pages
 * added with TDH.MEM.SEPT.ADD first, where missing). Returns the TD page's address.
 */
export function addPage(p: Platform, td: CreatedTd, gpa: bigint, bytes: Uint8Array): bigint {
  const state = p.module.state.tds.get(td.tdr)!;
  for (let l = septGeometry(p.spec, state).maxLevel; l > 0; l--) {
    if (entryAt(state, l, gpa).state !== "FREE") continue;
    expectOk(
      "TDH.MEM.SEPT.ADD",
      p.seamcall("TDH.MEM.SEPT.ADD", {
        gpa_and_level: gpaAndLevel(p, alignDown(gpa, l), l),
        tdr_and_flags: td.tdr,
        sept_page_pa: p.allocPage(),
      }),
    );
  }
  const source = p.allocPage();
  p.cpu.memory.write(source, bytes);
  const target = p.allocPage();
  expectOk(
    "TDH.MEM.PAGE.ADD",
    p.seamcall("TDH.MEM.PAGE.ADD", {
      gpa_and_level: gpaAndLevel(p, gpa, 0),
      tdr_pa: td.tdr,
      target_page_pa: target,
      source_page_pa: source,
    }),
  );
  return target;
}

/** TDH.MR.EXTEND of every 256-byte chunk of the 4 KiB page at `gpa`. */
export function extendPage(p: Platform, td: CreatedTd, gpa: bigint): void {
  for (let off = 0n; off < 4096n; off += 256n) {
    expectOk(
      "TDH.MR.EXTEND",
      p.seamcall("TDH.MR.EXTEND", { chunk_gpa: gpa + off, tdr_pa: td.tdr }),
    );
  }
}
