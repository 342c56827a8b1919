// The spec coverage matrix: which spec items (and which status of which leaf) the
// vectors check, and what no vector covers yet.
import type { Spec } from "../impl/spec/mod.ts";
import type { Vector } from "./vector_types.ts";

export interface CoverageRow {
  kind: string;
  total: number;
  covered: number;
  uncovered: string[];
  /** Listed for information (no vector can cover them), not a coverage gap. */
  informational?: boolean;
}

export function coverage(spec: Spec, vectors: Vector[]): CoverageRow[] {
  const has = new Set<string>();
  const pairs = new Set<string>();
  for (const v of vectors) {
    for (const c of v.covers) has.add(`${c.kind}:${c.scope ? `${c.scope}:` : ""}${c.name}`);
    const leaves = v.covers.filter((c) => c.kind === "seamcall" || c.kind === "tdcall");
    for (const s of v.covers.filter((c) => c.kind === "status")) {
      // A status names the leaf that answered it; older vectors pair it with every leaf.
      if (s.leaf) pairs.add(`${s.leaf}|${s.name}`);
      else for (const l of leaves) pairs.add(`${l.name}|${s.name}`);
    }
  }
  const rows: CoverageRow[] = [];
  const add = (kind: string, names: string[], key: (n: string) => string) => {
    const uncovered = names.filter((n) => !has.has(key(n))).sort();
    rows.push({ kind, total: names.length, covered: names.length - uncovered.length, uncovered });
  };
  add("seamcall", [...spec.seamcalls.keys()], (n) => `seamcall:${n}`);
  add("tdcall", [...spec.tdcalls.keys()], (n) => `tdcall:${n}`);
  add("tdvmcall", [...spec.tdvmcalls.keys()], (n) => `tdvmcall:${n}`);
  add("ioctl", [...spec.ioctls.keys()], (n) => `ioctl:${n}`);
  add("kvm_tdx_command", [...spec.kvmTdxCommands.keys()], (n) => `kvm_tdx_command:${n}`);
  add("struct", [...spec.structs.keys()], (n) => `struct:${n}`);
  add(
    "metadata",
    [...spec.metadata.values()].map((m) => `${m.scope}:${m.name}`),
    (n) => `metadata:${n}`,
  );
  add("guest_interface", [...spec.guestInterfaces.keys()], (n) => `guest_interface:${n}`);
  // Every status each leaf lists, as a (leaf, status) pair; leaves the reference does not
  // model (migration, service TDs) are counted apart, since only their refusal is checkable.
  // Statuses the spec marks unreachable in the baseline build (every listing of the status
  // for that leaf says so) are listed apart, with the spec's reason.
  const unreachable: string[] = [];
  for (const implemented of [true, false]) {
    const leafStatus: string[] = [];
    for (const leaf of [...spec.seamcalls.values(), ...spec.tdcalls.values()]) {
      if ((leaf.implemented !== false) !== implemented) continue;
      for (const s of new Set(leaf.statuses.map((x) => x.status))) {
        const uses = leaf.statuses.filter((x) => x.status === s);
        if (uses.every((x) => x.unreachable)) {
          if (implemented) unreachable.push(`${leaf.name}|${s}: ${uses[0].unreachable}`);
          continue;
        }
        leafStatus.push(`${leaf.name}|${s}`);
      }
    }
    const uncovered = leafStatus.filter((p) => !pairs.has(p)).sort();
    rows.push({
      kind: implemented ? "leaf status" : "leaf status (leaf not modelled)",
      total: leafStatus.length,
      covered: leafStatus.length - uncovered.length,
      uncovered,
    });
  }
  rows.push({
    kind: "leaf status unreachable in 1.5",
    total: unreachable.length,
    covered: 0,
    uncovered: unreachable.sort(),
    informational: true,
  });
  return rows;
}

export function renderCoverage(rows: CoverageRow[], listLimit = 40): string {
  const lines = ["spec coverage by vectors:", ""];
  const w = Math.max(...rows.map((r) => r.kind.length));
  for (const r of rows) {
    if (r.informational) {
      lines.push(`  ${r.kind.padEnd(w)}  ${String(r.total).padStart(5)}   (listed apart, below)`);
      continue;
    }
    const pct = r.total ? ((100 * r.covered) / r.total).toFixed(1) : "100.0";
    lines.push(
      `  ${r.kind.padEnd(w)}  ${String(r.covered).padStart(5)} / ${String(r.total).padEnd(5)} ${
        pct.padStart(6)
      }%`,
    );
  }
  for (const r of rows.filter((r) => r.uncovered.length)) {
    lines.push(
      "",
      r.informational
        ? `${r.kind}, as the spec says why (${r.uncovered.length})`
        : `not covered: ${r.kind} (${r.uncovered.length})`,
    );
    for (const u of r.uncovered.slice(0, listLimit)) lines.push(`  ${u}`);
    if (r.uncovered.length > listLimit) {
      lines.push(`  ... and ${r.uncovered.length - listLimit} more`);
    }
  }
  return lines.join("\n");
}
