// The 64 GiB TD measurement behind bench/sparse_td_bench.ts, run in a process of its
// own so that its memory figures start clean:
//   deno run --allow-read --v8-flags=--expose-gc bench/support/sparse_td_run.ts td|reference
// prints one JSON object. "td": a finalised TD whose private GPA space spans 64 GiB
// gets 1% of its 16 Mi pages, spread evenly across the range: Secure EPT pages with
// TDH.MEM.SEPT.ADD, each page with TDH.MEM.PAGE.AUG, then the guest accepts each page
// (TDG.MEM.PAGE.ACCEPT) and writes all of its 4 KiB through the Secure EPT with the TD's
// KeyID. "reference": the same number of 4 KiB arrays, written the same way, in a Map
// keyed by page address: what holding the touched bytes costs at the least.
import { Platform } from "../../impl/module/testing/fixture.ts";
import { translateGpa } from "../../impl/module/sept.ts";
import {
  addSeptTables,
  gpaAndLevel,
  guestCallOk,
  GuestRunner,
  seamcallerOk,
  tdOf,
  timed,
  type Timing,
} from "./td_bench_support.ts";

const PAGE = 4096n;
export const TD_BYTES = 64n << 30n;
export const TD_PAGES = Number(TD_BYTES / PAGE);
/** 1% of the TD's pages. */
export const TOUCHED = Math.floor(TD_PAGES / 100);

export interface MemorySnapshot {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface SparseRun {
  mode: "td" | "reference";
  touchedPages: number;
  rawBytes: number;
  before: MemorySnapshot;
  after: MemorySnapshot;
  /** After a full garbage collection, when the process was started with --expose-gc. */
  afterGc?: MemorySnapshot;
  timings: Record<string, Timing>;
  /** How many entries the model's page-keyed structures hold at the end. */
  counts: Record<string, number>;
}

function snapshot(): MemorySnapshot {
  const m = Deno.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

function collect(): MemorySnapshot | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  gc();
  return snapshot();
}

/** The touched pages' GPAs: `TOUCHED` pages spread evenly over the 64 GiB. */
function touchedGpas(): bigint[] {
  return Array.from(
    { length: TOUCHED },
    (_, i) => BigInt(Math.floor(i * TD_PAGES / TOUCHED)) * PAGE,
  );
}

/** What the guest writes to page `i`: 4 KiB, its index in the first 8 bytes. */
function pageBytes(i: number, buffer: Uint8Array): Uint8Array {
  buffer.fill((i % 255) + 1);
  new DataView(buffer.buffer).setBigUint64(0, BigInt(i), true);
  return buffer;
}

export function runSparseTd(): SparseRun {
  const p = new Platform();
  p.readyPlatform();
  const created = p.createTd();
  const tdvpr = p.createVcpu(created);
  p.finalizeTd(created);
  const guest = new GuestRunner(p, created.tdr, tdvpr);
  const td = tdOf(p, created.tdr);
  const gpas = touchedGpas();
  const mem = p.cpu.memory;
  const before = snapshot();

  let septPages = 0;
  const sept = timed(() => septPages = addSeptTables(p, created.tdr, gpas));
  const hostBase = p.allocRange(BigInt(TOUCHED) * PAGE, PAGE);
  const augCall = seamcallerOk(p, "TDH.MEM.PAGE.AUG");
  const aug = timed(() =>
    gpas.forEach((gpa, i) =>
      augCall({
        gpa_and_level: gpaAndLevel(p.spec, gpa, 0),
        tdr_pa: created.tdr,
        target_page_pa: hostBase + BigInt(i) * PAGE,
      })
    )
  );
  const buffer = new Uint8Array(Number(PAGE));
  const acceptAndWrite = timed(() =>
    guest.run((port) => {
      gpas.forEach((gpa, i) => {
        guestCallOk(p.spec, port, "TDG.MEM.PAGE.ACCEPT", {
          gpa_and_level: gpaAndLevel(p.spec, gpa, 0),
        });
        // The guest's store: private GPA → Secure EPT → HPA, with the TD's KeyID.
        const t = translateGpa(p.spec, td, gpa);
        if (!t.ok) throw new Error(`GPA 0x${gpa.toString(16)} is not mapped after ACCEPT`);
        mem.write(mem.withKeyId(t.hpa, td.hkid), pageBytes(i, buffer));
      });
    })
  );
  const after = snapshot();

  // A sample of pages read back as the guest sees them.
  for (let i = 0; i < TOUCHED; i += 997) {
    const t = translateGpa(p.spec, td, gpas[i]);
    const got = t.ok ? mem.read(mem.withKeyId(t.hpa, td.hkid), Number(PAGE)) : undefined;
    if (!got || new DataView(got.buffer).getBigUint64(0, true) !== BigInt(i)) {
      throw new Error(`page ${i} does not read back`);
    }
  }
  return {
    mode: "td",
    touchedPages: TOUCHED,
    rawBytes: TOUCHED * Number(PAGE),
    before,
    after,
    afterGc: collect(),
    timings: { septAdd: sept, aug, acceptAndWrite },
    counts: {
      septPagesAdded: septPages,
      septEntries: td.sept.size,
      pamtEntries: p.module.state.pamt.size,
      pamtEntriesOfTd: p.module.state.pamt.ownedBy(created.tdr).length,
      physicalPagesStored: mem.touchedPages,
      tdChildPages: td.childCount ?? 0,
    },
  };
}

export function runReference(): SparseRun {
  const gpas = touchedGpas();
  const before = snapshot();
  const pages = new Map<bigint, Uint8Array>();
  const buffer = new Uint8Array(Number(PAGE));
  const write = timed(() =>
    gpas.forEach((gpa, i) => {
      const page = new Uint8Array(Number(PAGE));
      page.set(pageBytes(i, buffer));
      pages.set(gpa, page);
    })
  );
  const after = snapshot();
  return {
    mode: "reference",
    touchedPages: TOUCHED,
    rawBytes: TOUCHED * Number(PAGE),
    before,
    after,
    afterGc: collect(),
    timings: { write },
    counts: { pages: pages.size },
  };
}

if (import.meta.main) {
  const mode = Deno.args[0];
  if (mode !== "td" && mode !== "reference") {
    console.error("usage: sparse_td_run.ts td|reference");
    Deno.exit(2);
  }
  console.log(JSON.stringify(mode === "td" ? runSparseTd() : runReference()));
}
