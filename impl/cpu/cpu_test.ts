import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { Cpu, DEFAULT_PLATFORM, type SeamModule } from "./cpu.ts";
import { registers, RFLAGS } from "./registers.ts";

const spec = theSpec();

function echoModule(): SeamModule & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    seamcall(lp, regs) {
      calls.push(`seamcall:${lp.mode}`);
      regs.RAX = 0x1234n;
    },
    tdcall(lp, regs) {
      calls.push(`tdcall:${lp.mode}`);
      regs.RAX = 0n;
    },
  };
}

Deno.test("SEAMCALL with no module loaded fails VMfailInvalid and sets CF", () => {
  const cpu = new Cpu(spec);
  const regs = registers({ RAX: 9 });
  assert.deepEqual(cpu.seamcall(0, regs), { kind: "VMfailInvalid" });
  assert.equal(cpu.lps[0].rflags & RFLAGS.CF, RFLAGS.CF);
  assert.equal(regs.RAX, 9n);
});

Deno.test("SEAMCALL enters SEAM root from VMX root and returns", () => {
  const cpu = new Cpu(spec);
  const m = echoModule();
  cpu.loadModule(m);
  const regs = registers();
  assert.deepEqual(cpu.seamcall(1, regs), { kind: "completed" });
  assert.deepEqual(m.calls, ["seamcall:seam-root"]);
  assert.equal(regs.RAX, 0x1234n);
  assert.equal(cpu.lps[1].mode, "vmx-root");
  assert.equal(cpu.lps[1].rflags & RFLAGS.CF, 0n);
});

Deno.test("SEAMCALL is #UD outside VMX root and #GP(0) at CPL 3", () => {
  const cpu = new Cpu(spec);
  cpu.loadModule(echoModule());
  cpu.lps[0].mode = "legacy";
  assert.deepEqual(cpu.seamcall(0, registers()), { kind: "#UD" });
  cpu.lps[0].mode = "seam-non-root";
  assert.deepEqual(cpu.seamcall(0, registers()), { kind: "#UD" });
  cpu.lps[0].mode = "vmx-root";
  cpu.lps[0].cpl = 3;
  assert.deepEqual(cpu.seamcall(0, registers()), { kind: "#GP", errorCode: 0 });
});

Deno.test("TDCALL is #UD outside a TD, #GP(0) at CPL 3, and enters the module from a TD", () => {
  const cpu = new Cpu(spec);
  const m = echoModule();
  cpu.loadModule(m);
  assert.deepEqual(cpu.tdcall(0, registers()), { kind: "#UD" });
  cpu.lps[0].mode = "seam-non-root";
  cpu.lps[0].cpl = 3;
  assert.deepEqual(cpu.tdcall(0, registers()), { kind: "#GP", errorCode: 0 });
  cpu.lps[0].cpl = 0;
  assert.deepEqual(cpu.tdcall(0, registers()), { kind: "completed" });
  assert.deepEqual(m.calls, ["tdcall:seam-root"]);
  assert.equal(cpu.lps[0].mode, "seam-non-root");
});

Deno.test("private KeyIDs come from the partitioning MSR", () => {
  const cpu = new Cpu(spec);
  const { sharedKeyIds, privateKeyIds } = DEFAULT_PLATFORM;
  assert.equal(cpu.isPrivateKeyId(0), false);
  assert.equal(cpu.isPrivateKeyId(sharedKeyIds), false);
  assert.equal(cpu.isPrivateKeyId(sharedKeyIds + 1), true);
  assert.equal(cpu.isPrivateKeyId(sharedKeyIds + privateKeyIds), true);
  assert.equal(cpu.isPrivateKeyId(sharedKeyIds + privateKeyIds + 1), false);
  cpu.msrs.writeFields("IA32_MKTME_KEYID_PARTITIONING", {
    NUM_MKTME_KIDS: 5n,
    NUM_TDX_PRIV_KIDS: 2n,
  });
  assert.equal(cpu.isPrivateKeyId(6), true);
  assert.equal(cpu.isPrivateKeyId(8), false);
});

Deno.test("TD-private memory read with another KeyID yields no TD data", () => {
  const cpu = new Cpu(spec);
  const mem = cpu.memory;
  const priv = DEFAULT_PLATFORM.sharedKeyIds + 3;
  const pa = 0x10_0000n;
  const secret = new TextEncoder().encode("TD secret spanning lines ".repeat(8));
  mem.write(mem.withKeyId(pa, priv), secret);
  assert.deepEqual(mem.read(mem.withKeyId(pa, priv), secret.length), secret);
  for (const other of [0, 1, priv + 1]) {
    const seen = mem.read(mem.withKeyId(pa, other), secret.length);
    assert.ok(seen.every((b) => b === 0), `KeyID ${other} saw TD data`);
  }
  assert.ok(mem.integrityEvents.length >= 3);
  // Shared KeyIDs see each other's plain data (no integrity across host keys in this model).
  mem.write(mem.withKeyId(0x20_0000n, 0), new Uint8Array([1, 2, 3]));
  assert.deepEqual(mem.read(mem.withKeyId(0x20_0000n, 1), 3), new Uint8Array([1, 2, 3]));
  // Rewriting a line with a new key destroys what the old key held.
  mem.write(mem.withKeyId(pa, 0), new Uint8Array([7]));
  assert.equal(mem.read(mem.withKeyId(pa + 1n, priv), 1)[0], 0);
  assert.equal(mem.touchedPages, 2);
});

Deno.test("memory is sparse and accesses cross page boundaries", () => {
  const cpu = new Cpu(spec);
  const mem = cpu.memory;
  const data = new Uint8Array(6000).map((_, i) => i & 0xff);
  mem.write(0xFFF_F800n, data);
  assert.deepEqual(mem.read(0xFFF_F800n, 6000), data);
  assert.equal(mem.touchedPages, 2);
  assert.deepEqual(mem.read(0x7000_0000n, 4), new Uint8Array(4));
  assert.equal(mem.touchedPages, 2);
});
