import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import type { MetadataItem } from "../../spec/types.ts";
import { GuestHarness, specWith } from "../testing/guest_harness.ts";
import { cpuidKey } from "../td_params.ts";
import { catalog, FIELD_ID_NA, mdElementLockKey, mdNextElementId } from "../metadata.ts";
import type { MdContext } from "../metadata.ts";

const mdCtx = (h: GuestHarness): MdContext => ({
  spec: h.spec,
  cpu: h.p.cpu,
  state: h.state,
  td: h.td,
  vcpu: h.vcpu,
});

const id = (h: GuestHarness, name: string) => catalog(h.spec).field("td", name).baseId;
const cpuidCode = (h: GuestHarness, leaf: number, sub: number) =>
  encodeBits(h.spec.bitfield("MD_CPUID_FIELD_CODE").fields, {
    SUBLEAF: BigInt(sub),
    LEAF: BigInt(leaf),
  });
const flexible = (h: GuestHarness) =>
  encodeBits(h.spec.bitfield("CONFIG_FLAGS").fields, { FLEXIBLE_PENDING_VE: 1n });
const pendingVeDisable = (h: GuestHarness) =>
  encodeBits(h.spec.bitfield("TD_CTLS").fields, { PENDING_VE_DISABLE: 1n });

Deno.test("TDG.VM.RD version 0 reads an element and leaves RDX", () => {
  const h = new GuestHarness({ attributes: 0x10n });
  const r = h.tdcall("TDG.VM.RD", { vm_id: 0, field_id: id(h, "ATTRIBUTES") });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.value, 0x10n);
  assert.equal(r.regs.RDX, id(h, "ATTRIBUTES"));
});

Deno.test("TDG.VM.RD version 1 returns the next readable element; RTMR words", () => {
  const h = new GuestHarness();
  h.td.rtmr[1] = Uint8Array.from({ length: 48 }, (_, i) => i);
  const rtmr = id(h, "RTMR");
  const r = h.tdcall("TDG.VM.RD", { vm_id: 0, field_id: rtmr + 7n }, { version: 1 });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.value, 0x0F0E0D0C0B0A0908n);
  assert.equal(r.out.next_field_id, rtmr + 8n);
  // KVM's short form of the id (no context or size code) names the same element.
  const short = (rtmr + 7n) & ~((0x7n << 52n) | (0x3n << 32n));
  assert.equal(h.tdcall("TDG.VM.RD", { vm_id: 0, field_id: short }).out.value, 0x0F0E0D0C0B0A0908n);
});

Deno.test("TDG.VM.RD version 1 walks every guest-readable TD element", () => {
  const h = new GuestHarness();
  const first = h.tdcall("TDG.VM.RD", { vm_id: 0, field_id: FIELD_ID_NA }, { version: 1 });
  assert.equal(first.name, "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT");
  assert.equal(first.detail, 0n);
  let cur = first.out.next_field_id;
  assert.equal(
    cur,
    mdNextElementId(mdCtx(h), "td", FIELD_ID_NA, { who: "guest" }),
  );
  let n = 0;
  while (cur !== FIELD_ID_NA) {
    const r = h.tdcall("TDG.VM.RD", { vm_id: 0, field_id: cur }, { version: 1 });
    assert.equal(r.name, "TDX_SUCCESS");
    cur = r.out.next_field_id;
    n++;
  }
  assert.ok(n > 40, `${n} elements`);
});

const rdCases: {
  why: string;
  field: (h: GuestHarness) => bigint;
  vmId?: number;
  version?: number;
  status: string;
  operand?: string;
}[] = [
  {
    why: "RCX not 0",
    field: (h) => id(h, "ATTRIBUTES"),
    vmId: 1,
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "a reserved field-id bit",
    field: (h) => id(h, "ATTRIBUTES") | (1n << 24n),
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "LAST_ELEMENT_IN_FIELD set",
    field: (h) => id(h, "ATTRIBUTES") | (1n << 34n),
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "the null id with version 0",
    field: () => FIELD_ID_NA,
    version: 0,
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "no such field",
    field: (h) => id(h, "RTMR") + 24n,
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "not guest-readable",
    field: (h) => id(h, "HKID"),
    status: "TDX_METADATA_FIELD_NOT_READABLE",
  },
];

for (const c of rdCases) {
  Deno.test(`TDG.VM.RD: ${c.why} -> ${c.status} ${c.operand ?? ""}`, () => {
    const h = new GuestHarness();
    const r = h.tdcall("TDG.VM.RD", { vm_id: c.vmId ?? 0, field_id: c.field(h) }, {
      version: c.version ?? 1,
    });
    assert.equal(r.name, c.status);
    if (c.operand) assert.equal(r.operand, c.operand);
    else assert.equal(r.detail, 0n);
    assert.equal(r.out.value, 0n);
    assert.equal(r.out.next_field_id, FIELD_ID_NA);
  });
}

