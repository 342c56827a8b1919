// Test support: asserting a completion by status name and operand id or detail.
import { strict as assert } from "node:assert";
import type { CallResult } from "./fixture.ts";

export interface Expected {
  name: string;
  /** OPERAND_ID name the detail must encode. */
  operand?: string;
  /** Raw detail (bits 31:0), for details that are not operand ids (MSR index, TDMR index ...). */
  detail?: bigint;
}

export function expectStatus(r: CallResult, want: Expected, label = ""): void {
  const where = label ? `${label}: ` : "";
  assert.equal(r.name, want.name, `${where}status ${r.name} (0x${r.status.toString(16)})`);
  if (want.operand !== undefined) assert.equal(r.operand, want.operand, `${where}operand`);
  if (want.detail !== undefined) {
    assert.equal(r.detail, want.detail, `${where}detail 0x${r.detail.toString(16)}`);
  }
  if (want.operand === undefined && want.detail === undefined && r.name !== "TDX_SUCCESS") {
    // A status without an operand carries detail 0.
    assert.equal(r.detail, 0n, `${where}unexpected detail 0x${r.detail.toString(16)}`);
  }
}
