import { strict as assert } from "node:assert";
import { Platform } from "./testing/fixture.ts";
import { registers } from "../cpu/registers.ts";

/** A SEAMCALL with RAX as is; the status name, with the operand for TDX_OPERAND_INVALID. */
function raw(p: Platform, rax: bigint): string {
  const regs = registers({ RAX: rax });
  assert.equal(p.cpu.seamcall(0, regs).kind, "completed");
  const d = p.describe(regs.RAX);
  return d.name === "TDX_OPERAND_INVALID" ? `${d.name}(${d.operand})` : String(d.name);
}

const UNKNOWN = 0x3FFn;
const MNG_RD = BigInt(new Platform().spec.seamcall("TDH.MNG.RD").leaf);
const MNG_CREATE = BigInt(new Platform().spec.seamcall("TDH.MNG.CREATE").leaf);
const version = (v: number) => BigInt(v) << 16n;

Deno.test("an unknown leaf number meets the module-state gates before it is found missing", () => {
  const p = new Platform();
  assert.equal(raw(p, UNKNOWN), "TDX_SYS_NOT_READY");
  p.readyPlatform();
  assert.equal(raw(p, UNKNOWN), "TDX_OPERAND_INVALID(RAX)");
  assert.equal(p.seamcall("TDH.SYS.SHUTDOWN").name, "TDX_SUCCESS");
  assert.equal(raw(p, UNKNOWN), "TDX_SYS_SHUTDOWN");
});

Deno.test("a version above 0 of a single-version or unknown leaf is refused before the gates", () => {
  const p = new Platform();
  assert.equal(raw(p, MNG_CREATE | version(1)), "TDX_OPERAND_INVALID(RAX)");
  assert.equal(raw(p, UNKNOWN | version(1)), "TDX_OPERAND_INVALID(RAX)");
});

Deno.test("a multi-version leaf checks the version after the module-state gates", () => {
  const p = new Platform();
  assert.equal(raw(p, MNG_RD | version(2)), "TDX_SYS_NOT_READY");
  p.readyPlatform();
  assert.equal(raw(p, MNG_RD | version(2)), "TDX_OPERAND_INVALID(RAX)");
  assert.equal(p.seamcall("TDH.SYS.SHUTDOWN").name, "TDX_SUCCESS");
  assert.equal(raw(p, MNG_RD | version(2)), "TDX_SYS_SHUTDOWN");
});

Deno.test("reserved RAX bits are refused before everything", () => {
  const p = new Platform();
  assert.equal(raw(p, MNG_RD | (1n << 24n)), "TDX_OPERAND_INVALID(RAX)");
  assert.equal(raw(p, UNKNOWN | (1n << 63n)), "TDX_OPERAND_INVALID(RAX)");
});
