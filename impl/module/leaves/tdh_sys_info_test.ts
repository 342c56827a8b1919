import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { StructCodec } from "../../spec/codec.ts";
import { encodeBits } from "../../spec/bits.ts";

interface Row {
  name: string;
  before?: (p: Platform) => void;
  inputs?: (p: Platform, info: bigint, cmr: bigint) => Partial<Record<string, bigint>>;
  lp?: number;
  raxExtra?: bigint;
  want: Expected;
}

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  {
    name: "success before TDH.SYS.CONFIG",
    before: (p) => p.initLps(),
    want: { name: "TDX_SUCCESS" },
  },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 24n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    before: (p) => {
      p.readyPlatform();
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  {
    name: "LP not initialised",
    before: (p) => assert.equal(p.seamcall("TDH.SYS.INIT").name, "TDX_SUCCESS"),
    lp: 3,
    want: { name: "TDX_SYS_LP_INIT_NOT_DONE" },
  },
  {
    name: "TDSYSINFO buffer not 1 KiB aligned",
    inputs: (_p, info) => ({ tdsysinfo_pa: info + 0x200n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "TDSYSINFO buffer with a private HKID",
    inputs: (p, info) => ({ tdsysinfo_pa: p.cpu.memory.withKeyId(info, 35) }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RCX" },
  },
  {
    name: "TDSYSINFO buffer too small",
    inputs: () => ({ tdsysinfo_size: 1023n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "RDX" },
  },
  {
    name: "CMR buffer not 512-byte aligned",
    inputs: (_p, _i, cmr) => ({ cmr_info_pa: cmr + 0x100n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R8" },
  },
  {
    name: "CMR buffer in SEAMRR",
    inputs: (p) => ({ cmr_info_pa: p.cpu.platform.seamrr.base + 0x1000n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R8" },
  },
  {
    name: "room for 31 CMRs",
    inputs: () => ({ num_cmr_entries: 31n }),
    want: { name: "TDX_OPERAND_INVALID", operand: "R9" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.SYS.INFO: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? ((q: Platform) => q.readyPlatform()))(p);
    const info = p.allocPage();
    const cmr = p.allocPage();
    p.cpu.memory.write(info, new Uint8Array(1024).fill(0xAA));
    const inputs = {
      tdsysinfo_pa: info,
      tdsysinfo_size: 1024n,
      cmr_info_pa: cmr,
      num_cmr_entries: 32n,
      ...row.inputs?.(p, info, cmr),
    } as Record<string, bigint>;
    const r = p.seamcallRaw("TDH.SYS.INFO", inputs, { lp: row.lp, raxExtra: row.raxExtra });
    expectStatus(r, row.want, row.name);
    const codec = new StructCodec(p.spec);
    if (row.want.name === "TDX_SUCCESS") {
      assert.equal(r.out.tdsysinfo_bytes, 1024n);
      assert.equal(r.out.cmr_entries, 32n);
      const s = codec.decode("TDSYSINFO_STRUCT", p.cpu.memory.read(info, 1024)).value;
      assert.equal(s.vendor_id, 0x8086);
      assert.equal(s.major_version, 1);
      assert.equal(s.minor_version, 5);
      assert.equal(s.sys_rd, 1);
      assert.equal(s.max_tdmrs, 64);
      assert.equal(s.max_reserved_per_tdmr, 16);
      assert.equal(s.pamt_entry_size, 16);
      assert.ok((s.num_cpuid_config as number) > 0);
      const cmrs = codec.decode("CMR_INFO_ARRAY", p.cpu.memory.read(cmr, 512)).value.cmr as {
        cmr_base: bigint;
        cmr_size: bigint;
      }[];
      assert.deepEqual(
        cmrs.slice(0, 2).map((c) => ({ base: c.cmr_base, size: c.cmr_size })),
        p.cpu.platform.cmrs,
      );
      assert.equal(cmrs[2].cmr_size, 0n);
    } else if (row.want.operand === "R8" || row.want.operand === "R9") {
      // The TDSYSINFO buffer was cleared before the CMR operands were checked.
      assert.ok(p.cpu.memory.read(info, 1024).every((b) => b === 0));
      assert.equal(r.out.tdsysinfo_bytes, 0n);
    } else if (row.want.operand === "RCX" || row.want.operand === "RDX") {
      assert.ok(p.cpu.memory.read(info, 1024).every((b) => b === 0xAA));
    }
  });
}

Deno.test("TDH.SYS.INFO reports ALLOW_DIRECT CPUID bits as TDH.SYS.INIT sampled them", () => {
  const monitor = (p: Platform) =>
    Number(encodeBits(p.spec.bitfield("CPUID_01_ECX").fields, { MONITOR: 1n }));
  const monitorOf = (p: Platform) => {
    const info = p.allocPage();
    const cmr = p.allocPage();
    const r = p.seamcall("TDH.SYS.INFO", {
      tdsysinfo_pa: info,
      tdsysinfo_size: 1024n,
      cmr_info_pa: cmr,
      num_cmr_entries: 32n,
    });
    assert.equal(r.name, "TDX_SUCCESS");
    const s = new StructCodec(p.spec).decode("TDSYSINFO_STRUCT", p.cpu.memory.read(info, 1024))
      .value as { cpuid_config_list: { values: { ecx: number } }[] };
    // Entry 0 is CPUID(1); MONITOR is allowed only where the CPU has it.
    return s.cpuid_config_list[0].values.ecx & monitor(p);
  };
  const withMonitor = (p: Platform) => {
    const leaf = Number(p.spec.enumValue("CPUID_LEAF", "VERSION_INFO"));
    p.cpu.cpuid.patch(leaf, "*", { ecx: (p.cpu.cpuidOn(0, leaf, 0).ecx | monitor(p)) >>> 0 });
  };
  const before = new Platform();
  withMonitor(before);
  before.readyPlatform();
  assert.equal(monitorOf(before), monitor(before));
  const after = new Platform();
  after.readyPlatform();
  withMonitor(after);
  assert.equal(monitorOf(after), 0);
});
