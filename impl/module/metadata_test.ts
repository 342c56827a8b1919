import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { parseHex } from "../spec/hex.ts";
import { encodeBits } from "../spec/bits.ts";
import { StructCodec } from "../spec/codec.ts";
import { Cpu } from "../cpu/cpu.ts";
import { ModuleState } from "./state.ts";
import { cpuidKey } from "./td_params.ts";
import {
  accessMasks,
  catalog,
  checkSingleElementId,
  decodeFieldId,
  FIELD_ID_NA,
  isNullFieldId,
  type MdContext,
  mdDumpList,
  mdNextElementId,
  mdNextFieldId,
  mdRead,
  mdWrite,
  withContext,
} from "./metadata.ts";

const spec = theSpec();
const id = (scope: "global" | "td" | "vcpu", name: string) =>
  parseHex(spec.metadataField(scope, name).field_id);

function context(): MdContext {
  const state = new ModuleState();
  const td = state.newTd(0x1000n, 40);
  td.attributes = 0n;
  td.configFlags = encodeBits(spec.bitfield("CONFIG_FLAGS").fields, { FLEXIBLE_PENDING_VE: 1n });
  td.rtmr[1] = Uint8Array.from({ length: 48 }, (_, i) => i);
  const vcpu = {
    tdvpr: 0x2000n,
    tdr: td.tdr,
    tdcx: [],
    state: "initialized" as const,
    index: 3,
    launched: false,
    gprs: new Map<string, bigint>(),
    fields: new Map<bigint, bigint>(),
    cpuidVe: { supervisor: false, user: false },
  };
  return { spec, cpu: new Cpu(spec), state, td, vcpu };
}

Deno.test("field ids decode by the MD_FIELD_ID bitfield", () => {
  const p = decodeFieldId(spec, id("td", "ATTRIBUTES"));
  assert.equal(p.classCode, 17n);
  assert.equal(p.contextCode, spec.enumValue("MD_CONTEXT_CODE", "TD"));
  assert.equal(p.elementSizeCode, spec.enumValue("MD_ELEMENT_SIZE_CODE", "SIZE_64_BITS"));
  assert.equal(p.reservedSet, false);
  assert.equal(isNullFieldId(spec, FIELD_ID_NA), true);
  assert.equal(isNullFieldId(spec, withContext(spec, FIELD_ID_NA, "td")), true);
  assert.equal(isNullFieldId(spec, FIELD_ID_NA - 1n), false);
  assert.equal(checkSingleElementId(spec, id("td", "ATTRIBUTES")), undefined);
  // LAST_ELEMENT_IN_FIELD (bit 34) and a reserved bit (24) each make it incorrect.
  assert.equal(
    checkSingleElementId(spec, id("td", "ATTRIBUTES") | (1n << 34n)),
    "TDX_METADATA_FIELD_ID_INCORRECT",
  );
  assert.equal(
    checkSingleElementId(spec, id("td", "ATTRIBUTES") | (1n << 24n)),
    "TDX_METADATA_FIELD_ID_INCORRECT",
  );
});

Deno.test("catalog finds elements of array fields, by class and field code only", () => {
  const cat = catalog(spec);
  const rtmr = id("td", "RTMR");
  const el = cat.find("td", rtmr + 6n + 2n)!;
  assert.equal(el.field.item.name, "RTMR");
  assert.equal(el.fieldIndex, 1);
  assert.equal(el.elementIndex, 2);
  // KVM's short form (no context or size code) names the same element.
  const short = rtmr & ~((0x7n << 52n) | (0x3n << 32n));
  assert.equal(cat.find("td", short + 8n)!.id, rtmr + 8n);
  assert.equal(cat.find("td", rtmr + 24n), undefined);
  // TD VMCS fields step by 2 (INC_SIZE).
  const rip = id("vcpu", "GUEST_RIP");
  assert.equal(cat.find("vcpu", rip)!.field.item.name, "GUEST_RIP");
  assert.equal(cat.find("vcpu", rip + 1n), undefined);
});

Deno.test("access masks follow the access classes and the partial masks", () => {
  const cat = catalog(spec);
  const rtmr = cat.field("td", "RTMR");
  assert.deepEqual(accessMasks(rtmr, { who: "host" }), { read: 0n, write: 0n });
  assert.deepEqual(accessMasks(rtmr, { who: "host", debug: true }), {
    read: rtmr.fullMask,
    write: 0n,
  });
  assert.deepEqual(accessMasks(rtmr, { who: "guest" }), { read: rtmr.fullMask, write: 0n });
  const ne = cat.field("td", "NOTIFY_ENABLES");
  assert.deepEqual(accessMasks(ne, { who: "guest" }), { read: 1n, write: 1n });
  const ple = cat.field("vcpu", "PLE_GAP");
  assert.deepEqual(accessMasks(ple, { who: "host" }), { read: ple.fullMask, write: 0n });
  assert.deepEqual(accessMasks(ple, { who: "host", debug: true }).write, ple.fullMask);
});

