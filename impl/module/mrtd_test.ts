// MRTD as the module builds it, checked against records built here byte by byte (not
// with the spec's struct layouts) and hashed with @noble/hashes, so neither the record
// layout nor node:crypto is checked against itself.
import { strict as assert } from "node:assert";
import { sha384 } from "@noble/hashes/sha2.js";
import { theSpec } from "../spec/mod.ts";
import { extendRecord, pageAddRecord } from "./mrtd.ts";
import { Platform } from "./testing/fixture.ts";
import { addPage, extendPage } from "./testing/td_fixture.ts";

function record(name: string, gpa: bigint, data?: Uint8Array): Uint8Array {
  const out = new Uint8Array(128 + (data?.length ?? 0));
  out.set(new TextEncoder().encode(name), 0);
  new DataView(out.buffer).setBigUint64(16, gpa, true);
  if (data) out.set(data, 128);
  return out;
}

Deno.test('MEM_PAGE_ADD_RECORD: "MEM.PAGE.ADD", NUL padding, the GPA at byte 16, zeros', () => {
  const gpa = 0x1234_5000n;
  assert.deepEqual(pageAddRecord(theSpec(), gpa), record("MEM.PAGE.ADD", gpa));
});

Deno.test('MR_EXTEND_RECORD: "MR.EXTEND", the GPA at byte 16, then the 256-byte chunk', () => {
  const chunk = Uint8Array.from({ length: 256 }, (_, i) => i);
  const gpa = 0x8_0100n;
  const r = extendRecord(theSpec(), gpa, chunk);
  assert.equal(r.length, 384);
  assert.deepEqual(r, record("MR.EXTEND", gpa, chunk));
});

Deno.test("MRTD of a TD built with two pages, one of them measured, is SHA-384 of the records", () => {
  const p = new Platform();
  const td = p.createTd();
  const pages = [
    { gpa: 0x10_0000n, bytes: new Uint8Array(4096).fill(0xA5) },
    { gpa: 0x10_1000n, bytes: Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xFF) },
  ];
  for (const pg of pages) addPage(p, td, pg.gpa, pg.bytes);
  extendPage(p, td, pages[1].gpa);
  p.createVcpu(td);
  p.finalizeTd(td);

  const h = sha384.create();
  for (const pg of pages) h.update(record("MEM.PAGE.ADD", pg.gpa));
  for (let off = 0; off < 4096; off += 256) {
    h.update(
      record("MR.EXTEND", pages[1].gpa + BigInt(off), pages[1].bytes.subarray(off, off + 256)),
    );
  }
  const expected = h.digest();
  const state = p.module.state.tds.get(td.tdr)!;
  assert.deepEqual(state.mrtd, expected);
  assert.equal(state.opState, "OP_STATE_RUNNABLE");

  // The host reads the same MRTD, 8 bytes at a time, with TDH.MNG.RD.
  const base = BigInt(p.spec.metadataField("td", "MRTD").field_id);
  const read = new Uint8Array(48);
  for (let i = 0; i < 6; i++) {
    const r = p.seamcall("TDH.MNG.RD", { tdr_pa: td.tdr, field_id: base + BigInt(i) });
    assert.equal(r.name, "TDX_SUCCESS");
    new DataView(read.buffer).setBigUint64(8 * i, r.out.value, true);
  }
  assert.deepEqual(read, expected);
});
