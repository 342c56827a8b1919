import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { StructCodec } from "../../spec/codec.ts";
import { parseHex } from "../../spec/hex.ts";
import { decodeFieldId, FIELD_ID_NA } from "../metadata.ts";

const id = (p: Platform, name: string, index = 0) =>
  parseHex(p.spec.metadataField("global", name).field_id) + BigInt(index);

const NON_ARCH = 1n << 63n;

interface Row {
  name: string;
  before?: (p: Platform) => void;
  buffer?: (p: Platform, page: bigint) => bigint;
  fieldId?: (p: Platform) => bigint;
  lp?: number;
  raxExtra?: bigint;
  want: Expected;
  next?: (p: Platform) => bigint;
}

const ROWS: Row[] = [
  {
    name: "everything from the first field",
    want: { name: "TDX_SUCCESS" },
    next: () => FIELD_ID_NA,
  },
  {
    name: "from a given field",
    fieldId: (p) => id(p, "MAX_TDMRS"),
    want: { name: "TDX_SUCCESS" },
    next: () => FIELD_ID_NA,
  },
  {
    name: "buffer full",
    before: (p) => {
      p.readyPlatform();
      p.module.state.profile.mdListBytes = 512;
    },
    want: { name: "TDX_METADATA_LIST_OVERFLOW" },
  },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 50n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    before: (p) => {
      p.readyPlatform();
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  {
    name: "LP not initialised",
    before: (p) => assert.equal(p.seamcall("TDH.SYS.INIT").name, "TDX_SUCCESS"),
    lp: 2,
    want: { name: "TDX_SYS_LP_INIT_NOT_DONE" },
  },
  {
    name: "buffer not 4 KiB aligned",
    buffer: (_p, page) => page + 8n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RDX" },
  },
  {
    name: "buffer with a private HKID",
    buffer: (p, page) => p.cpu.memory.withKeyId(page, 33),
    want: { name: "TDX_OPERAND_INVALID", operand: "RDX" },
  },
  {
    name: "buffer in SEAMRR",
    buffer: (p) => p.cpu.platform.seamrr.base,
    want: { name: "TDX_OPERAND_INVALID", operand: "RDX" },
  },
  {
    name: "buffer above MAX_PA",
    buffer: (_p, page) => page | (1n << 52n),
    want: { name: "TDX_OPERAND_INVALID", operand: "RDX" },
  },
  {
    name: "start id not the start of a field",
    // MAJOR_VERSION with an 8-byte element size code: not how the field is laid out.
    fieldId: (p) => id(p, "MAJOR_VERSION") | (3n << 32n),
    want: { name: "TDX_METADATA_FIELD_ID_INCORRECT" },
  },
  {
    name: "start id names no field",
    fieldId: () => 0x3D00_0000_0000_0000n,
    want: { name: "TDX_METADATA_FIELD_ID_INCORRECT" },
  },
];

function header(p: Platform, pa: bigint) {
  const h = new StructCodec(p.spec).decode("MD_LIST_HEADER", p.cpu.memory.read(pa, 8)).value;
  return { size: h.list_buff_size as number, sequences: h.num_sequences as number };
}

for (const row of ROWS) {
  Deno.test(`TDH.SYS.RDALL: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? ((q: Platform) => q.readyPlatform()))(p);
    const page = p.allocPage();
    const pa = row.buffer?.(p, page) ?? page;
    const r = p.seamcallRaw("TDH.SYS.RDALL", {
      md_list_pa: pa,
      field_id: row.fieldId?.(p) ?? FIELD_ID_NA,
    }, { lp: row.lp, raxExtra: row.raxExtra });
    expectStatus(r, row.want, row.name);
    if (row.next) assert.equal(r.out.next_field_id, row.next(p));
    if (["TDX_SUCCESS", "TDX_METADATA_LIST_OVERFLOW"].includes(row.want.name)) {
      const h = header(p, pa);
      assert.ok(h.sequences > 0 && h.size > 8);
    }
    if (row.want.name === "TDX_METADATA_LIST_OVERFLOW") {
      assert.notEqual(r.out.next_field_id, FIELD_ID_NA);
    }
  });
}

Deno.test("TDH.SYS.RDALL lists read back the values TDH.SYS.RD gives", () => {
  const p = new Platform();
  p.readyPlatform();
  p.module.state.profile.mdListBytes = 1024;
  const pa = p.allocPage();
  const values = new Map<bigint, bigint>();
  let start = FIELD_ID_NA;
  let calls = 0;
  for (;;) {
    const r = p.seamcall("TDH.SYS.RDALL", { md_list_pa: pa, field_id: start });
    calls++;
    const { size } = header(p, pa);
    const view = new DataView(p.cpu.memory.read(pa, size).buffer);
    for (let at = 8; at < size;) {
      const seq = view.getBigUint64(at, true);
      const f = decodeFieldId(p.spec, seq);
      const n = Number((f.lastFieldInSequence + 1n) * (f.lastElementInField + 1n));
      for (let i = 0; i < n; i++) {
        const elementId = (seq & ~0xFFFFFFn & ~(0x1FFn << 38n) & ~(0xFn << 34n)) + f.fieldCode +
          BigInt(i);
        // NON_ARCH (bit 63) is not part of a field's identity.
        values.set(elementId & ~NON_ARCH, view.getBigUint64(at + 8 + 8 * i, true));
      }
      at += 8 + 8 * n;
    }
    if (r.name === "TDX_SUCCESS") break;
    assert.equal(r.name, "TDX_METADATA_LIST_OVERFLOW");
    start = r.out.next_field_id;
  }
  assert.ok(calls > 1);
  for (const [name, index] of [["MAJOR_VERSION", 0], ["CMR_BASE", 1], ["MAX_TDMRS", 0]] as const) {
    const eid = id(p, name, index) & ~NON_ARCH;
    const rd = p.seamcall("TDH.SYS.RD", { field_id: eid }).out.value;
    assert.equal(values.get(eid), rd, name);
  }
});
