import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";
import { DEFAULT_PLATFORM, type PlatformConfig } from "../../cpu/cpu.ts";

const GiB = 1n << 30n;
/** A locked, valid SMRR2 inside the memory hole below 2 GiB (no CMR there). */
const SMRR2 = {
  range: { base: 2n * GiB - (48n << 20n), size: 1n << 20n },
  valid: true,
  locked: true,
};

interface Row {
  name: string;
  config?: Partial<PlatformConfig>;
  /** Runs after TDH.SYS.INIT on LP 0 (unless `noSysInit`). */
  setup?: (p: Platform) => void;
  noSysInit?: boolean;
  lp?: number;
  raxExtra?: bigint;
  want: Expected;
  msr?: string;
  outputs?: (out: Record<string, bigint>) => void;
}

const leaf = (p: Platform, n: string) => Number(p.spec.enumValue("CPUID_LEAF", n));

/** One LP's MSR differs from the platform value TDH.SYS.INIT sampled. */
function msrRow(name: string, config?: Partial<PlatformConfig>): Row {
  return {
    name: `${name} differs on the LP`,
    config,
    setup: (p) => {
      const v = p.cpu.rdmsrNamed(1, name) ?? 0n;
      p.cpu.setLpMsr(1, name, v ^ (1n << 16n));
    },
    want: { name: "TDX_INCONSISTENT_MSR" },
    msr: name,
  };
}

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  { name: "success on the init LP", lp: 0, want: { name: "TDX_SUCCESS" } },
  { name: "success with SMRR2", config: { smrr2: SMRR2 }, want: { name: "TDX_SUCCESS" } },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 63n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    noSysInit: true,
    setup: (p) => {
      p.readyPlatform();
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  {
    name: "global lock held exclusively",
    setup: (p) => void p.module.state.locks.hold(lockKey.global(), "exclusive"),
    want: { name: "TDX_SYS_BUSY" },
  },
  { name: "before TDH.SYS.INIT", noSysInit: true, want: { name: "TDX_SYS_LP_INIT_NOT_PENDING" } },
  {
    name: "after TDH.SYS.CONFIG",
    noSysInit: true,
    setup: (p) => {
      p.initLps();
      p.configure();
    },
    want: { name: "TDX_SYS_LP_INIT_NOT_PENDING" },
  },
  {
    name: "LP already initialised",
    setup: (p) => assert.equal(p.seamcall("TDH.SYS.LP.INIT", {}, { lp: 1 }).name, "TDX_SUCCESS"),
    want: { name: "TDX_SYS_LP_INIT_DONE" },
  },
  { name: "no entropy", setup: (p) => p.cpu.blockRng(true), want: { name: "TDX_RND_NO_ENTROPY" } },
  {
    name: "SEAMOPS capabilities differ",
    setup: (p) => (p.cpu.lps[1].seamCapabilities = 0x3Fn),
    want: { name: "TDX_INCOMPATIBLE_SEAM_CAPABILITIES" },
  },
  ...[
    "IA32_CORE_CAPABILITIES",
    "IA32_ARCH_CAPABILITIES",
    "IA32_MISC_PACKAGE_CTLS",
    "IA32_XAPIC_DISABLE_STATUS",
    "IA32_TSC_ADJUST",
    "IA32_MTRRCAP",
    "IA32_SMRR_PHYSBASE",
    "IA32_SMRR_PHYSMASK",
    "IA32_PERF_CAPABILITIES",
    "IA32_TME_CAPABILITY",
    "IA32_TME_ACTIVATE",
    "IA32_MKTME_KEYID_PARTITIONING",
    "IA32_WBINVDP",
    "IA32_WBNOINVDP",
  ].map((n) => msrRow(n)),
  msrRow("IA32_SMRR2_PHYSBASE", { smrr2: SMRR2 }),
  msrRow("IA32_SMRR2_PHYSMASK", { smrr2: SMRR2 }),
  {
    name: "limit CPUID maxval on the LP",
    setup: (p) =>
      p.cpu.setLpMsr(
        1,
        "IA32_MISC_ENABLE",
        p.cpu.msrs.encode("IA32_MISC_ENABLE", { LIMIT_CPUID_MAXVAL: 1n }),
      ),
    want: { name: "TDX_LIMIT_CPUID_MAXVAL_SET" },
  },
  {
    name: "CPUID leaf 7 differs on the LP",
    setup: (p) => {
      const v = p.cpu.cpuidOn(1, leaf(p, "EXT_FEATURES"), 0);
      p.cpu.cpuid.set(leaf(p, "EXT_FEATURES"), 0, { ...v, ebx: v.ebx ^ (1 << 5) }, 1);
    },
    want: { name: "TDX_INCONSISTENT_CPUID_FIELD" },
    outputs: (out) => {
      assert.equal(out.cpuid_leaf_subleaf, 7n);
      assert.equal(out.cpuid_mask_eax_ebx, 0xFFFF_FFFF_FFFF_FFFFn);
      assert.equal(out.cpuid_mask_ecx_edx, 0xFFFF_FFFF_FFFF_FFFFn);
    },
  },
  {
    name: "CPUID leaf 1 differs on the LP",
    setup: (p) => {
      const v = p.cpu.cpuidOn(1, leaf(p, "VERSION_INFO"), 0);
      p.cpu.cpuid.set(leaf(p, "VERSION_INFO"), "*", { ...v, edx: v.edx ^ 1 }, 1);
    },
    want: { name: "TDX_INCONSISTENT_CPUID_FIELD" },
    outputs: (out) => {
      assert.equal(out.cpuid_leaf_subleaf, 1n | (0xFFFF_FFFFn << 32n));
      assert.equal(out.cpuid_mask_eax_ebx, 0xFFFF_FFFFn);
    },
  },
  {
    name: "package ID beyond the module's limit",
    config: { packages: 2, lpPackages: [0, 0, 1, 9] },
    lp: 3,
    want: { name: "TDX_INVALID_PKG_ID", detail: 9n },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.SYS.LP.INIT: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform({ ...DEFAULT_PLATFORM, ...row.config });
    if (!row.noSysInit) assert.equal(p.seamcall("TDH.SYS.INIT").name, "TDX_SUCCESS");
    row.setup?.(p);
    const lp = row.lp ?? 1;
    const r = p.seamcallRaw("TDH.SYS.LP.INIT", {}, { lp, raxExtra: row.raxExtra });
    expectStatus(r, row.msr ? { ...row.want, detail: p.cpu.msrs.index(row.msr) } : row.want);
    row.outputs?.(r.out);
    if (!row.outputs) {
      for (const [k, v] of Object.entries(r.out)) if (k !== "status") assert.equal(v, 0n, k);
    }
    const st = p.module.state.platform;
    if (row.want.name === "TDX_SUCCESS") {
      assert.ok(st.lpInitialized.has(lp));
      assert.equal(st.lpPackage.get(lp), p.cpu.packageOf(lp));
    } else if (row.want.name !== "TDX_SYS_LP_INIT_DONE" && !row.noSysInit) {
      assert.ok(!st.lpInitialized.has(lp));
    }
  });
}

Deno.test("TDH.SYS.LP.INIT learns each LP's package from its x2APIC ID", () => {
  const p = new Platform({ ...DEFAULT_PLATFORM, logicalProcessors: 8, packages: 2 });
  p.initLps();
  assert.deepEqual([...p.module.state.platform.lpPackage.entries()].sort(), [
    [0, 0],
    [1, 0],
    [2, 0],
    [3, 0],
    [4, 1],
    [5, 1],
    [6, 1],
    [7, 1],
  ]);
});