Deno.test("mdRead and mdWrite apply masks and statuses", () => {
  const c = context();
  const guest = { who: "guest" } as const;
  const r = mdRead(c, "td", id("td", "RTMR") + 6n + 1n, guest);
  assert.equal(r.status, "TDX_SUCCESS");
  assert.equal(r.value, 0x0F0E0D0C0B0A0908n);
  assert.equal(mdRead(c, "td", id("td", "HKID"), guest).status, "TDX_METADATA_FIELD_NOT_READABLE");
  assert.equal(mdRead(c, "td", id("td", "HKID"), { who: "host" }).value, 40n);
  assert.equal(
    mdRead(c, "td", 0x1110000300000FFFn, guest).status,
    "TDX_METADATA_FIELD_ID_INCORRECT",
  );

  const ctls = id("td", "TD_CTLS");
  assert.equal(mdWrite(c, "td", ctls, 1n, 1n, guest).status, "TDX_SUCCESS");
  assert.equal(mdRead(c, "td", ctls, guest).value, 1n);
  // Asking to change a bit the guest may not write.
  assert.equal(
    mdWrite(c, "td", ctls, 2n, 3n, guest).status,
    "TDX_METADATA_FIELD_VALUE_NOT_VALID",
  );
  // The same bit with its current value is fine.
  const w = mdWrite(c, "td", ctls, 0n, 3n, guest);
  assert.equal(w.status, "TDX_SUCCESS");
  assert.equal(w.old, 1n);
  assert.equal(mdWrite(c, "td", ctls, 2n, 2n, guest).status, "TDX_METADATA_FIELD_NOT_WRITABLE");
  // A write that must cover the whole element.
  const hp = id("td", "HP_LOCK_TIMEOUT");
  assert.equal(
    mdWrite(c, "td", hp, 5n, 0xFFn, { who: "host" }).status,
    "TDX_METADATA_WR_MASK_NOT_VALID",
  );
  // A concurrent update of the element.
  const busy = mdWrite({ ...c, lock: () => false }, "td", ctls, 1n, 1n, guest);
  assert.equal(busy.status, "TDX_OPERAND_BUSY");
  assert.equal(busy.detail, "METADATA_FIELD");
});

Deno.test("vCPU values come from VcpuState", () => {
  const c = context();
  c.vcpu!.gprs.set("R12", 0x1234n);
  const dbg = { who: "host", debug: true } as const;
  assert.equal(mdRead(c, "vcpu", id("vcpu", "R12"), dbg).value, 0x1234n);
  assert.equal(mdRead(c, "vcpu", id("vcpu", "VCPU_INDEX"), { who: "guest" }).value, 3n);
  // TSC_DEADLINE of VM 1 exists only with an L2 VM.
  const tsc = id("vcpu", "TSC_DEADLINE");
  assert.equal(mdRead(c, "vcpu", tsc, { who: "guest" }).status, "TDX_SUCCESS");
  assert.equal(
    mdRead(c, "vcpu", tsc + 1n, { who: "guest" }).status,
    "TDX_METADATA_FIELD_ID_INCORRECT",
  );
});

Deno.test("next-element iteration walks accessible elements in table order", () => {
  const c = context();
  const guest = { who: "guest" } as const;
  const cat = catalog(spec);
  const seen: string[] = [];
  let cur = mdNextElementId(c, "td", FIELD_ID_NA, guest);
  let n = 0;
  while (cur !== FIELD_ID_NA && n++ < 1000) {
    const el = cat.find("td", cur)!;
    assert.notEqual(accessMasks(el.field, guest).read, 0n);
    seen.push(`${el.field.item.name}[${el.flat}]`);
    cur = mdNextElementId(c, "td", cur, guest);
  }
  assert.ok(seen.includes("RTMR[23]"));
  assert.ok(!seen.some((s) => s.startsWith("HKID")));
  // Field by field: RTMR's four fields start at elements 0, 6, 12, 18.
  const rtmr = id("td", "RTMR");
  assert.equal(mdNextFieldId(c, "td", rtmr, guest), rtmr + 6n);
  assert.equal(mdNextFieldId(c, "td", rtmr + 3n, guest), rtmr + 6n);
});

