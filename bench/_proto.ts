import { Platform } from "../impl/module/testing/fixture.ts";
import { MemoryTd } from "../impl/module/testing/memory_fixture.ts";
import { tdcallByName } from "../impl/cpu/leaf_call.ts";
import { encodeBits } from "../impl/spec/bits.ts";
const N = Number(Deno.args[0] ?? 4096);
let t = performance.now();
const p = new Platform();
const m = new MemoryTd(p, { stage: "runnable" });
console.log("bring-up ms", performance.now() - t);
const GPA = 0x4000_0000n;
t = performance.now();
for (let i = 0; i < N; i++) m.aug(GPA + BigInt(i) * 4096n);
const aug = performance.now() - t;
console.log("aug/s", N / aug * 1000);
const spec = p.spec;
const galF = spec.bitfield("GPA_AND_LEVEL").fields;
let bad = 0;
p.cpu.attachGuestProgram(m.tdr, function* (port) {
  for (let i = 0; i < N; i++) {
    const r = tdcallByName(spec, port, "TDG.MEM.PAGE.ACCEPT", { gpa_and_level: encodeBits(galF, { gpa: (GPA >> 12n) + BigInt(i), level: 0n }) });
    if (r.status !== 0n) bad++;
  }
  tdcallByName(spec, port, "TDG.VP.VMCALL", { control: 0n });
  yield;
});
const handle = encodeBits(spec.seamcall("TDH.VP.ENTER").inputs.find((r) => r.name === "vcpu_handle_and_flags")!.fields!, { tdvpr_pa: m.vcpus[0] >> 12n });
t = performance.now();
const e = p.seamcall("TDH.VP.ENTER", { vcpu_handle_and_flags: handle });
const acc = performance.now() - t;
console.log(e.name, "bad", bad, "accept/s", N / acc * 1000, "rss MiB", Deno.memoryUsage().rss / 2**20);