Deno.test("TDG.VM.WR writes TD_CTLS and returns the old value", () => {
  const h = new GuestHarness({ configFlags: flexible(new GuestHarness()) });
  const bit = pendingVeDisable(h);
  const r = h.tdcall("TDG.VM.WR", {
    vm_id: 0,
    field_id: id(h, "TD_CTLS"),
    data: bit,
    write_mask: bit,
  });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.old_value, 0n);
  assert.equal(h.tdcall("TDG.VM.RD", { vm_id: 0, field_id: id(h, "TD_CTLS") }).out.value, bit);
  const back = h.tdcall("TDG.VM.WR", {
    vm_id: 0,
    field_id: id(h, "TD_CTLS"),
    data: 0,
    write_mask: bit,
  });
  assert.equal(back.out.old_value, bit);
});

/** A guest-writable TD field that, like the host's HP_LOCK_TIMEOUT, takes only whole writes. */
function fullWriteSpec() {
  const base = new GuestHarness().spec.metadataField("td", "NOTIFY_ENABLES");
  const item: MetadataItem = {
    ...base,
    masks: { guest_read: "0xFF", guest_write: "0xFF" },
    full_write_only: true,
  };
  return specWith([item]);
}

const wrCases: {
  why: string;
  field: (h: GuestHarness) => bigint;
  data?: (h: GuestHarness) => bigint;
  mask?: (h: GuestHarness) => bigint;
  vmId?: number;
  flexible?: boolean;
  spec?: () => ReturnType<typeof specWith>;
  arrange?: (h: GuestHarness) => void;
  status: string;
  operand?: string;
}[] = [
  {
    why: "RCX not 0",
    field: (h) => id(h, "TD_CTLS"),
    vmId: 2,
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
  },
  {
    why: "no such field",
    field: (h) => id(h, "TD_CTLS") + 0x100n,
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "a CPUID leaf the TD does not have",
    field: (h) => id(h, "CPUID_VALUES") | cpuidCode(h, 7, 0),
    status: "TDX_METADATA_FIELD_NOT_READABLE",
  },
  {
    why: "a CPUID leaf the TD has (read-only)",
    field: (h) => id(h, "CPUID_VALUES") | cpuidCode(h, 7, 0),
    arrange: (h) => {
      h.td.cpuid = new Map([[cpuidKey(7, 0), [1, 2, 3, 4]]]);
    },
    status: "TDX_METADATA_FIELD_NOT_WRITABLE",
  },
  {
    why: "a read-only field",
    field: (h) => id(h, "ATTRIBUTES"),
    status: "TDX_METADATA_FIELD_NOT_WRITABLE",
  },
  {
    why: "a mask with no writable bit",
    field: (h) => id(h, "TD_CTLS"),
    mask: () => 0x2n,
    status: "TDX_METADATA_FIELD_NOT_WRITABLE",
  },
  {
    why: "changing a bit the guest may not write",
    field: (h) => id(h, "TD_CTLS"),
    data: () => 0x2n,
    mask: () => 0x3n,
    flexible: true,
    status: "TDX_METADATA_FIELD_VALUE_NOT_VALID",
  },
  {
    why: "PENDING_VE_DISABLE without FLEXIBLE_PENDING_VE",
    field: (h) => id(h, "TD_CTLS"),
    data: pendingVeDisable,
    mask: pendingVeDisable,
    status: "TDX_METADATA_FIELD_VALUE_NOT_VALID",
  },
  {
    why: "a partial write of a whole-write field",
    spec: fullWriteSpec,
    field: (h) => id(h, "NOTIFY_ENABLES"),
    data: () => 1n,
    mask: () => 1n,
    status: "TDX_METADATA_WR_MASK_NOT_VALID",
  },
  {
    why: "the element is being updated concurrently",
    field: (h) => id(h, "TD_CTLS"),
    flexible: true,
    arrange: (h) => {
      const c = mdCtx(h);
      const el = catalog(h.spec).find("td", id(h, "TD_CTLS"))!;
      h.state.locks.hold(mdElementLockKey(c, el), "exclusive");
    },
    status: "TDX_OPERAND_BUSY",
    operand: "METADATA_FIELD",
  },
];

for (const c of wrCases) {
  Deno.test(`TDG.VM.WR: ${c.why} -> ${c.status} ${c.operand ?? ""}`, () => {
    const spec = c.spec?.();
    const probe = new GuestHarness({ spec });
    const h = new GuestHarness({ spec, configFlags: c.flexible ? flexible(probe) : 0n });
    c.arrange?.(h);
    const field = c.field(h);
    const before = h.td.fields.get(field);
    const r = h.tdcall("TDG.VM.WR", {
      vm_id: c.vmId ?? 0,
      field_id: field,
      data: c.data?.(h) ?? pendingVeDisable(h),
      write_mask: c.mask?.(h) ?? pendingVeDisable(h),
    });
    assert.equal(r.name, c.status);
    if (c.operand) assert.equal(r.operand, c.operand);
    else assert.equal(r.detail, 0n);
    assert.equal(r.out.old_value, 0n);
    assert.equal(h.td.fields.get(field), before);
  });
}
