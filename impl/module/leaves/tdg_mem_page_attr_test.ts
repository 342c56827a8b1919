import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { GuestHarness } from "../testing/guest_harness.ts";
import { catalog } from "../metadata.ts";
import { entryAt, entryLockKey, isAliased, setL2Leaf } from "../sept.ts";

const GPA = 0x20_0000n;

const gpaLevel = (
  h: GuestHarness,
  gpa: bigint,
  level: number,
  extra: Record<string, bigint> = {},
) =>
  encodeBits(h.spec.bitfield("GPA_AND_LEVEL").fields, {
    level: BigInt(level),
    gpa: gpa >> 12n,
    ...extra,
  });
const attr = (h: GuestHarness, v: Record<string, bigint>) =>
  encodeBits(h.spec.bitfield("GPA_ATTR_SINGLE_VM").fields, v);
const perVm = (words: bigint[]) => words.reduce((a, w, i) => a | (w << BigInt(16 * i)), 0n);
const RWX = { r: 1n, w: 1n, xs: 1n, valid: 1n };

// ------------------------------------------------------------------ TDG.MEM.PAGE.ATTR.RD

Deno.test("TDG.MEM.PAGE.ATTR.RD: level, aligned GPA, PENDING and L2 attributes", () => {
  const h = new GuestHarness({ numL2Vms: 2 });
  h.map(GPA, { level: 1 });
  h.mapTables(GPA, 1, 2);
  const a2 = attr(h, { r: 1n, xs: 1n, valid: 1n });
  setL2Leaf(h.spec, h.td, 2, GPA, 1, a2);
  const r = h.tdcall("TDG.MEM.PAGE.ATTR.RD", { gpa: GPA + 0x1234n });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.gpa_mapping, GPA | 1n);
  assert.equal(r.out.attributes, perVm([0n, 0n, a2]));
  const p = new GuestHarness();
  p.map(GPA, { state: "PENDING" });
  const pr = p.tdcall("TDG.MEM.PAGE.ATTR.RD", { gpa: GPA });
  assert.equal(pr.out.gpa_mapping, GPA | (1n << 62n));
});

const rdCases: { why: string; gpa: bigint; arrange?: (h: GuestHarness) => void; status: string }[] =
  [
    { why: "shared GPA", gpa: GPA | (1n << 47n), status: "TDX_OPERAND_INVALID" },
    { why: "GPA above GPAW", gpa: GPA | (1n << 50n), status: "TDX_OPERAND_INVALID" },
    {
      why: "entry locked",
      gpa: GPA,
      arrange: (h) => h.state.locks.hold(entryLockKey(h.td, GPA, 0), "exclusive"),
      status: "TDX_OPERAND_BUSY",
    },
  ];
for (const c of rdCases) {
  Deno.test(`TDG.MEM.PAGE.ATTR.RD: ${c.why} -> ${c.status} RCX`, () => {
    const h = new GuestHarness();
    h.map(GPA);
    c.arrange?.(h);
    const r = h.tdcall("TDG.MEM.PAGE.ATTR.RD", { gpa: c.gpa });
    assert.equal(r.name, c.status);
    assert.equal(r.operand, "RCX");
    assert.equal(r.out.gpa_mapping, 0n);
    assert.equal(r.out.attributes, 0n);
  });
}

for (const state of ["BLOCKED", "PENDING_BLOCKED", undefined]) {
  Deno.test(`TDG.MEM.PAGE.ATTR.RD of a ${state ?? "missing"} page: EPT-violation TD exit`, () => {
    const h = new GuestHarness();
    if (state) h.map(GPA, { state });
    const r = h.tdcall("TDG.MEM.PAGE.ATTR.RD", { gpa: GPA + 8n });
    assert.equal(r.completed, false);
    const exit = h.vcpu.pendingExit;
    assert.equal(exit?.kind, "ept-violation");
    if (exit?.kind === "ept-violation") assert.equal(exit.gpa, GPA);
  });
}

