import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { finalizeTd } from "../testing/td_fixture.ts";
import { catalog } from "../metadata.ts";
import type { TdState } from "../state.ts";
import {
  addStreams,
  importTd,
  mbmdOperand,
  migratableAttributes,
  startExport,
} from "./migration_fixture.ts";
import { decodeMbmd, mbmdHeader } from "./mbmd.ts";
import { migrationOf } from "./session.ts";
import { forwardLink } from "./streams.ts";
import { fastForwardExportEpoch } from "./epoch_fast_forward.ts";

function exporting(): { p: Platform; tdr: bigint; td: TdState } {
  const p = new Platform();
  const td = p.createTd({ stage: "initialized", attributes: migratableAttributes(p.spec) });
  p.createVcpu(td);
  finalizeTd(p, td);
  addStreams(p, td.tdr);
  startExport(p, td.tdr, importTd(p).tdr);
  return { p, tdr: td.tdr, td: p.module.state.tds.get(td.tdr)! };
}

function track(p: Platform, tdr: bigint): { status?: string; token: Record<string, unknown> } {
  const buf = mbmdOperand(p);
  const r = p.seamcall("TDH.EXPORT.TRACK", {
    tdr_pa: tdr,
    mbmd_hpa_and_size: buf.operand,
    migs_index_and_cmd: 0n,
  });
  const d = decodeMbmd(p.spec, "MBMD_EPOCH_TOKEN", p.cpu.memory.read(buf.pa, 48));
  return { status: r.name, token: { ...mbmdHeader(d), total_mb: d.total_mb } };
}

function session(p: Platform, td: TdState) {
  const cat = catalog(p.spec);
  const f = (n: string) => td.fields.get(cat.elementId(cat.field("td", n), 0)) ?? 0n;
  const migsc = forwardLink(migrationOf(td), 0).migsc;
  return {
    epoch: f("MIG_EPOCH"),
    totalMb: f("TOTAL_MB_COUNT"),
    iv: migsc.ivCounter,
    nextMbCounter: migsc.nextMbCounter,
  };
}

Deno.test("fast-forward leaves the session as the TDH.EXPORT.TRACK calls between would", () => {
  const real = exporting();
  for (let i = 0; i < 5; i++) assert.equal(track(real.p, real.tdr).status, "TDX_SUCCESS");
  const fast = exporting();
  assert.equal(fastForwardExportEpoch(fast.p.spec, fast.td, 5n), undefined);
  assert.deepEqual(session(fast.p, fast.td), session(real.p, real.td));
  // The next epoch token is the same, MAC apart (each session draws its own key).
  const a = track(real.p, real.tdr).token;
  const b = track(fast.p, fast.tdr).token;
  delete a.mac;
  delete b.mac;
  assert.deepEqual(b, a);
  assert.equal(b.mig_epoch, 6);
});

Deno.test("fast-forward to the last in-order epoch: the next TDH.EXPORT.TRACK overflows", () => {
  const { p, tdr, td } = exporting();
  assert.equal(fastForwardExportEpoch(p.spec, td, 0xFFFF_FFFDn), undefined);
  assert.equal(track(p, tdr).status, "TDX_SUCCESS");
  assert.equal(session(p, td).epoch, 0xFFFF_FFFEn);
  assert.equal(track(p, tdr).status, "TDX_MIGRATION_EPOCH_OVERFLOW");
  assert.equal(session(p, td).epoch, 0xFFFF_FFFEn);
});

Deno.test("fast-forward refuses what TDH.EXPORT.TRACK calls could not reach", () => {
  const { p, td } = exporting();
  assert.match(fastForwardExportEpoch(p.spec, td, 0n)!, /above the current epoch 0/);
  assert.match(fastForwardExportEpoch(p.spec, td, 0xFFFF_FFFFn)!, /at most 4294967294/);
  assert.equal(fastForwardExportEpoch(p.spec, td, 3n), undefined);
  assert.match(fastForwardExportEpoch(p.spec, td, 2n)!, /above the current epoch 3/);
  const other = new Platform();
  const idle = other.createTd({
    stage: "initialized",
    attributes: migratableAttributes(other.spec),
  });
  other.createVcpu(idle);
  finalizeTd(other, idle);
  const state = other.module.state.tds.get(idle.tdr)!;
  assert.match(fastForwardExportEpoch(other.spec, state, 1n)!, /not the in-order export phase/);
});
