// What the benchmarks share: SEAMCALLs issued the way a host kernel issues them (a
// register file built from the spec's register names, the CPU's SEAMCALL instruction on
// LP 0, RAX checked against TDX_SUCCESS), a guest that runs jobs of TDCALLs inside a TD
// vCPU entered with TDH.VP.ENTER, and figures formatted for the console.
import type { Spec } from "../../impl/spec/mod.ts";
import { encodeBits } from "../../impl/spec/bits.ts";
import { leafRegisters, tdcallByName } from "../../impl/cpu/leaf_call.ts";
import type { GuestPort } from "../../impl/cpu/guest_execution.ts";
import type { Platform } from "../../impl/module/testing/fixture.ts";
import { alignDown, entryAt, septGeometry } from "../../impl/module/sept.ts";
import type { TdState } from "../../impl/module/state.ts";
import process from "node:process";

type Inputs = Record<string, bigint | number>;

/** A SEAMCALL leaf ready to be called by register name; returns RAX. */
export function seamcaller(p: Platform, name: string): (inputs: Inputs) => bigint {
  const leaf = p.spec.seamcall(name);
  return (inputs) => {
    const regs = leafRegisters(p.spec, leaf, inputs);
    const outcome = p.cpu.seamcall(0, regs);
    if (outcome.kind !== "completed") throw new Error(`SEAMCALL ${name}: ${outcome.kind}`);
    return regs.RAX;
  };
}

/** The same, throwing unless the leaf answers TDX_SUCCESS. */
export function seamcallerOk(p: Platform, name: string): (inputs: Inputs) => void {
  const call = seamcaller(p, name);
  const ok = p.spec.statusValue("TDX_SUCCESS");
  return (inputs) => {
    const status = call(inputs);
    if (status !== ok) {
      const d = p.describe(status);
      throw new Error(`${name}: ${d.name} (detail 0x${d.detail.toString(16)})`);
    }
  };
}

/** GPA_AND_LEVEL of a GPA (aligned to the level) at a Secure EPT level. */
export function gpaAndLevel(spec: Spec, gpa: bigint, level: number): bigint {
  return encodeBits(spec.bitfield("GPA_AND_LEVEL").fields, {
    gpa: alignDown(gpa, level) >> 12n,
    level: BigInt(level),
  });
}

/**
 * TDH.MEM.SEPT.ADD of every Secure EPT page missing above level 0 for the 4 KiB pages
 * at `gpas` (sorted or not); returns how many pages were added.
 */
export function addSeptTables(p: Platform, tdr: bigint, gpas: Iterable<bigint>): number {
  const td = p.module.state.tds.get(tdr)!;
  const septAdd = seamcallerOk(p, "TDH.MEM.SEPT.ADD");
  const top = septGeometry(p.spec, td).maxLevel;
  let added = 0;
  for (const gpa of gpas) {
    for (let l = top; l > 0; l--) {
      if (entryAt(td, l, gpa).state !== "FREE") continue;
      septAdd({
        gpa_and_level: gpaAndLevel(p.spec, gpa, l),
        tdr_and_flags: tdr,
        sept_page_pa: p.allocPage(),
      });
      added++;
    }
  }
  return added;
}

/** The TD's state in the module. */
export function tdOf(p: Platform, tdr: bigint): TdState {
  return p.module.state.tds.get(tdr)!;
}

/**
 * A TD vCPU whose guest runs jobs: `run(job)` queues the job and enters the vCPU with
 * TDH.VP.ENTER; the guest runs it, then exits to the host with TDG.VP.VMCALL (a TD
 * exit), which ends the TDH.VP.ENTER. One guest program serves every job.
 */
export class GuestRunner {
  private readonly jobs: ((port: GuestPort) => void)[] = [];
  private readonly enter: (inputs: Inputs) => bigint;
  private readonly handle: bigint;
  /** An error the last job threw inside the guest, rethrown on the host side. */
  private readonly failed: { error?: unknown } = {};

