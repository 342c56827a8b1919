import { strict as assert } from "node:assert";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { GuestHarness } from "../testing/guest_harness.ts";
import { rtmrLock } from "../rtmr_lock.ts";
import { macMatches, teeInfoHash } from "../report.ts";
import { servtdOf } from "../servtd_state.ts";

const REPORT_GPA = 0x10_0000n;
const DATA_GPA = 0x10_0400n;

function setup() {
  const h = new GuestHarness();
  const hpa = h.map(REPORT_GPA);
  const data = Uint8Array.from({ length: 64 }, (_, i) => 0xA0 ^ i);
  h.writePrivate(hpa + 0x400n, data);
  h.td.rtmr[3] = new Uint8Array(48).fill(0x33);
  return { h, hpa, data };
}

function decode(h: GuestHarness, bytes: Uint8Array) {
  const v = new StructCodec(h.spec).decode("TDREPORT_STRUCT", bytes).value;
  return { mac: v.report_mac_struct as DecodedStruct, info: v.td_info as DecodedStruct };
}

Deno.test("TDG.MR.REPORT writes a TDREPORT_STRUCT that describes the TD", () => {
  const { h, hpa, data } = setup();
  const r = h.tdcall("TDG.MR.REPORT", {
    tdreport_gpa: REPORT_GPA,
    reportdata_gpa: DATA_GPA,
    subtype: 0,
  });
  assert.equal(r.name, "TDX_SUCCESS");
  const bytes = h.readPrivate(hpa, 1024);
  const { mac, info } = decode(h, bytes);
  const type = mac.report_type as DecodedStruct;
  assert.equal(BigInt(type.type as number), h.spec.enumValue("TEE_TYPE", "TDX"));
  assert.equal(type.subtype, 0);
  assert.equal(
    BigInt(type.version as number),
    h.spec.enumValue("TDX_REPORT_VERSION", "NO_SERVTDS"),
  );
  assert.deepEqual(mac.report_data, data);
  assert.deepEqual(info.mr_td, h.td.mrtd);
  assert.deepEqual(info.rtmr3, h.td.rtmr[3]);
  assert.deepEqual(mac.tee_info_hash, teeInfoHash(h.spec, bytes));
  assert.equal(macMatches(h.spec, h.state.reportMacKey, bytes.subarray(0, 256)), true);
});

Deno.test("TDG.MR.REPORT: buffers in shared memory (KeyID 0)", () => {
  const { h } = setup();
  const shared = h.sharedBit;
  const data = new Uint8Array(64).fill(7);
  h.p.cpu.memory.write(0x30_0040n, data);
  const r = h.tdcall("TDG.MR.REPORT", {
    tdreport_gpa: shared | 0x30_0400n,
    reportdata_gpa: shared | 0x30_0040n,
    subtype: 0,
  });
  assert.equal(r.name, "TDX_SUCCESS");
  const { mac } = decode(h, h.p.cpu.memory.read(0x30_0400n, 1024));
  assert.deepEqual(mac.report_data, data);
});

Deno.test("TDG.MR.REPORT: SERVTD_NUM above 0 gives REPORTTYPE.VERSION WITH_SERVTDS", () => {
  const { h, hpa } = setup();
  // SERVTD_NUM counts the TD's used binding slots (impl/module/servtd_state.ts).
  servtdOf(h.spec, h.td).num = 1;
  h.tdcall("TDG.MR.REPORT", { tdreport_gpa: REPORT_GPA, reportdata_gpa: DATA_GPA, subtype: 0 });
  const type = decode(h, h.readPrivate(hpa, 1024)).mac.report_type as DecodedStruct;
  assert.equal(
    BigInt(type.version as number),
    h.spec.enumValue("TDX_REPORT_VERSION", "WITH_SERVTDS"),
  );
});

