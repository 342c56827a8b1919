import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { parseTdvf, type TdvfFirmware } from "./tdvf.ts";
import { launchTd } from "./launcher.ts";
import { tdRamMap } from "./ram_layout.ts";
import { buildTdHob } from "./td_hob.ts";
import { bringUpHost } from "../platform/td_stack.ts";
import { TdGuestMemory } from "../platform/td_guest_memory.ts";

const spec = theSpec();
const image = Deno.readFileSync(
  new URL("../../fixtures/realdata/firmware/OVMF-debian-2022.11-6+deb12u2.fd", import.meta.url),
);
const fw: TdvfFirmware = (() => {
  const r = parseTdvf(spec, image);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
})();

Deno.test("launch: every section page added, the BFV measured chunk by chunk, the TD finalized", () => {
  const { platform, kvm } = bringUpHost();
  const byNumber = new Map([...spec.seamcalls.values()].map((l) => [l.leaf, l.name]));
  const calls: string[] = [];
  platform.module.observers.push((r) => {
    if (r.kind === "seamcall") calls.push(byNumber.get(r.leaf)!);
  });
  const r = launchTd(spec, kvm, fw);
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  if (!r.ok) return;
  const pages = fw.sections.reduce((n, s) => n + Number(s.memoryDataSize / 4096n), 0);
  assert.equal(calls.filter((c) => c === "TDH.MEM.PAGE.ADD").length, pages);
  assert.equal(calls.filter((c) => c === "TDH.MR.EXTEND").length, 0x1E0000 / 256);
  assert.equal(calls.filter((c) => c === "TDH.MR.FINALIZE").length, 1);
  assert.ok(calls.indexOf("TDH.VP.INIT") < calls.indexOf("TDH.MEM.PAGE.ADD"));
  assert.equal(calls[calls.length - 1], "TDH.MR.FINALIZE");
  assert.equal(r.value.vm.td.state, "runnable");
  // The TD HOB is in the TD's private memory where TDVF looks for it.
  const mem = new TdGuestMemory(spec, platform.cpu, platform.module.state, r.value.vm);
  mem.memory = r.value.memory;
  const ram = tdRamMap(fw.sections, 32n << 20n);
  assert.ok(ram.ok);
  if (!ram.ok) return;
  const hob = buildTdHob(spec, 0x809000n, 0x2000, ram.entries);
  assert.ok(hob.ok);
  if (hob.ok) assert.deepEqual(mem.read(0x809000n, 0x2000), hob.bytes);
  // TEMP_MEM starts zeroed; the BFV holds the image's bytes.
  assert.deepEqual(mem.read(0x810000n, 64), new Uint8Array(64));
  assert.deepEqual(mem.read(0xFFE20000n, 4096), image.subarray(0x20000, 0x21000));
});

Deno.test("launch: guest RAM too small for the TDVF ranges is refused, naming the section", () => {
  const { kvm } = bringUpHost();
  const r = launchTd(spec, kvm, fw, { memoryBytes: 4n << 20n });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.step, "TDVF_SECTION[2]");
  assert.match(r.error.message, /0x810000\.\.0x820000 is not inside one RAM range/);
});

Deno.test("launch: a host failure is reported with the step that failed", () => {
  const { kvm } = bringUpHost();
  // Far more guest RAM than the host can back: the VMM's mapping fails.
  const r = launchTd(spec, kvm, fw, { memoryBytes: 1n << 30n });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.step, "mmap");
});
