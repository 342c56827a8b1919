import { kvmBed, buildTd } from "./testing/kvm_fixture.ts";
Deno.test("smoke", () => {
  const bed = kvmBed();
  console.log("tdx enabled", bed.kvm.host.tdxEnabled, bed.kvm.host.tdxDisabledReason, bed.kvm.host.sysinfo);
  bed.mark();
  try {
    const td = buildTd(bed, { vcpus: 1, memory: { gpa: 0n, size: 1n << 20n } });
    console.log(bed.calls(), td.vm.bugs);
  } catch (e) {
    console.log("ERR", (e as Error).message, bed.calls(), bed.kvm.host.seam.log.slice(-5).map(r => [r.name, r.status.toString(16)]));
  }
});
