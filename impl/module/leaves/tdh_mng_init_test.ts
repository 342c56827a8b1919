import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { StructCodec } from "../../spec/codec.ts";
import type { Spec } from "../../spec/mod.ts";
import { lockKey } from "../locks.ts";
import { Platform } from "../testing/fixture.ts";
import { cpuidConfigurable, cpuidKey } from "../td_params.ts";
import { tdParams, type TdParamsOptions, tdState, writeTdParams } from "../testing/td_fixture.ts";
import {
  dispatcherRows,
  hpaRows,
  type TdStatusRow,
  tdStatusTests,
  type TdWorld,
} from "../testing/td_status_table.ts";

const LEAF = "TDH.MNG.INIT";
const tdcs = { td: { stage: "tdcs" as const } };

/** TDH.MNG.INIT of the world's TD with a TD_PARAMS built from `o` (and raw byte patches). */
function call(w: TdWorld, o: TdParamsOptions = {}, patch?: (b: Uint8Array) => void) {
  const bytes = new StructCodec(w.spec).encode("TD_PARAMS", tdParams(w.spec, o));
  patch?.(bytes);
  return { inputs: { tdr_pa: w.td.tdr, td_params_pa: writeTdParams(w.p, bytes) } };
}

function bits(w: TdWorld, bitfield: string, v: Record<string, bigint>): bigint {
  return encodeBits(w.spec.bitfield(bitfield).fields, v);
}

/** Offset of a TD_PARAMS field, from the spec. */
function offsetOf(w: TdWorld, field: string): number {
  return w.spec.struct("TD_PARAMS").fields.find((f) => f.name === field)!.offset!;
}

/** The CPUID_CONFIG entry index of a leaf/sub-leaf (sub-leaf all ones: none). */
function entry(w: TdWorld, leaf: string, subleaf = 0xFFFF_FFFF): number {
  const n = Number(w.spec.enumValue("CPUID_LEAF", leaf));
  return cpuidConfigurable(w.spec).findIndex((e) => e.leaf === n && e.subleaf === subleaf);
}

/** The CPUID_CONFIG entry's leaf and sub-leaf as RCX reports them. */
function leafSubleaf(w: TdWorld, leaf: string, subleaf = 0xFFFF_FFFF): bigint {
  return cpuidConfigurable(w.spec)[entry(w, leaf, subleaf)].raw;
}

/** CPUID(7,0).EBX with HLE and RTM (TSX). */
function tsxBits(spec: Spec): number {
  return Number(encodeBits(spec.bitfield("CPUID_07_00_EBX").fields, { HLE: 1n, RTM: 1n }));
}

/** Gives (or takes away) the platform's CPUs HLE and RTM. */
function setNativeTsx(p: Platform, on: boolean): void {
  const leaf = Number(p.spec.enumValue("CPUID_LEAF", "EXT_FEATURES"));
  const ebx = p.cpu.cpuidOn(0, leaf, 0).ebx;
  const tsx = tsxBits(p.spec);
  p.cpu.cpuid.patch(leaf, 0, { ebx: (on ? ebx | tsx : ebx & ~tsx) >>> 0 });
}

/** A TD at the TDCS stage on a platform whose CPUs had TSX when TDH.SYS.INIT sampled them. */
const tsxPlatform = { ...tdcs, beforeReady: (p: Platform) => setNativeTsx(p, true) };

/** The TD's virtual CPUID(7,0).EBX TSX bits after TDH.MNG.INIT. */
function tdTsx(w: TdWorld): number {
  const leaf = Number(w.spec.enumValue("CPUID_LEAF", "EXT_FEATURES"));
  return (w.tdState.cpuid!.get(`${leaf}:0`)![1] & tsxBits(w.spec)) >>> 0;
}

const invalid = (operand: string, why: string, o: TdParamsOptions, world = tdcs): TdStatusRow => ({
  status: "TDX_OPERAND_INVALID",
  operand,
  why,
  world,
  setup: (w) => call(w, o),
});

