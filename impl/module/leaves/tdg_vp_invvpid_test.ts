import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { GuestHarness } from "../testing/guest_harness.ts";

const LIST = 0x30_0000n;

const flags = (h: GuestHarness, v: Record<string, bigint>) =>
  encodeBits(
    h.spec.tdcall("TDG.VP.INVVPID").inputs.find((r) => r.name === "vm_and_flags")!.fields!,
    v,
  );
const info = (h: GuestHarness, v: Record<string, bigint>) =>
  encodeBits(
    h.spec.tdcall("TDG.VP.INVVPID").inputs.find((r) => r.name === "entry_or_list")!.fields!,
    { LIST_GPA: LIST >> 12n, ...v },
  );
const entry = (h: GuestHarness, gla: bigint, last = 0n) =>
  encodeBits(h.spec.bitfield("GLA_LIST_ENTRY").fields, {
    BASE_GLA: gla >> 12n,
    LAST_GLA_INDEX: last,
  });
/** A TD with `vms` L2 VMs and a private GLA-list page holding `entries`. */
function withList(vms: number, entries: bigint[]): GuestHarness {
  const h = new GuestHarness({ numL2Vms: vms });
  const hpa = h.map(LIST);
  const bytes = new Uint8Array(4096);
  const view = new DataView(bytes.buffer);
  entries.forEach((e, i) => view.setBigUint64(i * 8, e, true));
  h.writePrivate(hpa, bytes);
  return h;
}

// The highest canonical lower-half page and the first non-canonical one (48-bit LAs).
const TOP = 0x7FFF_FFFF_F000n;
const HOLE = 0x8000_0000_0000n;

Deno.test("TDG.VP.INVVPID one entry: canonical range -> TDX_SUCCESS", () => {
  const h = new GuestHarness({ numL2Vms: 2 });
  for (const gla of [0x1000n, TOP, 0xFFFF_8000_0000_0000n]) {
    const r = h.tdcall("TDG.VP.INVVPID", {
      vm_and_flags: flags(h, { VM: 2n }),
      entry_or_list: entry(h, gla),
    });
    assert.equal(r.name, "TDX_SUCCESS");
  }
});

Deno.test("TDG.VP.INVVPID one entry running past the canonical top -> TDX_GLA_NOT_CANONICAL", () => {
  const h = new GuestHarness({ numL2Vms: 1 });
  for (const [gla, last] of [[TOP, 1n], [HOLE, 0n]]) {
    const r = h.tdcall("TDG.VP.INVVPID", {
      vm_and_flags: flags(h, { VM: 1n }),
      entry_or_list: entry(h, gla, last),
    });
    assert.equal(r.name, "TDX_GLA_NOT_CANONICAL");
  }
});

const rcxCases: { why: string; vms: number; v: Record<string, bigint> }[] = [
  { why: "VM 0", vms: 1, v: { VM: 0n } },
  { why: "VM above NUM_L2_VMS", vms: 2, v: { VM: 3n } },
  { why: "RESERVED_0", vms: 1, v: { VM: 1n, RESERVED_0: 1n } },
  { why: "RESERVED_1", vms: 1, v: { VM: 1n, RESERVED_1: 1n } },
];
for (const c of rcxCases) {
  Deno.test(`TDG.VP.INVVPID: ${c.why} -> TDX_OPERAND_INVALID RCX`, () => {
    const h = new GuestHarness({ numL2Vms: c.vms });
    const r = h.tdcall("TDG.VP.INVVPID", { vm_and_flags: flags(h, c.v), entry_or_list: 0n });
    assert.equal(r.name, "TDX_OPERAND_INVALID");
    assert.equal(r.operand, "RCX");
  });
}

const rdxCases: { why: string; rdx: (h: GuestHarness) => bigint }[] = [
  { why: "RESERVED_0", rdx: (h) => info(h, { RESERVED_0: 1n, NUM_ENTRIES: 1n }) },
  { why: "RESERVED_1", rdx: (h) => info(h, { RESERVED_1: 1n, NUM_ENTRIES: 1n }) },
  {
    why: "FIRST_ENTRY + NUM_ENTRIES > 512",
    rdx: (h) => info(h, { FIRST_ENTRY: 1n, NUM_ENTRIES: 512n }),
  },
  {
    why: "shared list GPA",
    rdx: (h) => info(h, { LIST_GPA: (LIST | h.sharedBit) >> 12n, NUM_ENTRIES: 1n }),
  },
  {
    why: "list GPA above GPAW",
    rdx: (h) => info(h, { LIST_GPA: (LIST | (1n << 50n)) >> 12n, NUM_ENTRIES: 1n }),
  },
];
for (const c of rdxCases) {
  Deno.test(`TDG.VP.INVVPID list: ${c.why} -> TDX_OPERAND_INVALID RDX`, () => {
    const h = withList(1, [entry(new GuestHarness(), 0x1000n)]);
    const rdx = c.rdx(h);
    const r = h.tdcall("TDG.VP.INVVPID", {
      vm_and_flags: flags(h, { VM: 1n, LIST: 1n }),
      entry_or_list: rdx,
    });
    assert.equal(r.name, "TDX_OPERAND_INVALID");
    assert.equal(r.operand, "RDX");
    assert.equal(r.regs.RDX, rdx);
  });
}

