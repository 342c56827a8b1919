import { theSpec } from "../impl/spec/mod.ts";
import { runTdSession, bringUpHost } from "../impl/platform/td_stack.ts";
import { loadFirmware } from "../tools/td_tool_common.ts";
const spec = theSpec();
const fw = loadFirmware(spec, "fixtures/realdata/firmware/OVMF-debian-2022.11-6+deb12u2.fd");
for (let i = 0; i < 3; i++) {
  let t = performance.now();
  bringUpHost();
  const b = performance.now() - t;
  t = performance.now();
  let mrtd;
  const s = runTdSession(fw, function* (p) { const r = yield* p.readFile(spec.guestInterface("tdx_guest.mrtd").path); if (r.ok) mrtd = r.value; });
  console.log("bringup", b, "session", performance.now() - t, s.ok, mrtd?.length);
}
