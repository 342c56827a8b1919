import { strict as assert } from "node:assert";
import { GuestHarness } from "../testing/guest_harness.ts";
import { catalog, FIELD_ID_NA, type MdContext, mdNextElementId } from "../metadata.ts";

const id = (h: GuestHarness, name: string) => catalog(h.spec).field("vcpu", name).baseId;
const mdCtx = (h: GuestHarness): MdContext => ({
  spec: h.spec,
  cpu: h.p.cpu,
  state: h.state,
  td: h.td,
  vcpu: h.vcpu,
});

Deno.test("TDG.VP.RD reads the calling vCPU's fields and the next readable one", () => {
  const h = new GuestHarness();
  h.vcpu.index = 0;
  const r = h.tdcall("TDG.VP.RD", { field_id: id(h, "VCPU_INDEX") });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.value, 0n);
  assert.equal(
    r.out.next_field_id,
    mdNextElementId(mdCtx(h), "vcpu", id(h, "VCPU_INDEX"), { who: "guest" }),
  );
  const first = h.tdcall("TDG.VP.RD", { field_id: FIELD_ID_NA });
  assert.equal(first.name, "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT");
  assert.equal(
    first.out.next_field_id,
    mdNextElementId(mdCtx(h), "vcpu", FIELD_ID_NA, { who: "guest" }),
  );
});

Deno.test("TDG.VP.WR writes CPUID_SUPERVISOR_VE (TDG.VP.CPUIDVE.SET's state)", () => {
  const h = new GuestHarness();
  const r = h.tdcall("TDG.VP.WR", {
    field_id: id(h, "CPUID_SUPERVISOR_VE"),
    data: 1,
    write_mask: 0xFF,
  });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.old_value, 0n);
  assert.equal(h.vcpu.cpuidVe.supervisor, true);
  assert.equal(h.tdcall("TDG.VP.RD", { field_id: id(h, "CPUID_SUPERVISOR_VE") }).out.value, 1n);
});

Deno.test("TDG.VP.WR: TSC_DEADLINE of the L1 VM", () => {
  const h = new GuestHarness();
  const r = h.tdcall("TDG.VP.WR", {
    field_id: id(h, "TSC_DEADLINE"),
    data: 0x1234,
    write_mask: -1n,
  });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(h.tdcall("TDG.VP.RD", { field_id: id(h, "TSC_DEADLINE") }).out.value, 0x1234n);
});

const rd: {
  why: string;
  field: (h: GuestHarness) => bigint;
  rcx?: bigint;
  status: string;
  operand?: string;
}[] = [
  {
    why: "RCX not 0",
    field: (h) => id(h, "VCPU_INDEX"),
    rcx: 1n,
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "LAST_FIELD_IN_SEQUENCE set",
    field: (h) => id(h, "VCPU_INDEX") | (1n << 38n),
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "an L2 VM the TD does not have",
    field: (h) => id(h, "TSC_DEADLINE") + 1n,
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "not guest-readable",
    field: (h) => id(h, "RAX"),
    status: "TDX_METADATA_FIELD_NOT_READABLE",
  },
];
for (const c of rd) {
  Deno.test(`TDG.VP.RD: ${c.why} -> ${c.status} ${c.operand ?? ""}`, () => {
    const h = new GuestHarness();
    const r = h.tdcall("TDG.VP.RD", { reserved: c.rcx ?? 0n, field_id: c.field(h) });
    assert.equal(r.name, c.status);
    if (c.operand) assert.equal(r.operand, c.operand);
    else assert.equal(r.detail, 0n);
    assert.equal(r.out.next_field_id, FIELD_ID_NA);
    assert.equal(r.out.value, 0n);
  });
}

const wr: {
  why: string;
  field: (h: GuestHarness) => bigint;
  data?: bigint;
  mask?: bigint;
  rcx?: bigint;
  status: string;
  operand?: string;
}[] = [
  {
    why: "RCX not 0",
    field: (h) => id(h, "CPUID_USER_VE"),
    rcx: 2n,
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "no such field",
    field: (h) => id(h, "CPUID_USER_VE") | 0xFFFFn,
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "an L2 VM the TD does not have",
    field: (h) => id(h, "TSC_DEADLINE") + 2n,
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "a read-only field",
    field: (h) => id(h, "VCPU_INDEX"),
    status: "TDX_METADATA_FIELD_NOT_WRITABLE",
  },
  {
    why: "changing a bit outside the guest write mask",
    field: (h) => id(h, "CPUID_CONTROL"),
    data: 0x4n,
    mask: 0x7n,
    status: "TDX_METADATA_FIELD_VALUE_NOT_VALID",
  },
];
for (const c of wr) {
  Deno.test(`TDG.VP.WR: ${c.why} -> ${c.status} ${c.operand ?? ""}`, () => {
    const h = new GuestHarness();
    const r = h.tdcall("TDG.VP.WR", {
      reserved: c.rcx ?? 0n,
      field_id: c.field(h),
      data: c.data ?? 1n,
      write_mask: c.mask ?? 1n,
    });
    assert.equal(r.name, c.status);
    if (c.operand) assert.equal(r.operand, c.operand);
    else assert.equal(r.detail, 0n);
    assert.equal(r.out.old_value, 0n);
    assert.equal(h.vcpu.fields.size, 0);
  });
}

/** A TD with one L2 VM whose virtual TSC runs at the native rate plus `offset`. */
function l2Tsc(multiplier: bigint, offset = 0n) {
  const h = new GuestHarness({ numL2Vms: 1 });
  const td = (n: string) => catalog(h.spec).field("td", n).baseId;
  h.td.fields.set(td("TSC_MULTIPLIER"), multiplier);
  h.td.fields.set(td("TSC_OFFSET"), offset);
  h.p.cpu.msrs.writeNamed("IA32_TIME_STAMP_COUNTER", 1_000_000n);
  return h;
}

Deno.test("TDG.VP.WR: an L2 TSC deadline is kept in native TSC units", () => {
  const h = l2Tsc(1n << 48n, 500n);
  const r = h.tdcall("TDG.VP.WR", {
    field_id: id(h, "TSC_DEADLINE") + 1n,
    data: 2_000_500n,
    write_mask: -1n,
  });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(h.vcpu.l2NativeTscDeadline?.[1], 2_000_000n);
  // A deadline in the past fires at once: the native deadline is now.
  h.tdcall("TDG.VP.WR", { field_id: id(h, "TSC_DEADLINE") + 1n, data: 10n, write_mask: -1n });
  assert.equal(h.vcpu.l2NativeTscDeadline?.[1], 1_000_000n);
});

Deno.test("TDG.VP.WR: an L2 TSC deadline that cannot be converted -> TDX_OPERAND_INVALID (detail 0)", () => {
  // A tiny multiplier: the native deadline would not fit in 64 bits.
  const h = l2Tsc(1n);
  const r = h.tdcall("TDG.VP.WR", {
    field_id: id(h, "TSC_DEADLINE") + 1n,
    data: 0x1_0000_0000_0000n,
    write_mask: -1n,
  });
  assert.equal(r.name, "TDX_OPERAND_INVALID");
  assert.equal(r.detail, 0n);
  assert.equal(r.out.old_value, 0n);
  assert.equal(h.vcpu.l2NativeTscDeadline, undefined);
});
