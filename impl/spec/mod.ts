// Entry point of the spec layer: load, check and index the spec.
import { loadSpec } from "./loader.ts";
import { lintItems } from "./lint.ts";
import { Spec } from "./model.ts";
import { specHash } from "./spec_hash.ts";
import type { Diagnostic } from "./types.ts";

export { Spec, SpecLookupError } from "./model.ts";
export type * from "./types.ts";

export interface CheckedSpec {
  spec: Spec;
  diagnostics: Diagnostic[];
  hash: string;
}

export function checkSpec(root?: string): CheckedSpec {
  const loaded = loadSpec(root);
  const diagnostics = [...loaded.diagnostics, ...lintItems(loaded.items)];
  diagnostics.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  return { spec: new Spec(loaded.items), diagnostics, hash: specHash(loaded.files) };
}

export function formatDiagnostic(d: Diagnostic): string {
  return `spec/${d.file}:${d.line}:${d.col} ${d.pointer || "/"}: ${d.message}`;
}

let shared: CheckedSpec | undefined;

/**
 * The repository's spec, loaded once. The reference implementation runs only on a
 * spec that passes the linter, so a bad spec stops it here with the diagnostics.
 */
export function theSpec(): Spec {
  if (!shared) shared = checkSpec();
  if (shared.diagnostics.length) {
    throw new Error(
      `spec/ has ${shared.diagnostics.length} problem(s); run deno task spec:\n` +
        shared.diagnostics.slice(0, 10).map(formatDiagnostic).join("\n"),
    );
  }
  return shared.spec;
}

export function theSpecHash(): string {
  theSpec();
  return shared!.hash;
}
