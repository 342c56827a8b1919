// The Secure EPT model on its own: walks, the host's views of entries, GPA translation,
// the guest's accept, entry locks and TLB epochs.
import { strict as assert } from "node:assert";
import { Platform } from "./testing/fixture.ts";
import { LeafContext } from "./leaf_context.ts";
import { registers } from "../cpu/registers.ts";
import {
  acceptPage,
  archEntry,
  checkPrivateGpa,
  entryAt,
  entryLockKey,
  hostPriority,
  levelAndState,
  lockEntryHost,
  septGeometry,
  setEntry,
  setL2Leaf,
  translateGpa,
  walk,
} from "./sept.ts";
import type { TdState } from "./state.ts";
import {
  advanceEpoch,
  enterEpoch,
  exitEpoch,
  isTlbTracked,
  previousEpochBusy,
} from "./tlb_tracking.ts";
import { encodeBits } from "../spec/bits.ts";

const TDR = 0x1000_0000n;
const HKID = 40;
const GPA = 0x8000_0000n; // 2 GiB
const PAGE = 0x2000_0000n;

function setup() {
  const p = new Platform();
  const td = p.module.state.newTd(TDR, HKID);
  const leaf = p.spec.tdcall("TDG.MEM.PAGE.ACCEPT");
  const ctx = () =>
    new LeafContext(p.spec, p.cpu, p.cpu.lps[0], p.module.state, leaf, 0, registers());
  /** One TDG.MEM.PAGE.ACCEPT's Secure EPT work; its locks go when it returns. */
  const accept = (gpa: bigint, level: number, intr?: () => boolean) => {
    const c = ctx();
    try {
      return acceptPage(c, td, gpa, level, intr);
    } finally {
      c.releaseLocks();
    }
  };
  return { p, td, ctx, accept };
}

/** Links Secure EPT pages down to `level` for `gpa` (as TDH.MEM.SEPT.ADD would). */
function linkTables(td: TdState, gpa: bigint, level: number, vm = 0) {
  let page = 0x3000_0000n + BigInt(vm) * 0x10_0000n;
  for (let l = 3; l > level; l--) {
    if (entryAt(td, l, gpa, vm).state.endsWith("FREE")) {
      const state = vm ? "L2_NL_MAPPED" : "NL_MAPPED";
      setEntry(td, gpa, { state, hpa: page, level: l, leaf: false, attributes: 0n }, vm);
    }
    page += 0x1000n;
  }
}

Deno.test("a walk stops at the first entry that is absent or a leaf, and reports its level", () => {
  const { p, td } = setup();
  const g = septGeometry(p.spec, td);
  assert.equal(g.maxLevel, 3);
  let w = walk(p.spec, td, g, GPA, 0);
  assert.deepEqual([w.reached, w.level, w.entry.state], [false, 3, "FREE"]);
  linkTables(td, GPA, 1);
  w = walk(p.spec, td, g, GPA, 0);
  assert.deepEqual([w.reached, w.level, w.entry.state], [false, 1, "FREE"]);
  setEntry(td, GPA, { state: "MAPPED", hpa: PAGE, level: 1, leaf: true, attributes: 0n });
  w = walk(p.spec, td, g, GPA + 0x1000n, 0);
  assert.deepEqual([w.reached, w.level, w.entry.state], [false, 1, "MAPPED"]);
  w = walk(p.spec, td, g, GPA, 1);
  assert.deepEqual([w.reached, w.level], [true, 1]);
  // A blocked non-leaf entry grants nothing: the walk stops there.
  setEntry(td, GPA, { ...entryAt(td, 2, GPA), state: "NL_BLOCKED" });
  w = walk(p.spec, td, g, GPA, 1);
  assert.deepEqual([w.reached, w.level, w.entry.state], [false, 2, "NL_BLOCKED"]);
});

