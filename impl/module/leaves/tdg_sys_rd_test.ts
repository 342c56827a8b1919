import { strict as assert } from "node:assert";
import type { MetadataItem } from "../../spec/types.ts";
import { StructCodec } from "../../spec/codec.ts";
import { GuestHarness, specWith } from "../testing/guest_harness.ts";
import {
  catalog,
  decodeFieldId,
  FIELD_ID_NA,
  type MdContext,
  mdNextElementId,
} from "../metadata.ts";

const id = (h: GuestHarness, name: string) => catalog(h.spec).field("global", name).baseId;
const mdCtx = (h: GuestHarness): MdContext => ({ spec: h.spec, cpu: h.p.cpu, state: h.state });

Deno.test("TDG.SYS.RD reads guest-readable module metadata", () => {
  const h = new GuestHarness();
  const r = h.tdcall("TDG.SYS.RD", { field_id: id(h, "MAJOR_VERSION") });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.value, BigInt(h.state.profile.version.major));
  assert.equal(
    r.out.next_field_id,
    mdNextElementId(mdCtx(h), "global", id(h, "MAJOR_VERSION"), { who: "guest" }),
  );
  const first = h.tdcall("TDG.SYS.RD", { field_id: FIELD_ID_NA });
  assert.equal(first.name, "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT");
  assert.equal(first.out.next_field_id, id(h, "VENDOR_ID"));
});

const cases: { why: string; field: (h: GuestHarness) => bigint; status: string }[] = [
  {
    why: "a reserved bit",
    field: (h) => id(h, "MAJOR_VERSION") | (1n << 62n),
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "no such field",
    field: (h) => id(h, "MAJOR_VERSION") + 0x80n,
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "a host-only field",
    field: (h) => id(h, "NUM_PKGS"),
    status: "TDX_METADATA_FIELD_NOT_READABLE",
  },
];
for (const c of cases) {
  Deno.test(`TDG.SYS.RD: ${c.why} -> ${c.status}`, () => {
    const h = new GuestHarness();
    const r = h.tdcall("TDG.SYS.RD", { field_id: c.field(h) });
    assert.equal(r.name, c.status);
    assert.equal(r.detail, 0n);
    assert.equal(r.out.next_field_id, FIELD_ID_NA);
    assert.equal(r.out.value, 0n);
  });
}

const LIST_GPA = 0x10_0000n;

function sequences(h: GuestHarness, list: Uint8Array) {
  const hdr = new StructCodec(h.spec).decode("MD_LIST_HEADER", list).value;
  const view = new DataView(list.buffer, list.byteOffset);
  const out: { header: bigint; values: bigint[] }[] = [];
  let off = 8;
  for (let s = 0; s < Number(hdr.num_sequences); s++) {
    const header = view.getBigUint64(off, true);
    const p = decodeFieldId(h.spec, header);
    const n = Number((p.lastElementInField + 1n) * (p.lastFieldInSequence + 1n));
    out.push({
      header,
      values: Array.from({ length: n }, (_, i) => view.getBigUint64(off + 8 + 8 * i, true)),
    });
    off += 8 + 8 * n;
  }
  assert.equal(off, Number(hdr.list_buff_size));
  return out;
}

Deno.test("TDG.SYS.RDALL dumps every guest-readable global field", () => {
  const h = new GuestHarness();
  const hpa = h.map(LIST_GPA);
  const r = h.tdcall("TDG.SYS.RDALL", { md_list_gpa: LIST_GPA, field_id: FIELD_ID_NA });
  assert.equal(r.name, "TDX_SUCCESS");
  assert.equal(r.out.next_field_id, FIELD_ID_NA);
  const seqs = sequences(h, h.readPrivate(hpa, 4096));
  assert.equal(seqs[0].header & 0xFFFF_FFFFn, id(h, "VENDOR_ID") & 0xFFFF_FFFFn);
  assert.equal(seqs[0].values[0], BigInt(h.state.profile.version.vendorId));
  const all = seqs.flatMap((s) => s.values);
  assert.ok(all.includes(BigInt(h.state.profile.version.major)));
});

/** A module whose guest-readable global metadata does not fit in one 4 KiB list. */
function bigSpec() {
  const base = new GuestHarness().spec.metadataField("global", "CMR_BASE");
  const item: MetadataItem = {
    ...base,
    name: "GUEST_TABLE",
    field_id: "0x9F00000300000000",
    elements: 600,
    num_fields: 600,
    guest_access: "ro",
  };
  return specWith([item]);
}