const rawInvalid = (why: string, field: string, at = 0): TdStatusRow => ({
  status: "TDX_OPERAND_INVALID",
  operand: "RDX",
  why,
  world: tdcs,
  setup: (w) => call(w, {}, (b) => b[offsetOf(w, field) + at] = 1),
});

tdStatusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a valid TD_PARAMS",
    world: tdcs,
    setup: (w) =>
      call(w, {
        maxVcpus: 8,
        tscFrequency: 120,
        mrConfigId: new Uint8Array(48).fill(1),
        mrOwner: new Uint8Array(48).fill(2),
        mrOwnerConfig: new Uint8Array(48).fill(3),
      }),
    then: (w, r) => {
      const td = w.tdState;
      assert.equal(td.opState, "OP_STATE_INITIALIZED");
      assert.equal(td.maxVcpus, 8);
      assert.equal(td.tscFrequency, 120);
      assert.deepEqual(td.mrowner, new Uint8Array(48).fill(2));
      assert.equal(td.epoch, 1n);
      assert.equal(r.out.cpuid_leaf_subleaf, 0n);
      // EPTP points at the Secure EPT root TDCS page.
      const eptp = w.spec.bitfield("EPTP_CONTROLS").fields.find((f) => f.name === "BASE_PA")!;
      assert.equal((td.eptp! >> BigInt(eptp.bits[0])) << 12n, td.tdcx[3]);
      // An empty MRTD hash: SHA-384 of nothing so far.
      assert.equal(td.mrtdHash.copy().digest("hex").slice(0, 8), "38b060a7");
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "CPUID(1).EAX 0 takes the platform's family/model/stepping",
    world: tdcs,
    setup: (w) => call(w, { cpuid: { [entry(w, "VERSION_INFO")]: { eax: 0 } } }),
    then: (w) => {
      const fms = w.state.platform.sampled!.platformFms;
      assert.equal(w.tdState.cpuid!.get("1:-1")![0], fms);
    },
  },
  ...dispatcherRows(LEAF, (w) => call(w)),
  {
    status: "TDX_LIMIT_CPUID_MAXVAL_SET",
    why: "IA32_MISC_ENABLE limits CPUID maxval on this LP",
    world: tdcs,
    setup: (w) => {
      w.p.cpu.setLpMsr(
        0,
        "IA32_MISC_ENABLE",
        bits(w, "IA32_MISC_ENABLE", { LIMIT_CPUID_MAXVAL: 1n }),
      );
      return call(w);
    },
  },
  ...hpaRows({
    operand: "RCX",
    what: "TDR",
    world: tdcs,
    call: (w, pa) => ({ inputs: { ...call(w).inputs, tdr_pa: pa } }),
    page: (w) => w.td.tdr,
    wrongPage: (w) => w.td.tdcx[0],
    lock: "exclusive",
    lockKey: lockKey.page,
  }),
  {
    status: "TDX_TD_FATAL",
    why: "the TD is marked fatal (injected: a TD being built never ran)",
    world: tdcs,
    setup: (w) => {
      w.tdState.fatal = true;
      return call(w);
    },
  },
  {
    status: "TDX_TD_KEYS_NOT_CONFIGURED",
    why: "keys not configured",
    world: { td: { stage: "created" } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "fewer than the minimum TDCS pages",
    world: { td: { stage: "tdcs", tdcsPages: 5 } },
    setup: (w) => call(w),
  },
  {
    status: "TDX_OP_STATE_INCORRECT",
    why: "TDH.MNG.INIT already done",
    setup: (w) => call(w),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "TD_PARAMS not 1024-byte aligned",
    world: tdcs,
    setup: (w) => ({
      inputs: { tdr_pa: w.td.tdr, td_params_pa: call(w).inputs.td_params_pa + 512n },
    }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "TD_PARAMS with a private HKID",
    world: tdcs,
    setup: (w) => ({
      inputs: {
        tdr_pa: w.td.tdr,
        td_params_pa: w.p.cpu.memory.withKeyId(call(w).inputs.td_params_pa, w.td.hkid),
      },
    }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "TD_PARAMS inside the SEAM range",
    world: tdcs,
    setup: (w) => ({ inputs: { tdr_pa: w.td.tdr, td_params_pa: w.p.cpu.platform.seamrr.base } }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "ATTRIBUTES",
    why: "an attribute the module does not support (LASS)",
    world: tdcs,
    setup: (w) => call(w, { attributes: bits(w, "TD_ATTRIBUTES", { LASS: 1n }) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "ATTRIBUTES",
    why: "migratable and debug",
    world: tdcs,
    setup: (w) => call(w, { attributes: bits(w, "TD_ATTRIBUTES", { MIGRATABLE: 1n, DEBUG: 1n }) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "XFAM",
    why: "MPX, which the module never allows",
    world: tdcs,
    setup: (w) => call(w, { xfam: bits(w, "XFAM", { X87: 1n, SSE: 1n, MPX_BNDREGS: 1n }) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "XFAM",
    why: "without the fixed-1 SSE bit",
    world: tdcs,
    setup: (w) => call(w, { xfam: bits(w, "XFAM", { X87: 1n }) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "XFAM",
    why: "AVX-512 state without AVX",
    world: tdcs,
    setup: (w) =>
      call(w, {
        xfam: bits(w, "XFAM", {
          X87: 1n,
          SSE: 1n,
          AVX512_OPMASK: 1n,
          AVX512_ZMM_HI256: 1n,
          AVX512_HI16_ZMM: 1n,
        }),
      }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "XFAM",
    why: "CET_U without CET_S",
    world: tdcs,
    setup: (w) => call(w, { xfam: bits(w, "XFAM", { X87: 1n, SSE: 1n, CET_U: 1n }) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "XFAM",
    why: "a component the CPU does not enumerate (the platform has no LBR state)",
    world: tdcs,
    setup: (w) => call(w, { xfam: bits(w, "XFAM", { X87: 1n, SSE: 1n, LBR: 1n }) }),
  },
  invalid("MAX_VCPUS", "MAX_VCPUS 0", { maxVcpus: 0 }),
  invalid("NUM_L2_VMS", "four L2 VMs", { numL2Vms: 4 }),
  {
    status: "TDX_TDCS_NOT_ALLOCATED",
    why: "one L2 VM needs a seventh TDCS page",
    world: tdcs,
    setup: (w) => call(w, { numL2Vms: 1 }),
  },
  rawInvalid("TD_PARAMS bytes 20-23 (reserved) not 0", "reserved_0", 3),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "EXEC_CONTROLS",
    why: "a CONFIG_FLAGS bit beyond NO_RBP_MOD",
    world: tdcs,
    setup: (w) => call(w, { configFlags: 1n << 3n }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "EPTP_CONTROLS",
    why: "an uncacheable EPT",
    world: tdcs,
    setup: (w) =>
      call(w, {
        eptpControls: bits(w, "EPTP_CONTROLS", {
          EPT_PS_MT: w.spec.enumValue("ept_memory_type", "UC"),
          EPT_PWL: w.spec.enumValue("SEPT_LEVEL", "PML4"),
        }),
      }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "EPTP_CONTROLS",
    why: "GPAW (shared bit 51) with a 4-level EPT",
    world: tdcs,
    setup: (w) =>
      call(w, {
        configFlags: bits(w, "CONFIG_FLAGS", { GPAW: 1n }),
        eptpControls: bits(w, "EPTP_CONTROLS", {
          EPT_PS_MT: w.spec.enumValue("ept_memory_type", "WB"),
          EPT_PWL: w.spec.enumValue("SEPT_LEVEL", "PML4"),
        }),
      }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "EPTP_CONTROLS",
    why: "a base address in EPTP_CONTROLS",
    world: tdcs,
    setup: (w) =>
      call(w, {
        eptpControls: bits(w, "EPTP_CONTROLS", {
          EPT_PS_MT: w.spec.enumValue("ept_memory_type", "WB"),
          EPT_PWL: w.spec.enumValue("SEPT_LEVEL", "PML4"),
          BASE_PA: 1n,
        }),
      }),
  },
  invalid("TSC_FREQUENCY", "75 MHz is below the minimum", { tscFrequency: 3 }),
  invalid("TSC_FREQUENCY", "10.025 GHz is above the maximum", { tscFrequency: 401 }),
  {
    status: "TDX_INCONSISTENT_MSR",
    why: "the host changed IA32_TSC_ADJUST on this LP",
    world: tdcs,
    setup: (w) => {
      w.p.cpu.setLpMsr(0, "IA32_TSC_ADJUST", 5n);
      return call(w);
    },
    detail: (w) => w.p.cpu.msrs.index("IA32_TSC_ADJUST"),
  },
  rawInvalid("the reserved block after TSC_FREQUENCY not 0", "reserved_1", 10),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "MSR_CONFIG_CTLS bits 7:1 not 0",
    world: tdcs,
    setup: (w) => call(w, { msrConfigCtls: 0x2 }),
  },
  rawInvalid("the reserved block after IA32_ARCH_CAPABILITIES_CONFIG not 0", "reserved_2"),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "CPUID_CONFIG",
    why: "a CPUID(1).EDX bit the host may not configure",
    world: tdcs,
    setup: (w) => call(w, { cpuid: { [entry(w, "VERSION_INFO")]: { edx: 1 } } }),
    then: (w, r) => assert.equal(r.out.cpuid_leaf_subleaf, leafSubleaf(w, "VERSION_INFO")),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "CPUID_CONFIG",
    why: "a family/model/stepping other than the platform's",
    world: tdcs,
    setup: (w) => {
      const fms = w.state.platform.sampled!.platformFms;
      return call(w, { cpuid: { [entry(w, "VERSION_INFO")]: { eax: fms - 1 } } });
    },
    then: (w, r) => assert.equal(r.out.cpuid_leaf_subleaf, leafSubleaf(w, "VERSION_INFO")),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "CPUID_CONFIG",
    why: "HLE without RTM on a CPU with TSX (no leaf reported)",
    world: tsxPlatform,
    setup: (w) => {
      const hle = Number(bits(w, "CPUID_07_00_EBX", { HLE: 1n }));
      return call(w, { cpuid: { [entry(w, "EXT_FEATURES", 0)]: { ebx: hle } } });
    },
    then: (_w, r) => assert.equal(r.out.cpuid_leaf_subleaf, 0n),
  },
  {
    status: "TDX_INCORRECT_MSR_VALUE",
    why: "TSX for the TD but IA32_ARCH_CAPABILITIES has no TSX_CTRL",
    world: tsxPlatform,
    setup: (w) => call(w, { cpuid: { [entry(w, "EXT_FEATURES", 0)]: { ebx: tsxBits(w.spec) } } }),
    detail: (w) => w.p.cpu.msrs.index("IA32_ARCH_CAPABILITIES"),
  },
  {
    status: "TDX_INCORRECT_MSR_VALUE",
    why: "TSX taken out of CPUID after TDH.SYS.INIT: the sampled CPUID still has it",
    world: tsxPlatform,
    setup: (w) => {
      setNativeTsx(w.p, false);
      return call(w, { cpuid: { [entry(w, "EXT_FEATURES", 0)]: { ebx: tsxBits(w.spec) } } });
    },
    detail: (w) => w.p.cpu.msrs.index("IA32_ARCH_CAPABILITIES"),
  },
  {
    status: "TDX_SUCCESS",
    why: "TSX put into CPUID after TDH.SYS.INIT: the sampled CPUID has none, the TD gets none",
    world: tdcs,
    setup: (w) => {
      setNativeTsx(w.p, true);
      return call(w, { cpuid: { [entry(w, "EXT_FEATURES", 0)]: { ebx: tsxBits(w.spec) } } });
    },
    then: (w) => assert.equal(tdTsx(w), 0),
  },
  rawInvalid("the CPUID area tail not 0", "reserved_3", 100),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "IA32_ARCH_CAPABILITIES_CONFIG",
    why: "a configuration without MSR_CONFIG_CTLS.IA32_ARCH_CAP",
    world: tdcs,
    setup: (w) =>
      call(w, { ia32ArchCapabilitiesConfig: bits(w, "IA32_ARCH_CAPABILITIES", { SSB_NO: 1n }) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "IA32_ARCH_CAPABILITIES_CONFIG",
    why: "a bit that may not be configured",
    world: tdcs,
    setup: (w) =>
      call(w, {
        msrConfigCtls: 1,
        ia32ArchCapabilitiesConfig: bits(w, "IA32_ARCH_CAPABILITIES", { MDS_NO: 1n }),
      }),
  },
  {
    status: "TDX_SUCCESS",
    why: "SSB_NO configured through MSR_CONFIG_CTLS.IA32_ARCH_CAP",
    world: tdcs,
    setup: (w) =>
      call(w, {
        msrConfigCtls: 1,
        ia32ArchCapabilitiesConfig: bits(w, "IA32_ARCH_CAPABILITIES", { SSB_NO: 1n }),
      }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "a migratable TD with an L2 VM",
    world: { td: { stage: "tdcs", tdcsPages: 7 } },
    setup: (w) =>
      call(w, { numL2Vms: 1, attributes: bits(w, "TD_ATTRIBUTES", { MIGRATABLE: 1n }) }),
  },
]);

Deno.test("TDH.MNG.INIT: the TD's CPUID has the module's fixed bits, not the CPU's", () => {
  const p = new Platform();
  const leaf = (name: string) => Number(p.spec.enumValue("CPUID_LEAF", name));
  // A CPU with a basic leaf beyond the module's highest (CPUID(0).EAX is FIXED1 0x23).
  p.cpu.cpuid.patch(leaf("MAX_BASIC"), "*", { eax: 0x24 });
  const td = p.createTd();
  const cpuid = tdState(p, td).cpuid!;
  assert.equal(cpuid.get(cpuidKey(leaf("MAX_BASIC"), 0xFFFF_FFFF))![0], 0x23);
  // CPUID(1): the hypervisor bit (ECX[31]) is set though the CPU lacks it; PSN (EDX[17]) cleared.
  const [, , ecx, edx] = cpuid.get(cpuidKey(leaf("VERSION_INFO"), 0xFFFF_FFFF))!;
  assert.equal(p.cpu.cpuidOn(0, leaf("VERSION_INFO"), 0).ecx >>> 31, 0);
  assert.equal(ecx >>> 31, 1);
  assert.equal((p.cpu.cpuidOn(0, leaf("VERSION_INFO"), 0).edx >>> 17) & 1, 1);
  assert.equal((edx >>> 17) & 1, 0);
});

Deno.test("TDH.MNG.INIT: the TD's XSAVE enumeration follows its XFAM", () => {
  const p = new Platform();
  const xsave = Number(p.spec.enumValue("CPUID_LEAF", "XSAVE_STATE"));
  const xfam = (v: Record<string, bigint>) =>
    encodeBits(p.spec.bitfield("XFAM").fields, { X87: 1n, SSE: 1n, ...v });
  const cpuidOf = (x: bigint) => {
    const cpuid = tdState(p, p.createTd({ xfam: x })).cpuid!;
    return (subleaf: number) => cpuid.get(cpuidKey(xsave, subleaf))!;
  };
  // The CPU enumerates AVX, AVX-512, PKRU and AMX (an 11008-byte area).
  assert.equal(p.cpu.cpuidOn(0, xsave, 0).ecx, 0x2B00);
  const sse = cpuidOf(xfam({}));
  assert.equal(sse(0)[2], 576);
  assert.equal(sse(0)[0], 3, "XCR0 may hold x87 and SSE only");
  assert.deepEqual(sse(2), [0, 0, 0, 0]);
  const avx = cpuidOf(xfam({ AVX: 1n }));
  assert.equal(avx(0)[2], 576 + 256);
  assert.equal(avx(2)[0], 256);
  // XFD (CPUID(0xD,1).EAX[4]) only for a TD with AMX, the one XFD-faulting component here.
  assert.equal((avx(1)[0] >>> 4) & 1, 0);
  const amx = cpuidOf(xfam({ AVX: 1n, AMX_TILECFG: 1n, AMX_TILEDATA: 1n }));
  assert.equal((amx(1)[0] >>> 4) & 1, 1);
  assert.equal(amx(0)[2], 2816 + 8192);
});
