import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { GuestHarness } from "../testing/guest_harness.ts";
import { buildTdReport } from "../report.ts";
import { ModuleState } from "../state.ts";

const GPA = 0x10_0100n;

function setup(mutate?: (macStruct: Uint8Array) => void, key?: ModuleState) {
  const h = new GuestHarness();
  const hpa = h.map(GPA & ~0xFFFn);
  const report = buildTdReport(h.spec, key ?? h.state, h.td, new Uint8Array(64).fill(3));
  const macStruct = report.slice(0, 256);
  mutate?.(macStruct);
  h.writePrivate(hpa + (GPA & 0xFFFn), macStruct);
  return h;
}

const cpusvnOffset = (h: GuestHarness) =>
  h.spec.struct("REPORTMACSTRUCT").fields.find((f) => f.name === "cpusvn")!.offset!;

Deno.test("TDG.MR.VERIFYREPORT accepts a report this platform made", () => {
  const h = setup();
  assert.equal(h.tdcall("TDG.MR.VERIFYREPORT", { reportmacstruct_gpa: GPA }).name, "TDX_SUCCESS");
});

const cases: {
  why: string;
  gpa?: bigint;
  mutate?: (m: Uint8Array, h: GuestHarness) => void;
  foreign?: boolean;
  arrange?: (h: GuestHarness) => void;
  status: string;
  operand?: string;
}[] = [
  {
    why: "the CPU has no SEAMVERIFYREPORT",
    arrange: (h) => {
      h.p.cpu.lps[0].seamCapabilities = encodeBits(
        h.spec.bitfield("SEAMOPS_CAPABILITIES").fields,
        { CAPABILITIES: 1n, SEAMREPORT: 1n },
      );
    },
    status: "TDX_OPERAND_INVALID",
    operand: "RAX",
  },
  { why: "RCX not 256-aligned", gpa: GPA + 0x80n, status: "TDX_OPERAND_INVALID", operand: "RCX" },
  { why: "RCX shared", gpa: GPA | (1n << 47n), status: "TDX_OPERAND_INVALID", operand: "RCX" },
  { why: "RCX above GPAW", gpa: GPA | (1n << 49n), status: "TDX_OPERAND_INVALID", operand: "RCX" },
  {
    why: "a CPUSVN newer than the platform's",
    mutate: (m, h) => (m[cpusvnOffset(h)] = 0xFF),
    status: "TDX_INVALID_CPUSVN",
  },
  {
    why: "altered REPORTDATA",
    mutate: (m) => (m[128] ^= 0x80),
    status: "TDX_INVALID_REPORTMACSTRUCT",
  },
  {
    why: "a report MACed on another platform",
    foreign: true,
    status: "TDX_INVALID_REPORTMACSTRUCT",
  },
];

for (const c of cases) {
  Deno.test(`TDG.MR.VERIFYREPORT: ${c.why} -> ${c.status} ${c.operand ?? ""}`, () => {
    const probe = new GuestHarness();
    const h = setup(
      c.mutate ? (m) => c.mutate!(m, probe) : undefined,
      c.foreign ? new ModuleState(new Uint8Array(32).fill(9)) : undefined,
    );
    c.arrange?.(h);
    const r = h.tdcall("TDG.MR.VERIFYREPORT", { reportmacstruct_gpa: c.gpa ?? GPA });
    assert.equal(r.name, c.status);
    if (c.operand) assert.equal(r.operand, c.operand);
    else assert.equal(r.detail, 0n);
  });
}
