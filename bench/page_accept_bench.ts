// A TD given 1 GiB of private memory the way a TD's memory grows after it runs: the
// host adds each 4 KiB page with TDH.MEM.PAGE.AUG (PENDING) and the guest accepts it
// with TDG.MEM.PAGE.ACCEPT (zeroed with the TD's key, MAPPED), for all 262144 pages,
// through the module (SEAMCALLs and TDCALLs on the CPU model, the guest entered with
// TDH.VP.ENTER).
//
// The full 1 GiB build runs once when the file loads (a custom measurement printed with
// console.log: Deno.bench would repeat it at least four times); beside it, in the same
// run, the same number of plain Map insertions and of 4 KiB page zeroings in a
// PhysicalMemory. The Deno.bench entries then time the same work per 2 MiB (512 pages)
// against the same two references.
// Run: deno task bench (or deno bench --allow-read --allow-env bench/page_accept_bench.ts).
import { Platform } from "../impl/module/testing/fixture.ts";
import { PhysicalMemory } from "../impl/cpu/physical_memory.ts";
import {
  addSeptTables,
  gpaAndLevel,
  guestCallOk,
  GuestRunner,
  mib,
  printTable,
  seamcallerOk,
  sum,
  tdOf,
  timed,
  TIMING_HEADER,
  timingRow,
} from "./support/td_bench_support.ts";

const PAGE = 4096n;
const PAGES = 262144;
/** The TD's private memory starts at 1 GiB (any 1 GiB-aligned private GPA would do). */
const BASE_GPA = 1n << 30n;
/** Pages per Deno.bench iteration: one 2 MiB range (one level-1 Secure EPT page). */
const UNIT = 512;

/** A ready platform with a finalised TD, one vCPU, and its guest ready to run jobs. */
function runnableTd() {
  const p = new Platform();
  p.readyPlatform();
  const td = p.createTd();
  const tdvpr = p.createVcpu(td);
  p.finalizeTd(td);
  return { p, tdr: td.tdr, hkid: td.hkid, guest: new GuestRunner(p, td.tdr, tdvpr) };
}

function gpas(base: bigint, n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => base + BigInt(i) * PAGE);
}

/** The host's TDH.MEM.PAGE.AUG of every page at `at`, backed by consecutive host pages. */
function augAll(p: Platform, tdr: bigint, at: bigint[], hostBase: bigint): void {
  const aug = seamcallerOk(p, "TDH.MEM.PAGE.AUG");
  at.forEach((gpa, i) => {
    aug({
      gpa_and_level: gpaAndLevel(p.spec, gpa, 0),
      tdr_pa: tdr,
      target_page_pa: hostBase + BigInt(i) * PAGE,
    });
  });
}

/** The guest's TDG.MEM.PAGE.ACCEPT of every page at `at`, in one TD entry. */
function acceptAll(p: Platform, guest: GuestRunner, at: bigint[]): void {
  guest.run((port) => {
    for (const gpa of at) {
      guestCallOk(p.spec, port, "TDG.MEM.PAGE.ACCEPT", {
        gpa_and_level: gpaAndLevel(p.spec, gpa, 0),
      });
    }
  });
}

/** Reference: `n` insertions of a small entry into a Map keyed by bigint page address. */
function mapInsertions(n: number): Map<bigint, { hpa: bigint; state: string }> {
  const m = new Map<bigint, { hpa: bigint; state: string }>();
  for (let i = 0; i < n; i++) {
    const gpa = BASE_GPA + BigInt(i) * PAGE;
    m.set(gpa, { hpa: gpa, state: "MAPPED" });
  }
  return m;
}

/**
 * Reference: `n` 4 KiB pages zeroed with a private KeyID in a PhysicalMemory, each page
 * new to it (a page held before is dropped first, so every zeroing allocates).
 */
