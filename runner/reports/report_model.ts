// The report document shared by every report format.
import type { RunSummary, VectorResult } from "../run.ts";

export const REPORT_SCHEMA_ID = "https://tdx-conformance.dev/schema/report/v1";

export interface Report {
  $schema: typeof REPORT_SCHEMA_ID;
  suite: { name: string; version: string; spec_hash: string; vector_count: number };
  implementation: {
    name: string;
    version: string;
    language?: string;
    command?: string;
    capabilities?: unknown;
  };
  run: {
    started: string;
    finished: string;
    host: { os: string; arch: string; deno: string; hostname?: string };
    options: Record<string, unknown>;
    protocol_violations?: string[];
    adapter_restarts?: number;
  };
  summary: RunSummary;
  results: VectorResult[];
}
