// Tearing a TD down in Linux's order (kvm_destroy_vm): release the HKID (flush every
// vCPU off its CPU, TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB on each package,
// TDH.MNG.KEY.FREEID), then free the vCPUs' TDVPS pages, the S-EPT pages, the TDCS pages
// and the TDR, each reclaimed from the module with TDH.PHYMEM.PAGE.RECLAIM.
import type { KvmVcpu } from "./vcpu.ts";
import type { KvmVm } from "./vm.ts";

/** tdx_track: after a private page is blocked, make every vCPU's TLB drop it. */
export function tdTrack(vm: KvmVm, lp: number): void {
  if (vm.td.state !== "runnable") return;
  const seam = vm.host.seam;
  let r = seam.call(lp, "TDH.MEM.TRACK", { tdr_pa: vm.td.tdr! });
  if (seam.is(r.status, "TDX_OPERAND_BUSY")) {
    r = seam.call(lp, "TDH.MEM.TRACK", { tdr_pa: vm.td.tdr! });
  }
  if (r.status !== 0n) vm.bug(r.name, r.status);
}

/** tdx_flush_vp_on_cpu: TDH.VP.FLUSH on the CPU the vCPU is associated with. */
export function flushVcpu(vcpu: KvmVcpu): void {
  if (vcpu.cpu === -1) return;
  const seam = vcpu.vm.host.seam;
  if (vcpu.tdxState !== "uninitialized") {
    const r = seam.call(vcpu.cpu, "TDH.VP.FLUSH", { tdvpr_pa: vcpu.tdvpr! });
    if (r.status !== 0n && !seam.exactly(r.status, "TDX_VCPU_NOT_ASSOCIATED")) {
      vcpu.vm.bug(r.name, r.status);
    }
  }
  vcpu.cpu = -1;
}

/** tdx_mmu_release_hkid. */
export function releaseHkid(vm: KvmVm): void {
  const { host, td } = vm;
  if (td.hkid === undefined) return;
  const seam = host.seam;
  for (const v of vm.vcpus) flushVcpu(v);
  const done = seam.call(host.lp, "TDH.MNG.VPFLUSHDONE", { tdr_pa: td.tdr! });
  if (seam.exactly(done.status, "TDX_FLUSHVP_NOT_DONE")) return;
  if (done.status !== 0n) {
    vm.bug(done.name, done.status);
    return;
  }
  const retries = Number(host.spec.enumValue("linux_tdx_limits", "TDX_SEAMCALL_RETRIES"));
  for (const { lp } of host.packageLeaders()) {
    let err = 0n;
    for (let i = retries; i > 0; i--) {
      err = seam.call(lp, "TDH.PHYMEM.CACHE.WB", { command: err !== 0n ? 1n : 0n }).status;
      if (seam.exactly(err, "TDX_INTERRUPTED_RESUMABLE")) continue;
      if (seam.exactly(err, "TDX_NO_HKID_READY_TO_WBCACHE")) err = 0n;
      break;
    }
    // A failed write-back is only reported; TDH.MNG.KEY.FREEID then refuses.
    if (err !== 0n) vm.warnings.push({ what: "TDH.PHYMEM.CACHE.WB", status: err });
  }
  const free = seam.call(host.lp, "TDH.MNG.KEY.FREEID", { tdr_pa: td.tdr! });
  if (free.status !== 0n) {
    vm.bug(free.name, free.status);
    return;
  }
  host.keyIds.free(td.hkid);
  host.tdxKeysCharged--;
  td.hkid = undefined;
}

/** tdx_reclaim_td_control_pages: the TDCS pages, then the TDR (written back with the global KeyID). */
export function reclaimControlPages(vm: KvmVm): void {
  const { host, td } = vm;
  if (td.hkid !== undefined) return;
  const lp = host.lp;
  for (const pa of td.tdcs ?? []) {
    if (pa !== undefined && vm.reclaimPage(lp, pa)) host.freePage(pa);
  }
  td.tdcs = undefined;
  if (td.tdr === undefined) return;
  const r = host.seam.call(lp, "TDH.PHYMEM.PAGE.RECLAIM", { page_pa: td.tdr });
  if (r.status !== 0n) {
    vm.bug(r.name, r.status);
    return;
  }
  const wb = host.seam.call(lp, "TDH.PHYMEM.PAGE.WBINVD", {
    page_pa_with_hkid: host.cpu.memory.withKeyId(td.tdr, host.keyIds.globalKeyId),
  });
  if (wb.status !== 0n) {
    vm.bug(wb.name, wb.status);
    return;
  }
  host.freePage(td.tdr);
  td.tdr = undefined;
}

/** tdx_vcpu_free: the TDCX pages and the TDVPR, once the HKID is gone. */
export function freeVcpu(vcpu: KvmVcpu): void {
  const { vm } = vcpu;
  const host = vm.host;
  if (vcpu.cpu !== -1) {
    flushVcpu(vcpu);
    return;
  }
  if (vm.td.hkid !== undefined) return;
  for (const pa of vcpu.tdcx) {
    if (pa !== undefined && vm.reclaimPage(host.lp, pa)) host.freePage(pa);
  }
  vcpu.tdcx = [];
  if (vcpu.tdvpr !== undefined && vm.reclaimPage(host.lp, vcpu.tdvpr)) host.freePage(vcpu.tdvpr);
  vcpu.tdvpr = undefined;
  vcpu.tdxState = "uninitialized";
}

/** kvm_destroy_vm for a TD (its guest_memfds are already closed). */
export function destroyTd(vm: KvmVm): void {
  releaseHkid(vm);
  for (const v of vm.vcpus) {
    freeVcpu(v);
    v.releaseKernelPages();
  }
  vm.sept.freeTables(vm.host.lp);
  reclaimControlPages(vm);
  vm.td.state = "uninitialized";
}