function pageZeroings(n: number, memory = freshMemory()): PhysicalMemory {
  for (let i = 0; i < n; i++) {
    const addr = BigInt(i) * PAGE;
    memory.drop(addr);
    memory.zeroPage(memory.withKeyId(addr, TD_KEYID));
  }
  return memory;
}
/** A private KeyID of the default platform (31 shared KeyIDs, then 32 private ones). */
const TD_KEYID = 33;
function freshMemory(): PhysicalMemory {
  return new PhysicalMemory(52, 6, (k) => k > 31 && k <= 63);
}

// ------------------------------------------------------------------ the 1 GiB TD, once

function oneGiBTd(): string[][] {
  const rssBefore = Deno.memoryUsage().rss;
  const map = timed(() => mapInsertions(PAGES));
  const zero = timed(() => pageZeroings(PAGES));

  let built!: ReturnType<typeof runnableTd>;
  const bringUp = timed(() => built = runnableTd());
  const { p, tdr, guest } = built;
  const at = gpas(BASE_GPA, PAGES);
  let septPages = 0;
  const sept = timed(() => septPages = addSeptTables(p, tdr, at));
  const hostBase = p.allocRange(BigInt(PAGES) * PAGE, PAGE);
  const aug = timed(() => augAll(p, tdr, at, hostBase));
  const accept = timed(() => acceptAll(p, guest, at));

  // Every page must now be a MAPPED 4 KiB leaf.
  let mapped = 0;
  for (const e of tdOf(p, tdr).sept.values()) if (e.level === 0 && e.state === "MAPPED") mapped++;
  if (mapped !== PAGES) throw new Error(`${mapped} of ${PAGES} pages are MAPPED`);
  const rssAfter = Deno.memoryUsage().rss;

  return [
    TIMING_HEADER,
    timingRow("platform bring-up; TD create, init, 1 vCPU, finalize", bringUp),
    timingRow(`TDH.MEM.SEPT.ADD × ${septPages} (Secure EPT pages)`, sept),
    timingRow(`TDH.MEM.PAGE.AUG × ${PAGES} (host)`, aug, PAGES),
    timingRow(`TDG.MEM.PAGE.ACCEPT × ${PAGES} (guest, one TDH.VP.ENTER)`, accept, PAGES),
    timingRow("1 GiB: SEPT.ADD + PAGE.AUG + PAGE.ACCEPT", sum(sept, aug, accept), PAGES),
    timingRow(`reference: Map.set × ${PAGES} (bigint key)`, map, PAGES),
    timingRow(`reference: PhysicalMemory.zeroPage × ${PAGES} (new pages)`, zero, PAGES),
    [`process RSS before → after: ${mib(rssBefore)} → ${mib(rssAfter)}`],
  ];
}

printTable(
  `1 GiB of TD private memory by TDH.MEM.PAGE.AUG + TDG.MEM.PAGE.ACCEPT (${PAGES} pages, one run)`,
  oneGiBTd(),
);

// ------------------------------------------------------------------ per 2 MiB, Deno.bench

const unit = runnableTd();
let nextGpa = BASE_GPA;

Deno.bench({
  name: `reference: Map.set × ${UNIT} (bigint key)`,
  group: "2 MiB of TD memory (512 pages)",
  baseline: true,
  fn() {
    mapInsertions(UNIT);
  },
});

const zeroMemory = freshMemory();
Deno.bench({
  name: `reference: PhysicalMemory.zeroPage × ${UNIT} (the page writes ACCEPT makes)`,
  group: "2 MiB of TD memory (512 pages)",
  fn() {
    pageZeroings(UNIT, zeroMemory);
  },
});

Deno.bench({
  name: `this suite: SEPT.ADD + PAGE.AUG × ${UNIT} + PAGE.ACCEPT × ${UNIT} (fresh 2 MiB)`,
  group: "2 MiB of TD memory (512 pages)",
  fn() {
    const { p, tdr, guest } = unit;
    const at = gpas(nextGpa, UNIT);
    nextGpa += BigInt(UNIT) * PAGE;
    addSeptTables(p, tdr, at);
    augAll(p, tdr, at, p.allocRange(BigInt(UNIT) * PAGE, PAGE));
    acceptAll(p, guest, at);
  },
});
