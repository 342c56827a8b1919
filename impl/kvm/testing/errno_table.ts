// Test support: one row per errno an ioctl item or KVM_TDX command lists, each with the
// set-up that provokes it; a table must cover every errno its spec item names.
import { strict as assert } from "node:assert";
import type { Spec } from "../../spec/mod.ts";

export interface ErrnoRow {
  errno: string;
  /** What the row provokes (the test's name for it). */
  why: string;
  /** Runs the ioctl; returns its result. */
  run(): { errno: number; errnoName?: string };
}

export function runErrnoTable(
  spec: Spec,
  item: { kind: "ioctl" | "kvm_tdx_command"; name: string },
  rows: ErrnoRow[],
): void {
  const listed = (item.kind === "ioctl" ? spec.ioctl(item.name) : spec.kvmTdxCommand(item.name))
    .errors.map((e) => e.errno);
  for (const row of rows) {
    const r = row.run();
    assert.equal(r.errnoName, row.errno, `${item.name}: ${row.why}`);
  }
  const covered = new Set(rows.map((r) => r.errno));
  for (const e of listed) assert.ok(covered.has(e), `${item.name}: no row provokes ${e}`);
  for (const e of covered) {
    assert.ok(listed.includes(e), `${item.name}: ${e} is not in the spec's list`);
  }
}