// ------------------------------------------------------------------ TDG.MEM.PAGE.ATTR.WR

function l2Td(numL2Vms = 1) {
  const h = new GuestHarness({ numL2Vms });
  h.map(GPA);
  h.mapTables(GPA, 0, 1);
  return h;
}

Deno.test("TDG.MEM.PAGE.ATTR.WR creates, changes and removes an L2 alias", () => {
  const h = l2Td();
  const rwx = attr(h, RWX);
  const create = h.tdcall("TDG.MEM.PAGE.ATTR.WR", {
    gpa_and_level: gpaLevel(h, GPA, 0),
    new_attributes: perVm([0n, rwx]),
    attr_flags: perVm([0n, 0x7FFFn]),
  });
  assert.equal(create.name, "TDX_SUCCESS");
  assert.equal(create.out.gpa_mapping, GPA);
  assert.equal(create.out.attributes, perVm([0n, rwx]));
  assert.equal(entryAt(h.td, 0, GPA, 1).state, "L2_MAPPED");
  assert.equal(isAliased(entryAt(h.td, 0, GPA), 1), true);
  // Clear W only: the mask selects W.
  const w = attr(h, { w: 1n });
  const ro = h.tdcall("TDG.MEM.PAGE.ATTR.WR", {
    gpa_and_level: gpaLevel(h, GPA, 0),
    new_attributes: perVm([0n, attr(h, { valid: 1n })]),
    attr_flags: perVm([0n, w]),
  });
  assert.equal(ro.name, "TDX_SUCCESS");
  assert.equal(ro.out.attributes, perVm([0n, rwx & ~w]));
  // VALID with no access removes the alias.
  const gone = h.tdcall("TDG.MEM.PAGE.ATTR.WR", {
    gpa_and_level: gpaLevel(h, GPA, 0),
    new_attributes: perVm([0n, attr(h, { valid: 1n })]),
    attr_flags: perVm([0n, 0x7FFFn]),
  });
  assert.equal(gone.name, "TDX_SUCCESS");
  assert.equal(isAliased(entryAt(h.td, 0, GPA), 1), false);
  assert.equal(entryAt(h.td, 0, GPA, 1).state, "L2_FREE");
});

