import { theSpec } from "/work/main/impl/spec/mod.ts";
import { parseTdvf } from "/work/main/impl/vmm/tdvf.ts";
import { runTdSession } from "/work/main/impl/platform/td_stack.ts";
const spec = theSpec();
const fw = parseTdvf(spec, Deno.readFileSync("/work/main/fixtures/realdata/firmware/OVMF-debian-2022.11-6+deb12u2.fd"));
if (!fw.ok) throw new Error();
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  const r = runTdSession(fw.value, function* (_p) {});
  console.log(r.ok, performance.now() - t);
}