  constructor(private readonly p: Platform, tdr: bigint, tdvpr: bigint) {
    const spec = p.spec;
    this.enter = seamcaller(p, "TDH.VP.ENTER");
    const fields = spec.seamcall("TDH.VP.ENTER").inputs
      .find((r) => r.name === "vcpu_handle_and_flags")!.fields!;
    this.handle = encodeBits(fields, { tdvpr_pa: tdvpr >> 12n });
    const jobs = this.jobs;
    const failed = this.failed;
    p.cpu.attachGuestProgram(tdr, function* (port) {
      for (;;) {
        const job = jobs.shift();
        try {
          job?.(port);
        } catch (e) {
          failed.error = e;
        }
        tdcallByName(spec, port, "TDG.VP.VMCALL", { control: 0n });
        yield;
      }
    });
  }

  run(job: (port: GuestPort) => void): void {
    this.jobs.push(job);
    const status = this.enter({ vcpu_handle_and_flags: this.handle });
    const d = this.p.describe(status);
    if (this.failed.error !== undefined) {
      const e = this.failed.error;
      this.failed.error = undefined;
      throw e;
    }
    const tdcall = this.p.spec.enumValue("VMX_EXIT_REASON", "TDCALL");
    if (d.name !== "TDX_SUCCESS" || d.detail !== tdcall) {
      throw new Error(`TDH.VP.ENTER ended with ${d.name} (detail 0x${d.detail.toString(16)})`);
    }
  }
}

/** A TDCALL from the guest, throwing unless it answers TDX_SUCCESS. */
export function guestCallOk(spec: Spec, port: GuestPort, name: string, inputs: Inputs): void {
  const r = tdcallByName(spec, port, name, inputs);
  if (r.status !== spec.statusValue("TDX_SUCCESS")) {
    throw new Error(`${name} answered 0x${r.status.toString(16)}`);
  }
}

// ------------------------------------------------------------------ figures

export const MiB = 1 << 20;

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

export function rate(n: number, ms: number, unit: string): string {
  const perSecond = n / (ms / 1000);
  return `${Math.round(perSecond).toLocaleString("en-US")} ${unit}/s`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

export interface Timing {
  /** Wall-clock milliseconds. */
  wall: number;
  /** Milliseconds of CPU time the whole process used meanwhile (user + system, all threads). */
  cpu: number;
}

/**
 * Runs `f` and says how long it took, by the clock and in CPU time. On a machine shared
 * with other work the clock also counts the time other processes had the CPU; the CPU
 * time does not.
 */
export function timed(f: () => void): Timing {
  const c = process.cpuUsage();
  const t = performance.now();
  f();
  const wall = performance.now() - t;
  const used = process.cpuUsage(c);
  return { wall, cpu: (used.user + used.system) / 1000 };
}

/** A row: label, wall time, CPU time, and the rate of `n` `unit`s by each. */
export function timingRow(label: string, t: Timing, n?: number, unit = "pages"): string[] {
  return [
    label,
    seconds(t.wall),
    seconds(t.cpu),
    n === undefined ? "" : rate(n, t.wall, unit),
    n === undefined ? "" : rate(n, t.cpu, unit),
  ];
}

export const TIMING_HEADER = ["", "wall", "CPU", "rate (wall)", "rate (CPU)"];

export function sum(...ts: Timing[]): Timing {
  return { wall: ts.reduce((a, t) => a + t.wall, 0), cpu: ts.reduce((a, t) => a + t.cpu, 0) };
}

/** Prints rows of [label, value, value...] aligned in columns; a one-cell row is a note. */
export function printTable(title: string, rows: string[][]): void {
  const table = rows.filter((r) => r.length > 1);
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length)));
  console.log(`\n${title}`);
  for (const r of rows) {
    if (r.length === 1) {
      console.log(`  ${r[0]}`);
      continue;
    }
    console.log(
      "  " + r.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  "),
    );
  }
}
