import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { lockKey } from "../locks.ts";
import { sampledCpuid } from "../platform_sample.ts";
import { DEFAULT_PLATFORM, type PlatformConfig } from "../../cpu/cpu.ts";

const GiB = 1n << 30n;

interface Row {
  name: string;
  config?: Partial<PlatformConfig>;
  setup?: (p: Platform) => void;
  inputs?: Record<string, bigint>;
  version?: number;
  raxExtra?: bigint;
  want: Expected;
  /** The MSR whose index the detail carries. */
  msr?: string;
  outputs?: (p: Platform, out: Record<string, bigint>) => void;
}

function msr(p: Platform, name: string, fields: Record<string, bigint>, layout = name) {
  const cur = p.cpu.msrs.decode(layout, p.cpu.msrs.readNamed(name) ?? 0n);
  p.cpu.msrs.writeFields(name, { ...cur, ...fields }, layout);
}
const idx = (p: Platform, n: string) => p.cpu.msrs.index(n);
const leaf = (p: Platform, n: string) => Number(p.spec.enumValue("CPUID_LEAF", n));
const bit = (p: Platform, bitfield: string, f: string) =>
  Number(p.cpu.msrs.encode(bitfield, { [f]: 1n }));

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 40n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  { name: "RAX version 1", version: 1, want: { name: "TDX_OPERAND_INVALID", operand: "RAX" } },
  {
    name: "module shut down",
    setup: (p) => {
      p.readyPlatform();
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  {
    name: "global lock held",
    setup: (p) => void p.module.state.locks.hold(lockKey.global(), "shared"),
    want: { name: "TDX_SYS_BUSY" },
  },
  {
    name: "RCX not 0",
    inputs: { sys_attributes: 1n },
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "already initialised",
    setup: (p) => assert.equal(p.seamcall("TDH.SYS.INIT").name, "TDX_SUCCESS"),
    want: { name: "TDX_SYS_INIT_NOT_PENDING" },
  },
  ...([
    ["IA32_ARCH_CAPABILITIES", { RDCL_NO: 0n }],
    ["IA32_ARCH_CAPABILITIES", { RSBA: 1n }],
    ["IA32_XAPIC_DISABLE_STATUS", { LEGACY_XAPIC_DISABLED: 0n }],
    ["IA32_MISC_PACKAGE_CTLS", { ENERGY_FILTERING_ENABLE: 0n }],
    ["IA32_PERF_CAPABILITIES", { FULL_WRITE: 0n }],
    ["IA32_TME_ACTIVATE", { LOCK: 0n }],
    ["IA32_TME_CAPABILITY", { AES_XTS_128_WITH_INTEGRITY: 0n }],
    ["IA32_TME_ACTIVATE", { ALGS_AES_XTS_128_WITH_INTEGRITY: 0n }],
  ] as [string, Record<string, bigint>][]).map(([name, fields]): Row => ({
    name: `${name} ${Object.keys(fields)[0]}`,
    setup: (p) => msr(p, name, fields),
    want: { name: "TDX_INCORRECT_MSR_VALUE" },
    msr: name,
  })),
  {
    name: "IA32_WBNOINVDP differs from IA32_WBINVDP",
    setup: (p) => p.cpu.msrs.writeNamed("IA32_WBNOINVDP", 3n),
    want: { name: "TDX_INCORRECT_MSR_VALUE" },
    msr: "IA32_WBNOINVDP",
  },
  {
    name: "limit CPUID maxval",
    setup: (p) => msr(p, "IA32_MISC_ENABLE", { LIMIT_CPUID_MAXVAL: 1n }),
    want: { name: "TDX_LIMIT_CPUID_MAXVAL_SET" },
  },
  {
    name: "highest basic leaf too low",
    setup: (p) => p.cpu.cpuid.patch(leaf(p, "MAX_BASIC"), "*", { eax: 0x1E }),
    want: { name: "TDX_CPUID_LEAF_NOT_SUPPORTED", detail: 0x1Fn },
  },
  {
    name: "highest extended leaf too low",
    setup: (p) => p.cpu.cpuid.patch(leaf(p, "MAX_EXTENDED"), "*", { eax: 0x80000007 }),
    want: { name: "TDX_CPUID_LEAF_NOT_SUPPORTED", detail: 0x80000008n },
  },
  {
    name: "no TSC ratio in leaf 0x15",
    setup: (p) => p.cpu.cpuid.patch(leaf(p, "TSC_CRYSTAL"), "*", { ebx: 0 }),
    want: { name: "TDX_CPUID_LEAF_NOT_SUPPORTED", detail: 0x15n },
  },
  {
    name: "leaf 0x1F has no valid level",
    setup: (p) => {
      for (const lp of p.cpu.lps) {
        p.cpu.cpuid.set(leaf(p, "V2_TOPOLOGY"), 0, { eax: 0, ebx: 0, ecx: 0, edx: 0 }, lp.id);
      }
    },
    want: { name: "TDX_CPUID_LEAF_NOT_SUPPORTED", operand: "RAX" },
  },
  {
    name: "required CPUID bit missing",
    setup: (p) => {
      const v = p.cpu.cpuidOn(0, leaf(p, "VERSION_INFO"), 0);
      p.cpu.cpuid.patch(leaf(p, "VERSION_INFO"), "*", {
        ecx: v.ecx & ~bit(p, "CPUID_01_ECX", "X2APIC"),
      });
    },
    want: { name: "TDX_INCORRECT_CPUID_VALUE" },
    outputs: (p, out) => {
      assert.equal(out.cpuid_leaf_subleaf, 1n | (0xFFFF_FFFFn << 32n));
      const need = ["VMX", "PCID", "X2APIC", "AESNI", "XSAVE", "RDRAND"].reduce(
        (a, f) => a | BigInt(bit(p, "CPUID_01_ECX", f)),
        0n,
      );
      assert.equal(out.cpuid_mask_eax_ebx, 0n);
      assert.equal(out.cpuid_mask_ecx_edx, need);
      assert.equal(out.cpuid_value_eax_ebx, 0n);
      assert.equal(out.cpuid_value_ecx_edx, need);
    },
  },
  {
    name: "wrong CPU vendor",
    setup: (p) => p.cpu.cpuid.patch(leaf(p, "MAX_BASIC"), "*", { ebx: 0x68747541 }),
    want: { name: "TDX_INCORRECT_CPUID_VALUE" },
    outputs: (_p, out) => assert.equal(out.cpuid_leaf_subleaf, 0xFFFF_FFFFn << 32n),
  },
  {
    name: "leaf 0x1F levels out of order",
    setup: (p) => {
      for (const lp of p.cpu.lps) {
        const v = p.cpu.cpuidOn(lp.id, leaf(p, "V2_TOPOLOGY"), 1);
        // CORE level re-labelled SMT: the types no longer increase.
        p.cpu.cpuid.set(
          leaf(p, "V2_TOPOLOGY"),
          1,
          { ...v, ecx: (v.ecx & ~0xFF00) | (1 << 8) },
          lp.id,
        );
      }
    },
    want: { name: "TDX_CPUID_LEAF_1F_FORMAT_UNRECOGNIZED" },
  },
  {
    name: "L3 not shared by the whole package",
    setup: (p) => {
      const v = p.cpu.cpuidOn(0, leaf(p, "CACHE_PARAMS"), 3);
      const f = p.cpu.msrs.decode("CPUID_04_EAX", BigInt(v.eax));
      const eax = Number(p.cpu.msrs.encode("CPUID_04_EAX", { ...f, MAX_LPS_SHARING_CACHE: 0n }));
      p.cpu.cpuid.set(leaf(p, "CACHE_PARAMS"), 3, { ...v, eax });
    },
    want: { name: "TDX_INVALID_WBINVD_SCOPE" },
  },
  {
    name: "too many private HKIDs activated",
    setup: (p) => msr(p, "IA32_MKTME_KEYID_PARTITIONING", { NUM_TDX_PRIV_KIDS: 4096n }),
    want: { name: "TDX_NUM_ACTIVATED_HKIDS_NOT_SUPPORTED", detail: 2048n },
  },
  {
    name: "CMR not 4 KiB aligned",
    config: { cmrs: [{ base: 0x800n, size: 2n * GiB - (64n << 20n) }, DEFAULT_PLATFORM.cmrs[1]] },
    want: { name: "TDX_CMR_LIST_INVALID" },
  },
  {
    name: "CMRs out of order",
    config: { cmrs: [DEFAULT_PLATFORM.cmrs[1], DEFAULT_PLATFORM.cmrs[0]] },
    want: { name: "TDX_CMR_LIST_INVALID" },
  },
  {
    name: "CMR with HKID bits",
    config: { cmrs: [DEFAULT_PLATFORM.cmrs[0], { base: 1n << 50n, size: GiB }] },
    want: { name: "TDX_CMR_LIST_INVALID" },
  },
  {
    name: "no SMRR",
    setup: (p) => msr(p, "IA32_MTRRCAP", { SMRR: 0n }),
    want: { name: "TDX_SMRR_NOT_SUPPORTED" },
  },
  {
    name: "no SMRR lock",
    setup: (p) => msr(p, "IA32_MTRRCAP", { SMRR_LOCK: 0n }),
    want: { name: "TDX_SMRR_LOCK_NOT_SUPPORTED" },
  },
  {
    name: "SMRR not locked",
    config: { smrr: { ...DEFAULT_PLATFORM.smrr, locked: false } },
    want: { name: "TDX_SMRR_NOT_LOCKED", detail: 0n },
  },
  {
    name: "SMRR2 not locked",
    config: {
      smrr2: {
        range: { base: 2n * GiB - (48n << 20n), size: 1n << 20n },
        valid: true,
        locked: false,
      },
    },
    want: { name: "TDX_SMRR_NOT_LOCKED", detail: 1n },
  },
  {
    name: "SMRR mask with a hole",
    setup: (p) => msr(p, "IA32_SMRR_PHYSMASK", { MASK: 0xFFBFFn }),
    want: { name: "TDX_INVALID_SMRR_CONFIGURATION", detail: 0n },
  },
  {
    name: "SMRR base not aligned to its size",
    setup: (p) => msr(p, "IA32_SMRR_PHYSBASE", { BASE: 0x7C100n }),
    want: { name: "TDX_INVALID_SMRR_CONFIGURATION", detail: 0n },
  },
  {
    name: "SMRR2 inside the first CMR",
    config: {
      smrr2: { range: { base: 0x4000_0000n, size: 1n << 20n }, valid: true, locked: true },
    },
    want: { name: "TDX_SMRR_OVERLAPS_CMR", detail: 0x0001n },
  },
  {
    name: "SEAMOPS lacks SEAMDB_REPORT",
    config: { seamCapabilities: 0x1Fn },
    want: { name: "TDX_INCOMPATIBLE_SEAM_CAPABILITIES" },
  },
  {
    name: "SIGSTRUCT handoff version",
    setup: (p) => (p.module.state.profile.sigstruct.moduleHv = 1),
    want: { name: "TDX_SYS_INCOMPATIBLE_SIGSTRUCT" },
  },
  {
    name: "SIGSTRUCT handoff pages",
    setup: (p) => (p.module.state.profile.sigstruct.numHandoffPages = 0),
    want: { name: "TDX_SYS_INCOMPATIBLE_SIGSTRUCT" },
  },
  {
    name: "no entropy for the stack canary",
    setup: (p) => p.cpu.blockRng(true),
    want: { name: "TDX_RND_NO_ENTROPY" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.SYS.INIT: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform({ ...DEFAULT_PLATFORM, ...row.config });
    row.setup?.(p);
    const r = p.seamcallRaw("TDH.SYS.INIT", row.inputs ?? {}, {
      version: row.version,
      raxExtra: row.raxExtra,
    });
    expectStatus(r, row.msr ? { ...row.want, detail: idx(p, row.msr) } : row.want, row.name);
    row.outputs?.(p, r.out);
    const st = p.module.state.platform.sysState;
    if (row.want.name === "TDX_SUCCESS") assert.equal(st, "SYSINIT_DONE");
    else if (!["TDX_SYS_SHUTDOWN", "TDX_SYS_INIT_NOT_PENDING"].includes(row.want.name)) {
      assert.equal(st, "SYSINIT_PENDING");
    }
    if (row.want.name !== "TDX_INCORRECT_CPUID_VALUE") {
      for (const [k, v] of Object.entries(r.out)) if (k !== "status") assert.equal(v, 0n, k);
    }
  });
}

Deno.test("TDH.SYS.INIT records the platform it checked", () => {
  const p = new Platform();
  assert.equal(p.seamcall("TDH.SYS.INIT").name, "TDX_SUCCESS");
  const s = p.module.state.platform.sampled!;
  assert.equal(s.maxPa, DEFAULT_PLATFORM.maxPa);
  assert.equal(s.hkidStartBit, DEFAULT_PLATFORM.maxPa - DEFAULT_PLATFORM.keyIdBits);
  assert.equal(s.privateHkidMin, DEFAULT_PLATFORM.sharedKeyIds + 1);
  assert.equal(s.privateHkidMax, DEFAULT_PLATFORM.sharedKeyIds + DEFAULT_PLATFORM.privateKeyIds);
  assert.equal(s.numPkgs, 2);
  assert.equal(s.numLps, 4);
  assert.deepEqual(s.cmrs, DEFAULT_PLATFORM.cmrs);
  assert.deepEqual(s.seamrr, DEFAULT_PLATFORM.seamrr);
});

Deno.test("TDH.SYS.INIT samples the CPUID of every leaf a TD sees", () => {
  const p = new Platform();
  // A CPU whose last basic leaf is 0x22: leaf 0x23 is sampled as zeros.
  p.cpu.cpuid.patch(leaf(p, "MAX_BASIC"), "*", { eax: 0x22 });
  assert.equal(p.seamcall("TDH.SYS.INIT").name, "TDX_SUCCESS");
  const s = p.module.state.platform.sampled!;
  const lookup = p.spec.enum("TD_CPUID_LOOKUP").values.map((v) => BigInt(v.value));
  assert.equal(s.tdCpuid.size, lookup.length);
  const at = (l: number, sub: number) => sampledCpuid(s, l, sub)!;
  assert.equal(at(leaf(p, "VERSION_INFO"), 0).eax, s.platformFms);
  assert.deepEqual(at(0x23, 0), { eax: 0, ebx: 0, ecx: 0, edx: 0 });
  const xsave = leaf(p, "XSAVE_STATE");
  assert.deepEqual(at(xsave, 1), p.cpu.cpuidOn(0, xsave, 1));
  // A later change on the CPU does not reach the sample.
  const before = at(xsave, 0);
  p.cpu.cpuid.patch(xsave, 0, { eax: 0x3 });
  assert.deepEqual(at(xsave, 0), before);
});

Deno.test("TDH.SYS.INIT samples the SEAM database's newest entry (SEAMDB_GETREF)", () => {
  const p = new Platform();
  const newest = p.cpu.seamdb.getref();
  if (newest.result !== "SEAMOPS_SUCCESS") throw new Error("the loader inserted no entry");
  assert.equal(p.seamcall("TDH.SYS.INIT").name, "TDX_SUCCESS");
  assert.deepEqual(p.module.state.platform.sampled!.seamdb, newest.ref);
});

Deno.test("TDH.SYS.INIT stops (no status) when the SEAM database holds no entry", () => {
  const p = new Platform();
  p.cpu.seamdb.clear();
  assert.throws(() => p.seamcall("TDH.SYS.INIT"), /SEAMDB_GETREF/);
});
