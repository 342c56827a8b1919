// Peak memory of a 64 GiB TD with 1% of its pages touched (bench/support/sparse_td_run.ts
// says how): RSS and V8 heap before and after, beside the raw size of the touched data
// (1% of 64 GiB, 655 MiB) and, measured in the same run, what the same pages cost as
// plain 4 KiB arrays in a Map. Each side runs once, in a `deno run` process of its own
// (a custom measurement printed with console.log), so that neither inherits memory from
// the other or from the other bench files; without permission to run deno
// (--allow-run=deno) both run in this process, which the output then says.
// The Deno.bench entries time touching one more page of a 64 GiB TD (TDH.MEM.PAGE.AUG,
// the guest's TDG.MEM.PAGE.ACCEPT and 4 KiB write) beside storing a 4 KiB array in a Map.
// Run: deno task bench.
import { Platform } from "../impl/module/testing/fixture.ts";
import { translateGpa } from "../impl/module/sept.ts";
import {
  addSeptTables,
  gpaAndLevel,
  guestCallOk,
  GuestRunner,
  mib,
  printTable,
  rate,
  seamcallerOk,
  seconds,
  tdOf,
} from "./support/td_bench_support.ts";
import {
  type MemorySnapshot,
  runReference,
  runSparseTd,
  type SparseRun,
  TD_PAGES,
  TOUCHED,
} from "./support/sparse_td_run.ts";

const RUNNER = new URL("./support/sparse_td_run.ts", import.meta.url);
const ROOT = new URL("../", import.meta.url);

async function runAlone(mode: "td" | "reference"): Promise<SparseRun> {
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-read",
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      "--v8-flags=--expose-gc",
      RUNNER.pathname,
      mode,
    ],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`sparse_td_run.ts ${mode} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Whether `deno` can be started from here (on the PATH, and allowed). */
async function canRunDeno(): Promise<boolean> {
  try {
    return (await new Deno.Command("deno", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

const alone = await canRunDeno();
const reference = alone ? await runAlone("reference") : runReference();
const td = alone ? await runAlone("td") : runSparseTd();

const delta = (r: SparseRun, k: keyof MemorySnapshot) => r.after[k] - r.before[k];
const memoryRow = (label: string, r: SparseRun) => [
  label,
  `${mib(r.before.rss)} → ${mib(r.after.rss)}`,
  `+${mib(delta(r, "rss"))}`,
  `${(delta(r, "rss") / r.rawBytes).toFixed(2)}×`,
  `${mib(r.before.heapUsed)} → ${mib(r.after.heapUsed)}`,
  `${mib(r.after.external)}`,
];
const raw = td.rawBytes;
const c = td.counts;
const t = td.timings;
printTable(
  `64 GiB TD (${TD_PAGES} pages), ${TOUCHED} pages (1%) touched across the range, one run` +
    (alone
      ? " (each side in its own deno process)"
      : " (both in this process: deno could not be run, see --allow-run=deno)"),
  [
    ["", "RSS before → after", "RSS growth", "growth/raw", "heap used before → after", "external"],
    ["raw size of the touched data (1% of 64 GiB)", "", mib(raw), "1.00×", "", ""],
    memoryRow("reference: 4 KiB Uint8Arrays in a Map", reference),
    memoryRow("this suite: SEPT.ADD + PAGE.AUG + ACCEPT + guest writes", td),
    [
      `after a full GC: this suite RSS ${td.afterGc ? mib(td.afterGc.rss) : "n/a"}, heap used ` +
      `${td.afterGc ? mib(td.afterGc.heapUsed) : "n/a"}; reference RSS ` +
      `${reference.afterGc ? mib(reference.afterGc.rss) : "n/a"}`,
    ],
    [
      `model entries (all keyed by touched page): Secure EPT ${c.septEntries} ` +
      `(${TOUCHED} leaves + ${c.septPagesAdded} Secure EPT pages), PAMT ${c.pamtEntries} ` +
      `(${c.pamtEntriesOfTd} the TD's), physical pages stored ${c.physicalPagesStored}`,
    ],
    [
      `time: SEPT.ADD ${seconds(t.septAdd.wall)} (CPU ${seconds(t.septAdd.cpu)}), ` +
      `PAGE.AUG ${seconds(t.aug.wall)} (CPU ${seconds(t.aug.cpu)}), ` +
      `ACCEPT + 4 KiB write ${seconds(t.acceptAndWrite.wall)} ` +
      `(CPU ${seconds(t.acceptAndWrite.cpu)}, ${rate(TOUCHED, t.acceptAndWrite.cpu, "pages")})`,
    ],
  ],
);

// ------------------------------------------------------------------ one more page, Deno.bench

const p = new Platform();
p.readyPlatform();
const created = p.createTd();
const guest = new GuestRunner(p, created.tdr, p.createVcpu(created));
p.finalizeTd(created);
const state = tdOf(p, created.tdr);
const aug = seamcallerOk(p, "TDH.MEM.PAGE.AUG");
const data = new Uint8Array(4096).fill(0xA5);
/** Pages 100 apart (1% of the range), as in the measurement above. */
let page = 0;
const nextGpa = () => BigInt(page++ * 100) * 4096n;

Deno.bench({
  name: "reference: Map.set of a new 4 KiB Uint8Array",
  group: "touch one page of a 64 GiB TD",
  baseline: true,
  fn() {
    const m = new Map<bigint, Uint8Array>();
    const a = new Uint8Array(4096);
    a.set(data);
    m.set(0n, a);
  },
});

Deno.bench({
  name: "this suite: SEPT.ADD if needed + PAGE.AUG + ACCEPT + 4 KiB guest write",
  group: "touch one page of a 64 GiB TD",
  fn() {
    const gpa = nextGpa();
    addSeptTables(p, created.tdr, [gpa]);
    aug({
      gpa_and_level: gpaAndLevel(p.spec, gpa, 0),
      tdr_pa: created.tdr,
      target_page_pa: p.allocPage(),
    });
    guest.run((port) => {
      guestCallOk(p.spec, port, "TDG.MEM.PAGE.ACCEPT", {
        gpa_and_level: gpaAndLevel(p.spec, gpa, 0),
      });
      const t = translateGpa(p.spec, state, gpa);
      if (!t.ok) throw new Error("not mapped after ACCEPT");
      p.cpu.memory.write(p.cpu.memory.withKeyId(t.hpa, state.hkid), data);
    });
  },
});
