import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { GuestHarness } from "../testing/guest_harness.ts";
import { entryAt, entryLockKey } from "../sept.ts";

const GPA = 0x20_0000n;

const rcx = (h: GuestHarness, gpa: bigint, level: number, extra: Record<string, bigint> = {}) =>
  encodeBits(h.spec.bitfield("GPA_AND_LEVEL").fields, {
    level: BigInt(level),
    gpa: gpa >> 12n,
    ...extra,
  });

Deno.test("TDG.MEM.PAGE.ACCEPT zeroes a PENDING 4 KiB page with the TD's key and maps it", () => {
  const h = new GuestHarness();
  const hpa = h.map(GPA, { state: "PENDING" });
  h.p.cpu.memory.write(hpa, new Uint8Array(64).fill(0xEE)); // host garbage, KeyID 0
  const r = h.tdcall("TDG.MEM.PAGE.ACCEPT", { gpa_and_level: rcx(h, GPA, 0) });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(entryAt(h.td, 0, GPA).state, "MAPPED");
  assert.deepEqual(h.readPrivate(hpa, 64), new Uint8Array(64));
});

Deno.test("TDG.MEM.PAGE.ACCEPT of a 2 MiB page, interrupted and resumed", () => {
  const h = new GuestHarness();
  h.map(GPA, { state: "PENDING", level: 1 });
  h.vcpu.guestInterruptPending = true;
  const first = h.tdcall("TDG.MEM.PAGE.ACCEPT", { gpa_and_level: rcx(h, GPA, 1) });
  assert.equal(first.completed, false);
  assert.equal(entryAt(h.td, 1, GPA).state, "PENDING");
  h.vcpu.guestInterruptPending = false;
  const again = h.tdcall("TDG.MEM.PAGE.ACCEPT", { gpa_and_level: rcx(h, GPA, 1) });
  assert.equal(again.name, "TDX_SUCCESS");
  assert.equal(entryAt(h.td, 1, GPA).state, "MAPPED");
});

const cases: {
  why: string;
  input: (h: GuestHarness) => bigint;
  arrange?: (h: GuestHarness) => void;
  status: string;
  operand?: string;
  detail?: bigint;
}[] = [
  {
    why: "reserved bits 11:3",
    input: (h) => rcx(h, GPA, 0, { reserved_11_3: 1n }),
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "reserved bits 63:52",
    input: (h) => rcx(h, GPA, 0, { reserved_63_52: 1n }),
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "level 2 (1 GiB)",
    input: (h) => rcx(h, 0n, 2),
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "GPA not aligned to 2 MiB",
    input: (h) => rcx(h, GPA + 0x1000n, 1),
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "shared GPA",
    input: (h) => rcx(h, GPA | (1n << 47n), 0),
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "GPA above GPAW",
    input: (h) => rcx(h, GPA | (1n << 49n), 0),
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "already MAPPED",
    input: (h) => rcx(h, GPA, 0),
    arrange: (h) => h.map(GPA),
    status: "TDX_PAGE_ALREADY_ACCEPTED",
    detail: 0n,
  },
  {
    why: "4 KiB inside a mapped 2 MiB page",
    input: (h) => rcx(h, GPA + 0x3000n, 0),
    arrange: (h) => h.map(GPA, { level: 1 }),
    status: "TDX_PAGE_ALREADY_ACCEPTED",
    detail: 1n,
  },
  {
    why: "entry locked by another operation",
    input: (h) => rcx(h, GPA, 0),
    arrange: (h) => {
      h.map(GPA, { state: "PENDING" });
      h.state.locks.hold(entryLockKey(h.td, GPA, 0), "exclusive");
    },
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
  },
  {
    why: "host priority on the entry",
    input: (h) => rcx(h, GPA, 0),
    arrange: (h) => {
      h.map(GPA, { state: "PENDING" });
      h.td.septHostPriority = new Set([`0:0:${GPA.toString(16)}`]);
    },
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
  },
  {
    why: "2 MiB requested over 4 KiB mappings",
    input: (h) => rcx(h, GPA, 1),
    arrange: (h) => h.map(GPA, { state: "PENDING" }),
    status: "TDX_PAGE_SIZE_MISMATCH",
    detail: 1n,
  },
];

for (const c of cases) {
  Deno.test(`TDG.MEM.PAGE.ACCEPT: ${c.why} -> ${c.status} ${c.operand ?? c.detail ?? ""}`, () => {
    const h = new GuestHarness();
    c.arrange?.(h);
    const r = h.tdcall("TDG.MEM.PAGE.ACCEPT", { gpa_and_level: c.input(h) });
    assert.equal(r.name, c.status);
    if (c.operand) assert.equal(r.operand, c.operand);
    else assert.equal(r.detail, c.detail ?? 0n);
  });
}

Deno.test("TDG.MEM.PAGE.ACCEPT of a page the host did not add: EPT-violation TD exit (ACCEPT)", () => {
  const h = new GuestHarness();
  h.mapTables(GPA, 0);
  const r = h.tdcall("TDG.MEM.PAGE.ACCEPT", { gpa_and_level: rcx(h, GPA, 0) });
  assert.equal(r.completed, false);
  const exit = h.vcpu.pendingExit;
  assert.equal(exit?.kind, "ept-violation");
  if (exit?.kind === "ept-violation") assert.deepEqual(exit.accept, { level: 0 });
});