const bad: {
  why: string;
  gpa?: bigint;
  field?: (h: GuestHarness) => bigint;
  status: string;
  operand?: string;
}[] = [
  {
    why: "RDX not 4 KiB aligned",
    gpa: LIST_GPA + 8n,
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
  },
  { why: "RDX shared", gpa: LIST_GPA | (1n << 47n), status: "TDX_OPERAND_INVALID", operand: "RDX" },
  {
    why: "RDX above GPAW",
    gpa: LIST_GPA | (1n << 51n),
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
  },
  {
    why: "R8 names no field",
    field: (h) => id(h, "MAJOR_VERSION") + 0x40n,
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
  {
    why: "R8 with the wrong element size code",
    field: (h) => id(h, "MAJOR_VERSION") ^ (1n << 33n),
    status: "TDX_METADATA_FIELD_ID_INCORRECT",
  },
];
for (const c of bad) {
  Deno.test(`TDG.SYS.RDALL: ${c.why} -> ${c.status} ${c.operand ?? ""}`, () => {
    const h = new GuestHarness();
    const hpa = h.map(LIST_GPA);
    const r = h.tdcall("TDG.SYS.RDALL", {
      md_list_gpa: c.gpa ?? LIST_GPA,
      field_id: c.field?.(h) ?? FIELD_ID_NA,
    });
    assert.equal(r.name, c.status);
    if (c.operand) assert.equal(r.operand, c.operand);
    else assert.equal(r.detail, 0n);
    assert.equal(r.out.next_field_id, FIELD_ID_NA);
    assert.deepEqual(h.readPrivate(hpa, 8), new Uint8Array(8));
  });
}

Deno.test("TDG.SYS.RD walks every guest-readable element by id, as TDG.SYS.RDALL lists them", () => {
  // RDX carries the id in and the next id out: every non-null id must be read as itself.
  const h = new GuestHarness();
  const hpa = h.map(LIST_GPA);
  const all = h.tdcall("TDG.SYS.RDALL", { md_list_gpa: LIST_GPA, field_id: FIELD_ID_NA });
  assert.equal(all.name, "TDX_SUCCESS");
  const listed = sequences(h, h.readPrivate(hpa, 4096)).flatMap((s) => s.values);
  const read: bigint[] = [];
  let next = h.tdcall("TDG.SYS.RD", { field_id: FIELD_ID_NA }).out.next_field_id;
  while (next !== FIELD_ID_NA) {
    const r = h.tdcall("TDG.SYS.RD", { field_id: next });
    assert.equal(r.name, "TDX_SUCCESS", `field ${next.toString(16)}`);
    read.push(r.out.value);
    next = r.out.next_field_id;
  }
  assert.deepEqual(read, listed);
});

Deno.test("TDG.SYS.RDALL: a full list -> TDX_METADATA_LIST_OVERFLOW and the field to resume from", () => {
  const h = new GuestHarness({ spec: bigSpec() });
  const hpa = h.map(LIST_GPA);
  const r = h.tdcall("TDG.SYS.RDALL", { md_list_gpa: LIST_GPA, field_id: FIELD_ID_NA });
  assert.equal(r.name, "TDX_METADATA_LIST_OVERFLOW");
  assert.equal(r.detail, 0n);
  assert.notEqual(r.out.next_field_id, FIELD_ID_NA);
  const first = sequences(h, h.readPrivate(hpa, 4096)).flatMap((s) => s.values).length;
  const again = h.tdcall("TDG.SYS.RDALL", { md_list_gpa: LIST_GPA, field_id: r.out.next_field_id });
  assert.equal(again.name, "TDX_SUCCESS");
  const second = sequences(h, h.readPrivate(hpa, 4096)).flatMap((s) => s.values).length;
  const guestElements = catalog(h.spec).fields("global")
    .filter((f) => f.item.guest_access !== "none")
    .reduce((n, f) => n + f.item.elements, 0);
  assert.equal(first + second, guestElements);
});

Deno.test("TDG.SYS.RDALL: a build that fills fewer bytes per call -> TDX_METADATA_LIST_OVERFLOW", () => {
  const h = new GuestHarness();
  h.state.profile.mdListBytes = 128;
  const hpa = h.map(LIST_GPA);
  const r = h.tdcall("TDG.SYS.RDALL", { md_list_gpa: LIST_GPA, field_id: FIELD_ID_NA });
  assert.equal(r.name, "TDX_METADATA_LIST_OVERFLOW");
  assert.notEqual(r.out.next_field_id, FIELD_ID_NA);
  const first = sequences(h, h.readPrivate(hpa, 4096));
  const size = Number(new DataView(h.readPrivate(hpa, 8).buffer).getUint16(0, true));
  assert.ok(size <= 128, `list_buff_size ${size}`);
  const again = h.tdcall("TDG.SYS.RDALL", { md_list_gpa: LIST_GPA, field_id: r.out.next_field_id });
  assert.equal(again.name, "TDX_SUCCESS");
  const second = sequences(h, h.readPrivate(hpa, 4096));
  h.state.profile.mdListBytes = 4096;
  const whole = h.tdcall("TDG.SYS.RDALL", { md_list_gpa: LIST_GPA, field_id: FIELD_ID_NA });
  assert.equal(whole.name, "TDX_SUCCESS");
  const all = sequences(h, h.readPrivate(hpa, 4096)).flatMap((s) => s.values);
  assert.deepEqual([...first, ...second].flatMap((s) => s.values), all);
});

Deno.test("TDG.SYS.RDALL: an unmapped list page is an EPT-violation TD exit", () => {
  const h = new GuestHarness();
  const r = h.tdcall("TDG.SYS.RDALL", { md_list_gpa: LIST_GPA, field_id: FIELD_ID_NA });
  assert.equal(r.completed, false);
  assert.equal(h.vcpu.pendingExit?.kind, "ept-violation");
});