Deno.test("mdDumpList writes an MD_LIST of guest-readable global fields", () => {
  const c = context();
  const guest = { who: "guest" } as const;
  c.state.platform.mdFields.set(id("global", "MAJOR_VERSION"), 1n);
  const r = mdDumpList(c, "global", FIELD_ID_NA, guest);
  assert.equal(r.status, "TDX_SUCCESS");
  assert.equal(r.next, FIELD_ID_NA);
  const codec = new StructCodec(spec);
  const hdr = codec.decode("MD_LIST_HEADER", r.list!).value;
  assert.ok(Number(hdr.num_sequences) > 0);
  // Walk the sequences and collect field ids and values.
  const view = new DataView(r.list!.buffer);
  let off = 8;
  const got = new Map<bigint, bigint>();
  for (let s = 0; s < Number(hdr.num_sequences); s++) {
    const h = view.getBigUint64(off, true);
    const p = decodeFieldId(spec, h);
    assert.equal(p.contextCode, spec.enumValue("MD_CONTEXT_CODE", "PLATFORM"));
    const n = Number((p.lastElementInField + 1n) * (p.lastFieldInSequence + 1n));
    for (let i = 0; i < n; i++) {
      const base = h & ~((0x1FFn << 38n) | (0xFn << 34n));
      got.set(base + BigInt(i), view.getBigUint64(off + 8 + 8 * i, true));
    }
    off += 8 + 8 * n;
  }
  assert.equal(off, Number(hdr.list_buff_size));
  assert.equal(got.get(id("global", "MAJOR_VERSION")), 1n);
  assert.ok(!got.has(id("global", "NUM_PKGS")));
  // A tiny buffer overflows and names the field to resume from.
  const small = mdDumpList(c, "global", FIELD_ID_NA, guest, 24);
  assert.equal(small.status, "TDX_METADATA_LIST_OVERFLOW");
  assert.notEqual(small.next, FIELD_ID_NA);
  // A start that is not the first element of a field is refused.
  assert.equal(
    mdDumpList(c, "td", id("td", "RTMR") + 1n, guest).status,
    "TDX_METADATA_FIELD_ID_INCORRECT",
  );
});

Deno.test("CPUID_VALUES elements are named by leaf and sub-leaf", () => {
  const c = context();
  const cat = catalog(spec);
  const base = id("td", "CPUID_VALUES");
  const code = (leaf: number, sub: number | undefined, element: number) =>
    encodeBits(spec.bitfield("MD_CPUID_FIELD_CODE").fields, {
      ELEMENT: BigInt(element),
      SUBLEAF: sub === undefined ? 0x7Fn : BigInt(sub),
      SUBLEAF_NA: sub === undefined ? 1n : 0n,
      LEAF: BigInt(leaf & 0x7F),
      LEAF_BIT31: BigInt(leaf >>> 31),
    });
  const extended = base | code(0x80000008, undefined, 0);
  const el = cat.find("td", extended)!;
  assert.equal(el.field.item.name, "CPUID_VALUES");
  assert.equal(el.id, extended);
  c.td!.cpuid = new Map([[cpuidKey(0x80000008, 0xFFFF_FFFF), [0x3027, 0x1, 0x2, 0x3]]]);
  assert.equal(mdRead(c, "td", extended, { who: "host" }).value, (1n << 32n) | 0x3027n);
  assert.equal(mdRead(c, "td", extended + 1n, { who: "host" }).value, (3n << 32n) | 2n);
  // A leaf the module virtualizes but the TD does not have, and a faulting one.
  assert.equal(
    mdRead(c, "td", base | code(7, 0, 0), { who: "host" }).status,
    "TDX_METADATA_FIELD_NOT_READABLE",
  );
  assert.equal(
    mdRead(c, "td", base | code(6, undefined, 0), { who: "host" }).status,
    "TDX_METADATA_FIELD_NOT_READABLE",
  );
  // A leaf the module does not virtualize at all.
  assert.equal(
    mdRead(c, "td", base | code(0x9, undefined, 0), { who: "host" }).status,
    "TDX_METADATA_FIELD_ID_INCORRECT",
  );
  // The walk visits the readable entry, element by element.
  const host = { who: "host" } as const;
  let cur = mdNextElementId(c, "td", FIELD_ID_NA, host);
  const seen: bigint[] = [];
  while (cur !== FIELD_ID_NA) {
    if (cat.find("td", cur)!.field.item.name === "CPUID_VALUES") seen.push(cur);
    cur = mdNextElementId(c, "td", cur, host);
  }
  assert.equal(seen.length, 2 * spec.enum("TD_CPUID_LOOKUP").values.length);
  assert.ok(seen.includes(extended) && seen.includes(extended + 1n));
});

Deno.test("SEAMDB_INDEX reads the TDR's SEAM database index (0 when never set)", () => {
  const c = context();
  const host = { who: "host" } as const;
  assert.equal(mdRead(c, "td", id("td", "SEAMDB_INDEX"), host).value, 0n);
  c.td!.seamdb = { index: 2n, nonce: 0x1234n };
  assert.equal(mdRead(c, "td", id("td", "SEAMDB_INDEX"), host).value, 2n);
});