const wrCases: {
  why: string;
  rcx?: (h: GuestHarness) => bigint;
  rdx?: (h: GuestHarness) => bigint;
  r8?: bigint;
  arrange?: (h: GuestHarness) => void;
  status: string;
  operand?: string;
  detail?: bigint;
}[] = [
  {
    why: "VM 0 attributes",
    rdx: (h) => perVm([attr(h, RWX)]),
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
  },
  {
    why: "attributes for a VM the TD lacks",
    rdx: (h) => perVm([0n, 0n, attr(h, RWX)]),
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
  },
  {
    why: "attributes without VALID",
    rdx: (h) => perVm([0n, attr(h, { r: 1n })]),
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
  },
  { why: "VM 0 flags", r8: perVm([1n]), status: "TDX_OPERAND_INVALID", operand: "R8" },
  {
    why: "flags for a VM the TD lacks",
    r8: perVm([0n, 0n, 0n, 1n]),
    status: "TDX_OPERAND_INVALID",
    operand: "R8",
  },
  {
    why: "reserved GPA_AND_LEVEL bits",
    rcx: (h) => gpaLevel(h, GPA, 0, { reserved_11_3: 2n }),
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  { why: "level 3", rcx: (h) => gpaLevel(h, 0n, 3), status: "TDX_OPERAND_INVALID", operand: "RCX" },
  {
    why: "a shared GPA",
    rcx: (h) => gpaLevel(h, GPA | (1n << 47n), 0),
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "the entry locked",
    arrange: (h) => h.state.locks.hold(entryLockKey(h.td, GPA, 0), "exclusive"),
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
  },
  {
    why: "2 MiB requested over a Secure EPT page",
    rcx: (h) => gpaLevel(h, GPA, 1),
    status: "TDX_PAGE_SIZE_MISMATCH",
    detail: 1n,
  },
  {
    why: "W without R",
    rdx: (h) => perVm([0n, attr(h, { w: 1n, valid: 1n })]),
    status: "TDX_PAGE_ATTR_INVALID",
  },
  {
    why: "SVE",
    rdx: (h) => perVm([0n, attr(h, { r: 1n, sve: 1n, valid: 1n })]),
    status: "TDX_PAGE_ATTR_INVALID",
  },
  {
    why: "no L2 Secure EPT page for the alias",
    arrange: (h) => {
      h.td.l2Sept = [];
    },
    status: "TDX_L2_SEPT_WALK_FAILED",
    detail: (1n << 16n) | 3n,
  },
];

for (const c of wrCases) {
  Deno.test(`TDG.MEM.PAGE.ATTR.WR: ${c.why} -> ${c.status} ${c.operand ?? c.detail ?? ""}`, () => {
    const h = l2Td();
    c.arrange?.(h);
    const r = h.tdcall("TDG.MEM.PAGE.ATTR.WR", {
      gpa_and_level: c.rcx?.(h) ?? gpaLevel(h, GPA, 0),
      new_attributes: c.rdx?.(h) ?? perVm([0n, attr(h, RWX)]),
      attr_flags: c.r8 ?? perVm([0n, 0x7FFFn]),
    });
    assert.equal(r.name, c.status);
    if (c.operand) assert.equal(r.operand, c.operand);
    else assert.equal(r.detail, c.detail ?? 0n);
    assert.equal(r.out.gpa_mapping, 0n);
    assert.equal(isAliased(entryAt(h.td, 0, GPA), 1), false);
  });
}

Deno.test("TDG.MEM.PAGE.ATTR.WR: TDX_PAGE_ATTR_INVALID returns the current attributes", () => {
  const h = l2Td();
  const ro = attr(h, { r: 1n, valid: 1n });
  setL2Leaf(h.spec, h.td, 1, GPA, 0, ro);
  const r = h.tdcall("TDG.MEM.PAGE.ATTR.WR", {
    gpa_and_level: gpaLevel(h, GPA, 0),
    new_attributes: perVm([0n, attr(h, { w: 1n, valid: 1n })]),
    attr_flags: perVm([0n, attr(h, { r: 1n, w: 1n })]),
  });
  assert.equal(r.name, "TDX_PAGE_ATTR_INVALID");
  assert.equal(r.out.attributes, perVm([0n, ro]));
});

Deno.test("TDG.MEM.PAGE.ATTR.WR: a missing L2 page with VM_CTLS EPT-violation-on-failure exits", () => {
  const h = l2Td();
  h.td.l2Sept = [];
  const vmCtls = catalog(h.spec).field("td", "VM_CTLS");
  h.td.fields.set(catalog(h.spec).elementId(vmCtls, 1), 1n);
  const r = h.tdcall("TDG.MEM.PAGE.ATTR.WR", {
    gpa_and_level: gpaLevel(h, GPA, 0),
    new_attributes: perVm([0n, attr(h, RWX)]),
    attr_flags: perVm([0n, 0x7FFFn]),
  });
  assert.equal(r.completed, false);
  assert.equal(h.vcpu.pendingExit?.kind, "ept-violation");
});

Deno.test("TDG.MEM.PAGE.ATTR.WR of a BLOCKED page: EPT-violation TD exit", () => {
  const h = l2Td();
  h.map(GPA, { state: "BLOCKED" });
  const r = h.tdcall("TDG.MEM.PAGE.ATTR.WR", {
    gpa_and_level: gpaLevel(h, GPA, 0),
    new_attributes: perVm([0n, attr(h, RWX)]),
    attr_flags: perVm([0n, 0x7FFFn]),
  });
  assert.equal(r.completed, false);
  assert.equal(h.vcpu.pendingExit?.kind, "ept-violation");
});