const cases: {
  why: string;
  report?: bigint;
  data?: bigint;
  subtype?: bigint;
  arrange?: (h: GuestHarness) => void;
  status: string;
  operand: string;
}[] = [
  {
    why: "RCX not 1024-aligned",
    report: REPORT_GPA + 0x200n,
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "RCX misaligned before RDX misaligned",
    report: REPORT_GPA + 0x200n,
    data: DATA_GPA + 8n,
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  { why: "RDX not 64-aligned", data: DATA_GPA + 8n, status: "TDX_OPERAND_INVALID", operand: "RDX" },
  {
    why: "RDX above GPAW",
    data: DATA_GPA | (1n << 50n),
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
  },
  { why: "subtype not 0", subtype: 1n, status: "TDX_OPERAND_INVALID", operand: "R8" },
  {
    why: "RTMR lock held exclusively",
    arrange: (h) => h.state.locks.hold(rtmrLock(h.td), "exclusive"),
    status: "TDX_OPERAND_BUSY",
    operand: "RTMR",
  },
  {
    why: "RCX above GPAW",
    report: REPORT_GPA | (1n << 50n),
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "RCX above GPAW is checked after the subtype",
    report: REPORT_GPA | (1n << 50n),
    subtype: 2n,
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
  },
];

for (const c of cases) {
  Deno.test(`TDG.MR.REPORT: ${c.why} -> ${c.status} ${c.operand}`, () => {
    const { h, hpa } = setup();
    c.arrange?.(h);
    const r = h.tdcall("TDG.MR.REPORT", {
      tdreport_gpa: c.report ?? REPORT_GPA,
      reportdata_gpa: c.data ?? DATA_GPA,
      subtype: c.subtype ?? 0n,
    });
    assert.equal(r.name, c.status);
    assert.equal(r.operand, c.operand);
    assert.deepEqual(h.readPrivate(hpa, 256), new Uint8Array(256));
  });
}

Deno.test("TDG.MR.REPORT: a pending interrupt leaves RAX and memory alone", () => {
  const { h, hpa } = setup();
  h.vcpu.guestInterruptPending = true;
  const r = h.tdcall("TDG.MR.REPORT", {
    tdreport_gpa: REPORT_GPA,
    reportdata_gpa: DATA_GPA,
    subtype: 0,
  });
  assert.equal(r.completed, false);
  assert.deepEqual(h.readPrivate(hpa, 256), new Uint8Array(256));
});

Deno.test("TDG.MR.REPORT: an unmapped report buffer is an EPT-violation TD exit", () => {
  const { h } = setup();
  const r = h.tdcall("TDG.MR.REPORT", {
    tdreport_gpa: 0x40_0000n,
    reportdata_gpa: DATA_GPA,
    subtype: 0,
  });
  assert.equal(r.completed, false);
  assert.deepEqual(h.vcpu.pendingExit, {
    kind: "ept-violation",
    gpa: 0x40_0000n,
    shared: false,
    level: 1,
    state: "FREE",
  });
});

Deno.test("TDG.MR.REPORT: a SEAM database entry the CPU no longer holds is a CORRUPTED_MD TD exit", () => {
  const { h, hpa } = setup();
  h.p.cpu.seamdb.clear();
  const r = h.tdcall("TDG.MR.REPORT", {
    tdreport_gpa: REPORT_GPA,
    reportdata_gpa: DATA_GPA,
    subtype: 0,
  });
  assert.equal(r.completed, false);
  assert.deepEqual(h.vcpu.pendingExit, {
    kind: "async",
    status: "TDX_NON_RECOVERABLE_TD_CORRUPTED_MD",
    reason: h.spec.enum("VMX_EXIT_REASON").values.find((v) => BigInt(v.value) === 0n)!.name,
  });
  // Nothing reached the report buffer.
  assert.deepEqual(h.readPrivate(hpa, 1024), new Uint8Array(1024));
});

Deno.test("TDG.MR.REPORT: a TDR whose SEAMDB nonce differs from the entry's is refused too", () => {
  const { h } = setup();
  h.td.seamdb = { index: h.td.seamdb!.index, nonce: h.td.seamdb!.nonce ^ 1n };
  const r = h.tdcall("TDG.MR.REPORT", {
    tdreport_gpa: REPORT_GPA,
    reportdata_gpa: DATA_GPA,
    subtype: 0,
  });
  assert.equal(r.completed, false);
  assert.equal(
    (h.vcpu.pendingExit as { status?: string }).status,
    "TDX_NON_RECOVERABLE_TD_CORRUPTED_MD",
  );
});

Deno.test("TDG.MR.REPORT: checks before SEAMDB_REPORT still answer with the database lost", () => {
  const { h } = setup();
  h.p.cpu.seamdb.clear();
  const r = h.tdcall("TDG.MR.REPORT", {
    tdreport_gpa: REPORT_GPA,
    reportdata_gpa: DATA_GPA,
    subtype: 1,
  });
  assert.equal(r.name, "TDX_OPERAND_INVALID");
  assert.equal(h.vcpu.pendingExit, undefined);
});
