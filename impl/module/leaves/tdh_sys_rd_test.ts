import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { parseHex } from "../../spec/hex.ts";
import { FIELD_ID_NA, mdNextElementId } from "../metadata.ts";

const id = (p: Platform, name: string, index = 0) =>
  parseHex(p.spec.metadataField("global", name).field_id) + BigInt(index);

interface Row {
  name: string;
  /** Default: readyPlatform(). */
  before?: (p: Platform) => void;
  fieldId: (p: Platform) => bigint;
  lp?: number;
  raxExtra?: bigint;
  want: Expected;
  value?: (p: Platform) => bigint;
  next?: (p: Platform) => bigint;
}

const ROWS: Row[] = [
  {
    name: "MAJOR_VERSION",
    fieldId: (p) => id(p, "MAJOR_VERSION"),
    want: { name: "TDX_SUCCESS" },
    value: () => 1n,
    next: (p) => id(p, "UPDATE_VERSION"),
  },
  {
    name: "the context code is ignored",
    // The TD context code (2) in bits 54:52 still reads the global field.
    fieldId: (p) => id(p, "MINOR_VERSION") | (2n << 52n),
    want: { name: "TDX_SUCCESS" },
    value: () => 5n,
  },
  {
    name: "before TDH.SYS.CONFIG (allowed before the module is ready)",
    before: (p) => p.initLps(),
    fieldId: (p) => id(p, "NUM_PKGS"),
    want: { name: "TDX_SUCCESS" },
    value: () => 2n,
  },
  {
    name: "CMR_BASE[1]",
    fieldId: (p) => id(p, "CMR_BASE", 1),
    want: { name: "TDX_SUCCESS" },
    value: (p) => p.cpu.platform.cmrs[1].base,
  },
  {
    name: "RAX reserved bits",
    fieldId: (p) => id(p, "NUM_PKGS"),
    raxExtra: 1n << 32n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    before: (p) => {
      p.readyPlatform();
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    fieldId: (p) => id(p, "NUM_PKGS"),
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  {
    name: "LP not initialised",
    before: (p) => assert.equal(p.seamcall("TDH.SYS.INIT").name, "TDX_SUCCESS"),
    fieldId: (p) => id(p, "NUM_PKGS"),
    lp: 1,
    want: { name: "TDX_SYS_LP_INIT_NOT_DONE" },
  },
  {
    name: "null id asks for the first field",
    fieldId: () => FIELD_ID_NA,
    want: { name: "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT" },
    next: (p) => id(p, "NUM_PKGS"),
  },
  {
    name: "reserved id bits",
    fieldId: (p) => id(p, "NUM_PKGS") | (1n << 24n),
    want: { name: "TDX_METADATA_FIELD_ID_INCORRECT" },
  },
  {
    name: "LAST_ELEMENT_IN_FIELD not 0",
    fieldId: (p) => id(p, "NUM_PKGS") | (1n << 34n),
    want: { name: "TDX_METADATA_FIELD_ID_INCORRECT" },
  },
  {
    name: "no such field",
    fieldId: () => 0x3E00_0000_0000_0000n,
    want: { name: "TDX_METADATA_FIELD_ID_INCORRECT" },
  },
  {
    name: "extension fields on a module without extensions",
    before: (p) => {
      const prof = p.module.state.profile;
      prof.features0 = prof.features0.filter((f) => f !== "EXT" && f !== "QUOTE");
      p.readyPlatform();
    },
    fieldId: (p) => id(p, "MEMORY_POOL_REQUIRED_PAGES"),
    want: { name: "TDX_METADATA_FIELD_ID_INCORRECT" },
  },
  {
    name: "MAX_QUOTE_SIZE before TDH.QUOTE.INIT",
    fieldId: (p) => id(p, "MAX_QUOTE_SIZE"),
    want: { name: "TDX_METADATA_FIELD_NOT_READABLE" },
  },
  {
    name: "CPUID_CONFIG_LEAVES beyond the list, filler",
    fieldId: (p) => id(p, "CPUID_CONFIG_LEAVES", 31),
    want: { name: "TDX_SUCCESS" },
    value: () => 0xFFFF_FFFF_FFFF_FFFFn,
  },
  {
    name: "CPUID_CONFIG_LEAVES beyond the list, skipped",
    before: (p) => {
      p.readyPlatform();
      p.module.state.profile.cpuidConfigFiller = false;
    },
    fieldId: (p) => id(p, "CPUID_CONFIG_LEAVES", 31),
    want: { name: "TDX_METADATA_FIELD_SKIP" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.SYS.RD: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? ((q: Platform) => q.readyPlatform()))(p);
    const r = p.seamcallRaw("TDH.SYS.RD", { field_id: row.fieldId(p) }, {
      lp: row.lp,
      raxExtra: row.raxExtra,
    });
    expectStatus(r, row.want, row.name);
    assert.equal(r.out.value, row.value?.(p) ?? 0n, "value");
    const next = row.next?.(p);
    if (next !== undefined) assert.equal(r.out.next_field_id, next, "next");
    // The dispatcher's refusals leave the registers alone; the leaf's own set RDX to -1.
    const byLeaf = !["TDX_OPERAND_INVALID", "TDX_SYS_SHUTDOWN"].includes(row.want.name);
    if (byLeaf && row.want.name !== "TDX_SUCCESS" && !row.next) {
      assert.equal(r.out.next_field_id, FIELD_ID_NA);
    }
  });
}

Deno.test("TDH.SYS.RD walks every host-readable global element", () => {
  const p = new Platform();
  p.readyPlatform();
  let at = p.seamcall("TDH.SYS.RD", { field_id: FIELD_ID_NA }).out.next_field_id;
  const names = new Set<string>();
  let reads = 0;
  while (at !== FIELD_ID_NA) {
    const r = p.seamcall("TDH.SYS.RD", { field_id: at });
    if (r.name === "TDX_METADATA_FIELD_NOT_READABLE") {
      // RD gives no next id on a refusal; the host steps over the field itself.
      const c = { spec: p.spec, cpu: p.cpu, state: p.module.state };
      at = mdNextElementId(c, "global", at, { who: "host" });
      continue;
    }
    assert.equal(r.name, "TDX_SUCCESS", `0x${at.toString(16)}`);
    reads++;
    for (const f of p.spec.metadata.values()) {
      if (f.scope === "global" && parseHex(f.field_id) === at) names.add(f.name);
    }
    at = r.out.next_field_id;
  }
  assert.ok(reads > 200);
  for (const n of ["NUM_PKGS", "TDX_FEATURES0", "CMR_BASE", "MAX_TDMRS", "EXT_REQUIRED"]) {
    assert.ok(names.has(n), n);
  }
});

Deno.test("TDH.SYS.RD reports the platform and the module build", () => {
  const p = new Platform();
  p.readyPlatform();
  const read = (name: string, i = 0) =>
    p.seamcall("TDH.SYS.RD", { field_id: id(p, name, i) }).out.value;
  assert.equal(read("NUM_CMRS"), 32n);
  assert.equal(read("CMR_SIZE", 0), p.cpu.platform.cmrs[0].size);
  assert.equal(read("CMR_SIZE", 5), 0n);
  assert.equal(read("PKG_FMS", 1), BigInt(p.cpu.platform.packageFms[1]));
  assert.equal(read("MAX_TDMRS"), 64n);
  assert.equal(read("MAX_RESERVED_PER_TDMR"), 16n);
  assert.equal(read("PAMT_4K_ENTRY_SIZE"), 16n);
  assert.equal(read("VENDOR_ID"), 0x8086n);
  assert.equal(read("TDR_BASE_SIZE"), 4096n);
  const f0 = p.cpu.msrs.decode("TDX_FEATURES0", read("TDX_FEATURES0"));
  assert.equal(f0.EXT, 1n);
  assert.equal(f0.QUOTE, 1n);
  assert.equal(f0.LOCAL_ATTESTATION, 1n);
  assert.equal(read("EXT_REQUIRED"), 0n);
  assert.equal(read("MEMORY_POOL_REQUIRED_PAGES"), 0n);
  // XFAM_FIXED1 (x87, SSE) must be allowed by XFAM_FIXED0.
  assert.equal(read("XFAM_FIXED0") & read("XFAM_FIXED1"), read("XFAM_FIXED1"));
});

Deno.test("TDH.SYS.RD: LOCAL_ATTESTATION needs SEAMVERIFYREPORT", () => {
  const p = new Platform({ ...new Platform().cpu.platform, seamCapabilities: 0x3Fn });
  p.readyPlatform();
  const f0 = p.seamcall("TDH.SYS.RD", { field_id: id(p, "TDX_FEATURES0") }).out.value;
  assert.equal(p.cpu.msrs.decode("TDX_FEATURES0", f0).LOCAL_ATTESTATION, 0n);
});
