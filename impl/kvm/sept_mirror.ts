// KVM's mirror of a TD's Secure EPT (the TDP MMU's mirror root): which S-EPT pages it
// added and which private GPAs it mapped, and the SEAMCALLs that change them -
// TDH.MEM.SEPT.ADD for missing levels, TDH.MEM.PAGE.ADD (before finalisation) or
// TDH.MEM.PAGE.AUG (after) for a 4 KiB page, and BLOCK / TRACK / REMOVE / WBINVD to
// unmap one. Every private mapping is 4 KiB.
import { encodeBits } from "../spec/bits.ts";
import { fail, type Failure } from "./errno.ts";
import type { SeamcallResult } from "./seamcall.ts";
import type { KvmVm } from "./vm.ts";

export type MapOutcome = "fixed" | "spurious" | Failure;

interface SeptPage {
  level: number;
  gpa: bigint;
  hpa: bigint;
}

/** Bytes one S-EPT entry at `level` maps (level 0: a 4 KiB page). */
export function levelSpan(level: number): bigint {
  return 4096n << BigInt(9 * level);
}

export class SeptMirror {
  /** Non-leaf entries KVM made present, keyed by `${level}:${gpa}`. */
  readonly tables = new Map<string, SeptPage>();
  /** Private 4 KiB mappings: GPA to host page. */
  readonly leaves = new Map<bigint, bigint>();

  constructor(private readonly vm: KvmVm) {}

  private gpaAndLevel(gpa: bigint, level: number): bigint {
    return encodeBits(this.vm.spec.bitfield("GPA_AND_LEVEL").fields, {
      level: BigInt(level),
      gpa: gpa >> 12n,
    });
  }

  private busy(r: SeamcallResult): boolean {
    return this.vm.host.seam.is(r.status, "TDX_OPERAND_BUSY");
  }

  /**
   * Maps a private page (kvm_tdp_mmu_map on the mirror root). A SEAMCALL that finds a
   * resource busy leaves the mirror entry unchanged and the fault is retried
   * (RET_PF_RETRY) until it succeeds, a signal arrives (EINTR) or the VM is dead (EIO).
   */
  mapPrivate(lp: number, gpa: bigint, hpa: bigint, source?: bigint): MapOutcome {
    const host = this.vm.host;
    for (let attempt = 0;; attempt++) {
      if (host.signals.pending) return fail("EINTR");
      if (this.vm.dead) return fail("EIO");
      // Model bound on a contention that never clears: stands for the VMM's signal.
      if (attempt >= host.busyRetryLimit) return fail("EINTR");
      const r = this.tryMap(lp, gpa, hpa, source);
      if (r !== "retry") return r;
    }
  }

  private tryMap(lp: number, gpa: bigint, hpa: bigint, source?: bigint): MapOutcome | "retry" {
    const { host, td } = this.vm;
    for (let level = td.eptLevels - 1; level >= 1; level--) {
      const base = gpa & ~(levelSpan(level) - 1n);
      const key = `${level}:${base}`;
      if (this.tables.has(key)) continue;
      const page = host.allocPage();
      if (page === undefined) return fail("ENOMEM");
      const r = host.seam.call(lp, "TDH.MEM.SEPT.ADD", {
        gpa_and_level: this.gpaAndLevel(base, level),
        tdr_and_flags: td.tdr!,
        sept_page_pa: page,
      });
      if (r.status !== 0n) {
        host.freePage(page);
        if (!this.busy(r)) this.vm.bug("TDH.MEM.SEPT.ADD", r.status);
        return "retry";
      }
      this.tables.set(key, { level, gpa: base, hpa: page });
    }
    if (this.leaves.has(gpa)) return "spurious";
    const adding = td.state !== "runnable";
    if (adding && (td.preFaultAllowed || source === undefined)) {
      this.vm.bug("TDH.MEM.PAGE.ADD without a source page", 0n);
      return "retry";
    }
    const r = adding
      ? host.seam.call(lp, "TDH.MEM.PAGE.ADD", {
        gpa_and_level: this.gpaAndLevel(gpa, 0),
        tdr_pa: td.tdr!,
        target_page_pa: hpa,
        source_page_pa: source!,
      })
      : host.seam.call(lp, "TDH.MEM.PAGE.AUG", {
        gpa_and_level: this.gpaAndLevel(gpa, 0),
        tdr_pa: td.tdr!,
        target_page_pa: hpa,
      });
    if (r.status !== 0n) {
      if (!this.busy(r)) this.vm.bug(r.name, r.status);
      return "retry";
    }
    this.leaves.set(gpa, hpa);
    return "fixed";
  }

  /** A removal SEAMCALL, reissued once after kicking the vCPUs if it found a busy lock. */
  private noVcpus(lp: number, name: string, inputs: Record<string, bigint>): SeamcallResult {
    const r = this.vm.host.seam.call(lp, name, inputs);
    return this.busy(r) ? this.vm.host.seam.call(lp, name, inputs) : r;
  }

  /** Unmaps the private pages in [start, end) GFNs, in GPA order. */
  zapRange(lp: number, startGfn: bigint, endGfn: bigint): Failure | undefined {
    let first: Failure | undefined;
    const gpas = [...this.leaves.keys()]
      .filter((g) => g >> 12n >= startGfn && g >> 12n < endGfn)
      .sort((a, b) => (a < b ? -1 : 1));
    for (const gpa of gpas) first ??= this.zapLeaf(lp, gpa);
    return first;
  }

  /** tdx_sept_remove_leaf_spte: block, track, remove, write back the page's cache lines. */
  zapLeaf(lp: number, gpa: bigint): Failure | undefined {
    const { host, td } = this.vm;
    const hpa = this.leaves.get(gpa);
    if (hpa === undefined) return undefined;
    if (td.hkid === undefined) {
      this.vm.bug("private page zapped without an HKID", 0n);
      return fail("EIO");
    }
    const gl = this.gpaAndLevel(gpa, 0);
    const block = this.noVcpus(lp, "TDH.MEM.RANGE.BLOCK", { gpa_and_level: gl, tdr_pa: td.tdr! });
    if (block.status !== 0n) return this.vm.bug(block.name, block.status);
    this.vm.track(lp);
    const remove = this.noVcpus(lp, "TDH.MEM.PAGE.REMOVE", { gpa_and_level: gl, tdr_pa: td.tdr! });
    if (remove.status !== 0n) return this.vm.bug(remove.name, remove.status);
    this.leaves.delete(gpa);
    const wb = host.seam.call(lp, "TDH.PHYMEM.PAGE.WBINVD", {
      page_pa_with_hkid: host.cpu.memory.withKeyId(hpa, td.hkid),
    });
    if (wb.status !== 0n) return this.vm.bug(wb.name, wb.status);
    return undefined;
  }

  /**
   * Frees the S-EPT pages once the HKID is released: each is reclaimed from the module
   * (TDH.PHYMEM.PAGE.RECLAIM), lowest level first; a page the module keeps is leaked.
   */
  freeTables(lp: number): void {
    const host = this.vm.host;
    const pages = [...this.tables.values()].sort((a, b) =>
      a.level - b.level || (a.gpa < b.gpa ? -1 : a.gpa > b.gpa ? 1 : 0)
    );
    for (const p of pages) {
      if (this.vm.td.hkid === undefined && this.vm.reclaimPage(lp, p.hpa)) host.freePage(p.hpa);
    }
    this.tables.clear();
  }
}