Deno.test("the host's view of an entry keeps only the architectural bits", () => {
  const { p } = setup();
  const f = p.spec.bitfield("SEPT_ENTRY").fields;
  const free = { state: "FREE", hpa: 0n, level: 0, leaf: false, attributes: 0n };
  assert.equal(archEntry(p.spec, free), encodeBits(f, { sve: 1n }));
  const mapped = { state: "MAPPED", hpa: PAGE, level: 0, leaf: true, attributes: 0n };
  assert.equal(
    archEntry(p.spec, mapped),
    encodeBits(f, {
      r: 1n,
      w: 1n,
      x: 1n,
      mt: p.spec.enumValue("ept_memory_type", "WB"),
      ipat: 1n,
      ps: 1n,
      hpa: PAGE >> 12n,
      sve: 1n,
    }),
  );
  const pending = { ...mapped, state: "PENDING", level: 1, acceptCounter: 3 };
  const v = archEntry(p.spec, pending);
  assert.equal(v & 7n, 0n, "no permissions while pending");
  assert.equal((v >> 12n) & 0x1FFn, 3n, "the accept counter shows in the HPA bits");
  const nl = { state: "NL_MAPPED", hpa: PAGE, level: 2, leaf: false, attributes: 0n };
  assert.equal(archEntry(p.spec, nl), encodeBits(f, { r: 1n, w: 1n, x: 1n }), "no HPA");
  const rdx = levelAndState(p.spec, 2, "NL_MAPPED");
  const { fields } = {
    fields: Object.fromEntries(
      p.spec.bitfield("SEPT_LEVEL_AND_STATE").fields.map((x) => [
        x.name,
        (rdx >> BigInt(x.bits[0])) & ((1n << BigInt(x.bits[1] - x.bits[0] + 1)) - 1n),
      ]),
    ),
  };
  assert.equal(fields.level, 2n);
  assert.equal(fields.state, p.spec.enumValue("SEPT_ENTRY_STATE", "NL_MAPPED"));
});

Deno.test("private GPA checks follow GPAW", () => {
  const { p, td } = setup();
  const g48 = septGeometry(p.spec, td);
  assert.ok(checkPrivateGpa(g48, GPA));
  assert.ok(!checkPrivateGpa(g48, GPA | (1n << 47n)), "shared bit");
  assert.ok(!checkPrivateGpa(g48, 1n << 48n), "above GPAW 48");
  td.configFlags = encodeBits(p.spec.bitfield("CONFIG_FLAGS").fields, { GPAW: 1n });
  const g52 = septGeometry(p.spec, td);
  assert.equal(g52.sharedBit, 1n << 51n);
  assert.ok(checkPrivateGpa(g52, 1n << 48n));
  assert.ok(!checkPrivateGpa(g52, 1n << 51n));
});

Deno.test("the geometry follows the TD's EPTP and CONFIG_FLAGS when they change", () => {
  const { p, td } = setup();
  const first = septGeometry(p.spec, td);
  assert.equal(septGeometry(p.spec, td), first, "unchanged inputs: the same geometry");
  td.eptp = encodeBits(p.spec.bitfield("EPTP_CONTROLS").fields, {
    EPT_PWL: p.spec.enumValue("SEPT_LEVEL", "PML5"),
  });
  td.configFlags = encodeBits(p.spec.bitfield("CONFIG_FLAGS").fields, { GPAW: 1n });
  td.numL2Vms = 2;
  const g = septGeometry(p.spec, td);
  assert.deepEqual({ ...g }, { maxLevel: 4, gpaw: 52, sharedBit: 1n << 51n, numL2Vms: 2 });
  td.eptp = undefined;
  td.configFlags = undefined;
  td.numL2Vms = undefined;
  assert.deepEqual({ ...septGeometry(p.spec, td) }, { ...first });
});

Deno.test("translateGpa gives the HPA of a present leaf, or where the walk stopped", () => {
  const { p, td } = setup();
  linkTables(td, GPA, 0);
  assert.deepEqual(
    (({ ok, level, state }) => ({ ok, level, state }))(translateGpa(p.spec, td, GPA)),
    { ok: false, level: 0, state: "FREE" },
  );
  setEntry(td, GPA, { state: "PENDING", hpa: PAGE, level: 0, leaf: true, attributes: 0n });
  assert.equal(translateGpa(p.spec, td, GPA).ok, false);
  setEntry(td, GPA, { state: "MAPPED", hpa: PAGE, level: 0, leaf: true, attributes: 0n });
  const t = translateGpa(p.spec, td, GPA + 0x123n);
  assert.ok(t.ok);
  assert.equal(t.hpa, PAGE + 0x123n);
});

Deno.test("acceptPage zeroes a 4 KiB page with the TD's key and maps it", () => {
  const { p, td, accept } = setup();
  linkTables(td, GPA, 0);
  const mem = p.cpu.memory;
  mem.write(PAGE, new Uint8Array(4096).fill(0xAA)); // stale host data
  setEntry(td, GPA, { state: "PENDING", hpa: PAGE, level: 0, leaf: true, attributes: 0n });
  assert.equal(accept(GPA, 0).kind, "accepted");
  assert.equal(entryAt(td, 0, GPA).state, "MAPPED");
  assert.deepEqual(mem.read(mem.withKeyId(PAGE, HKID), 16), new Uint8Array(16));
  assert.deepEqual(accept(GPA, 0), { kind: "already-accepted", level: 0 });
});