Deno.test("TDG.VP.INVVPID list: all entries done, RDX advanced", () => {
  const e = new GuestHarness();
  const h = withList(1, [0n, entry(e, 0x1000n, 3n), entry(e, 0x5000n), entry(e, TOP)]);
  const r = h.tdcall("TDG.VP.INVVPID", {
    vm_and_flags: flags(h, { VM: 1n, LIST: 1n }),
    entry_or_list: info(h, { FIRST_ENTRY: 1n, NUM_ENTRIES: 3n }),
  });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.regs.RDX, info(h, { FIRST_ENTRY: 4n, NUM_ENTRIES: 0n }));
});

Deno.test("TDG.VP.INVVPID list: a non-canonical entry stops it, RDX unchanged", () => {
  const e = new GuestHarness();
  const h = withList(1, [entry(e, 0x1000n), entry(e, HOLE), entry(e, 0x2000n)]);
  const rdx = info(h, { NUM_ENTRIES: 3n });
  const r = h.tdcall("TDG.VP.INVVPID", {
    vm_and_flags: flags(h, { VM: 1n, LIST: 1n }),
    entry_or_list: rdx,
  });
  assert.equal(r.name, "TDX_GLA_NOT_CANONICAL");
  assert.equal(r.regs.RDX, rdx);
});

Deno.test("TDG.VP.INVVPID list: a pending interrupt ends it after one entry, not completed", () => {
  const e = new GuestHarness();
  const h = withList(1, [entry(e, 0x1000n), entry(e, 0x2000n)]);
  h.vcpu.guestInterruptPending = true;
  const r = h.tdcall("TDG.VP.INVVPID", {
    vm_and_flags: flags(h, { VM: 1n, LIST: 1n }),
    entry_or_list: info(h, { NUM_ENTRIES: 2n }),
  });
  assert.equal(r.completed, false);
  assert.equal(r.regs.RDX, info(h, { FIRST_ENTRY: 1n, NUM_ENTRIES: 1n }));
  // Resumed after the interrupt, it finishes from where it stopped.
  h.vcpu.guestInterruptPending = false;
  const again = h.tdcall("TDG.VP.INVVPID", {
    vm_and_flags: flags(h, { VM: 1n, LIST: 1n }),
    entry_or_list: r.regs.RDX,
  });
  assert.equal(again.name, "TDX_SUCCESS");
  assert.equal(again.regs.RDX, info(h, { FIRST_ENTRY: 2n, NUM_ENTRIES: 0n }));
});

Deno.test("TDG.VP.INVVPID list page not mapped: EPT-violation TD exit; PENDING: #VE", () => {
  const h = new GuestHarness({ numL2Vms: 1 });
  const r = h.tdcall("TDG.VP.INVVPID", {
    vm_and_flags: flags(h, { VM: 1n, LIST: 1n }),
    entry_or_list: info(h, { NUM_ENTRIES: 1n }),
  });
  assert.equal(r.completed, false);
  assert.equal(h.vcpu.pendingExit?.kind, "ept-violation");
  const p = new GuestHarness({ numL2Vms: 1 });
  p.map(LIST, { state: "PENDING" });
  const v = p.tdcall("TDG.VP.INVVPID", {
    vm_and_flags: flags(p, { VM: 1n, LIST: 1n }),
    entry_or_list: info(p, { NUM_ENTRIES: 1n }),
  });
  assert.equal(v.completed, false);
  assert.equal(p.vcpu.veInfo?.valid, true);
  assert.equal(p.vcpu.veInfo?.gpa, LIST);
});

Deno.test("TDG.VP.INVVPID: RAX version 1 -> TDX_OPERAND_INVALID RAX", () => {
  const h = new GuestHarness({ numL2Vms: 1 });
  const r = h.tdcall("TDG.VP.INVVPID", {
    vm_and_flags: flags(h, { VM: 1n }),
    entry_or_list: entry(h, 0x1000n),
  }, { version: 1 });
  assert.equal(r.name, "TDX_OPERAND_INVALID");
  assert.equal(r.operand, "RAX");
});