Deno.test("a 2 MiB accept can stop for an interrupt and resume where it stopped", () => {
  const { p, td, accept } = setup();
  linkTables(td, GPA, 1);
  setEntry(td, GPA, { state: "PENDING", hpa: PAGE, level: 1, leaf: true, attributes: 0n });
  let calls = 0;
  const r = accept(GPA, 1, () => ++calls === 10);
  assert.equal(r.kind, "interrupted");
  assert.equal(entryAt(td, 1, GPA).acceptCounter, 10);
  assert.equal(entryAt(td, 1, GPA).state, "PENDING");
  assert.equal(accept(GPA, 1).kind, "accepted");
  assert.equal(entryAt(td, 1, GPA).state, "MAPPED");
  assert.equal(entryAt(td, 1, GPA).acceptCounter, undefined);
  const mem = p.cpu.memory;
  assert.deepEqual(mem.read(mem.withKeyId(PAGE + 511n * 4096n, HKID), 8), new Uint8Array(8));
  // 4 KiB inside a 2 MiB mapped page: already accepted at level 1.
  assert.deepEqual(accept(GPA + 0x1000n, 0), {
    kind: "already-accepted",
    level: 1,
  });
});

Deno.test("acceptPage failures: size mismatch, violation, busy, host priority", () => {
  const { p, td, ctx, accept } = setup();
  linkTables(td, GPA, 0);
  assert.deepEqual(accept(GPA, 1), { kind: "size-mismatch", level: 1 });
  assert.equal(accept(GPA, 0).kind, "violation", "FREE: the host must AUG");
  assert.equal(accept(GPA + (1n << 30n), 0).kind, "violation", "no tables");
  setEntry(td, GPA, { state: "PENDING_BLOCKED", hpa: PAGE, level: 0, leaf: true, attributes: 0n });
  assert.equal(accept(GPA, 0).kind, "violation", "blocked: not acceptable");
  setEntry(td, GPA, { state: "PENDING", hpa: PAGE, level: 0, leaf: true, attributes: 0n });
  const release = p.module.state.locks.hold(entryLockKey(td, GPA, 0), "exclusive");
  assert.deepEqual(accept(GPA, 0), { kind: "busy" });
  // A host-side locker that finds the entry locked asks for priority.
  assert.equal(lockEntryHost(ctx(), td, GPA, 0), false);
  assert.ok(hostPriority(td, GPA, 0));
  release();
  assert.deepEqual(accept(GPA, 0), { kind: "host-priority" });
  const host = ctx();
  assert.equal(lockEntryHost(host, td, GPA, 0), true, "the host gets it and clears priority");
  host.releaseLocks();
  assert.equal(accept(GPA, 0).kind, "accepted");
});

Deno.test("L2 aliases follow the L1 page: blocked while pending, unblocked on accept", () => {
  const { p, td, accept } = setup();
  td.numL2Vms = 1;
  linkTables(td, GPA, 0);
  linkTables(td, GPA, 0, 1);
  setEntry(td, GPA, { state: "PENDING", hpa: PAGE, level: 0, leaf: true, attributes: 0n });
  const attrs = encodeBits(p.spec.bitfield("GPA_ATTR_SINGLE_VM").fields, {
    r: 1n,
    w: 1n,
    valid: 1n,
  });
  setL2Leaf(p.spec, td, 1, GPA, 0, attrs);
  assert.equal(entryAt(td, 0, GPA, 1).state, "L2_BLOCKED");
  assert.equal(accept(GPA, 0).kind, "accepted");
  assert.equal(entryAt(td, 0, GPA, 1).state, "L2_MAPPED");
  assert.equal(entryAt(td, 0, GPA).aliases, 2);
});

Deno.test("TLB epochs: tracked once the epoch moved on and nobody runs in the old one", () => {
  const { td } = setup();
  const bepoch = td.epoch;
  assert.ok(!isTlbTracked(td, bepoch));
  const vcpuEpoch = enterEpoch(td); // a vCPU runs in the blocking epoch
  advanceEpoch(td);
  assert.ok(!isTlbTracked(td, bepoch), "a vCPU still runs in the blocking epoch");
  assert.ok(previousEpochBusy(td));
  exitEpoch(td, vcpuEpoch);
  assert.ok(isTlbTracked(td, bepoch));
  assert.ok(!previousEpochBusy(td));
  advanceEpoch(td);
  assert.ok(isTlbTracked(td, bepoch), "older epochs are always tracked");
});
