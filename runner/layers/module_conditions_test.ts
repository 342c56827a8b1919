import { strict as assert } from "node:assert";
import { Platform } from "../../impl/module/testing/fixture.ts";
import { MemoryTd } from "../../impl/module/testing/memory_fixture.ts";
import { toHex } from "../../impl/spec/hex.ts";
import { ModuleSession } from "./module_layer.ts";
import { platformFacts } from "./module_conditions.ts";
import { finalizeTd } from "../../impl/module/testing/td_fixture.ts";
import {
  addStreams,
  importTd,
  migratableAttributes,
  startExport,
} from "../../impl/module/migration/migration_fixture.ts";

const INIT = { leaf: "TDH.SYS.INIT", version: 0, regs: {} };

function statusOf(r: Record<string, unknown>): string | undefined {
  return (r.status as { name?: string } | undefined)?.name;
}

Deno.test("platform.configure: facts become the platform's, only as the first step", () => {
  const s = new ModuleSession();
  const r = s.step("platform.configure", {
    smrr: { base: "0x7C000000", size: "0x800000", valid: true, locked: false },
  });
  assert.deepEqual(r, {});
  assert.equal(s.platform.cpu.platform.smrr.locked, false);
  assert.equal(statusOf(s.step("seamcall", INIT)), "TDX_SMRR_NOT_LOCKED");
  const late = s.step("platform.configure", {});
  assert.equal((late.error as { field: string }).field, "op");
});

Deno.test("platform.configure: bad input names the field", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ cmr: [] }, "cmr"],
    [{ cmrs: [{ base: "0x0" }] }, "cmrs.0.size"],
    [{ cmrs: [{ base: "12ab", size: "0x1000" }] }, "cmrs.0.base"],
    [{ lp_packages: [0, 1] }, "lp_packages"],
    [{ smrr: { base: "0x0", size: "0x1000", lock: true } }, "smrr.lock"],
  ];
  for (const [input, field] of cases) {
    const r = platformFacts(input);
    assert.ok("error" in r, JSON.stringify(input));
    assert.equal(r.error.field, field, JSON.stringify(input));
  }
  const s = new ModuleSession();
  const r = s.step("platform.configure", { module: { sigstruct: { module_hv: "x" } } });
  assert.equal((r.error as { field: string }).field, "module_hv");
});

Deno.test("platform.configure: module facts reach the module's build profile", () => {
  const s = new ModuleSession();
  s.step("platform.configure", { module: { md_list_bytes: "0x200", cpuid_config_filler: false } });
  const prof = s.platform.module.state.profile;
  assert.equal(prof.mdListBytes, 0x200);
  assert.equal(prof.cpuidConfigFiller, false);
});

Deno.test("cpu.set: an MSR by bit fields on one LP, leaving the others", () => {
  const s = new ModuleSession();
  const r = s.step("cpu.set", {
    lp: 1,
    msr: "IA32_MISC_ENABLE",
    fields: { LIMIT_CPUID_MAXVAL: 1 },
  });
  assert.deepEqual(r, {});
  const cpu = s.platform.cpu;
  const on = (lp: number) =>
    cpu.msrs.decode("IA32_MISC_ENABLE", cpu.rdmsrNamed(lp, "IA32_MISC_ENABLE")!).LIMIT_CPUID_MAXVAL;
  assert.equal(on(1), 1n);
  assert.equal(on(0), 0n);
  // Basic CPUID leaves are capped on that LP only.
  assert.equal(cpu.cpuidOn(1, 0).eax, 2);
  assert.ok(cpu.cpuidOn(0, 0).eax > 2);
});

Deno.test("cpu.set: bad input names the field", () => {
  const s = new ModuleSession();
  const cases: [Record<string, unknown>, string][] = [
    [{ msr: "IA32_NOPE", value: "0x1" }, "msr"],
    [{ msr: "IA32_MISC_ENABLE", fields: { NOPE: "0x1" } }, "fields.NOPE"],
    [{ msr: "IA32_MISC_ENABLE" }, "value"],
    [{ rng: "no-entropy", host_interrupt: true }, ""],
    [{ rng: "none" }, "rng"],
    [{ lp: 9, rng: "entropy" }, "lp"],
    [{ pconfig_busy: 5 }, "pconfig_busy"],
    [{ cpuid: { leaf: "0x1", esi: "0x0" } }, "cpuid.esi"],
  ];
  for (const [input, field] of cases) {
    const r = s.step("cpu.set", input);
    assert.equal((r.error as { field: string } | undefined)?.field, field, JSON.stringify(input));
  }
});

Deno.test("cpu.set: no entropy fails TDH.SYS.INIT, entropy again lets it succeed", () => {
  const s = new ModuleSession();
  s.step("cpu.set", { rng: "no-entropy" });
  assert.equal(statusOf(s.step("seamcall", INIT)), "TDX_RND_NO_ENTROPY");
  s.step("cpu.set", { rng: "entropy" });
  assert.equal(statusOf(s.step("seamcall", INIT)), "TDX_SUCCESS");
});

Deno.test("cpu.set: CPUID patched on every LP", () => {
  const s = new ModuleSession();
  s.step("cpu.set", { cpuid: { leaf: "0x0", subleaf: "*", eax: "0x1E" } });
  assert.equal(s.platform.cpu.cpuidOn(3, 0).eax, 0x1E);
  assert.equal(statusOf(s.step("seamcall", INIT)), "TDX_CPUID_LEAF_NOT_SUPPORTED");
});

Deno.test("module.hold: a held resource makes the leaf busy; a conflicting hold is refused", () => {
  const p = new Platform();
  const m = new MemoryTd(p);
  const s = new ModuleSession(p);
  const tdr = toHex(m.tdr);
  assert.deepEqual(s.step("module.hold", { resource: "page", pa: tdr, mode: "shared" }), {});
  const conflict = s.step("module.hold", { resource: "page", pa: tdr });
  assert.equal((conflict.error as { field: string }).field, "resource");
  // TDH.MNG.RD takes the TDR shared: a shared hold does not stop it.
  const rd = s.step("seamcall", {
    leaf: "TDH.MNG.RD",
    version: 0,
    regs: { RCX: tdr, RDX: toHex(BigInt(p.spec.metadataField("td", "ATTRIBUTES").field_id)) },
  });
  assert.equal(statusOf(rd), "TDX_SUCCESS");
  const bad = s.step("module.hold", { resource: "sept_entry", tdr });
  assert.equal((bad.error as { field: string }).field, "gpa");
  const kind = s.step("module.hold", { resource: "vmcs" });
  assert.equal((kind.error as { field: string }).field, "resource");
});

Deno.test("td.cpu_exit: an unknown exit reason or a vCPU that is not there", () => {
  const p = new Platform();
  const m = new MemoryTd(p, { stage: "initialized" });
  m.finalize();
  const s = new ModuleSession(p);
  const vcpu = toHex(m.vcpus[0]);
  const r = s.step("td.cpu_exit", { vcpu, exit_reason: "NOPE" });
  assert.equal((r.error as { field: string }).field, "exit_reason");
  // A reason the module resolves inside the TD is not an unrequested exit.
  const cpuid = s.step("td.cpu_exit", { vcpu, exit_reason: "CPUID_INSTRUCTION" });
  assert.equal((cpuid.error as { field: string }).field, "exit_reason");
  const none = s.step("td.cpu_exit", { vcpu: "0x1000", exit_reason: "TRIPLE_FAULT" });
  assert.ok(none.enter, "TDH.VP.ENTER of no vCPU fails before any guest runs");
  const tf = s.step("td.cpu_exit", { vcpu, exit_reason: "TRIPLE_FAULT" });
  assert.equal(tf.td_exit, "TRIPLE_FAULT");
  assert.equal(
    (tf.exit as { status: { name: string } }).status.name,
    "TDX_NON_RECOVERABLE_VCPU",
  );
});

Deno.test("seam.install: a new module after TDH.SYS.SHUTDOWN starts from TDH.SYS.INIT", () => {
  const p = new Platform();
  p.readyPlatform();
  const s = new ModuleSession(p);
  const shut = s.step("seamcall", { leaf: "TDH.SYS.SHUTDOWN", version: 0, regs: {} });
  assert.equal(statusOf(shut), "TDX_SUCCESS");
  assert.equal(statusOf(s.step("seamcall", INIT)), "TDX_SYS_SHUTDOWN");
  assert.deepEqual(s.step("seam.install", { module: { md_list_bytes: "0x400" } }), {});
  assert.equal(s.platform.module.state.profile.mdListBytes, 0x400);
  assert.equal(statusOf(s.step("seamcall", INIT)), "TDX_SUCCESS");
});

Deno.test("module.hold: a metadata element held by a concurrent writer", () => {
  const p = new Platform();
  const m = new MemoryTd(p);
  const s = new ModuleSession(p);
  const tdr = toHex(m.tdr);
  const field = toHex(BigInt(p.spec.metadataField("td", "HP_LOCK_TIMEOUT").field_id));
  assert.deepEqual(s.step("module.hold", { resource: "md_element", tdr, field_id: field }), {});
  const wr = s.step("seamcall", {
    leaf: "TDH.MNG.WR",
    version: 0,
    regs: { RCX: tdr, RDX: field, R8: "0x10", R9: "0xFFFFFFFFFFFFFFFF" },
  });
  assert.deepEqual(wr.status, { name: "TDX_OPERAND_BUSY", operand: "METADATA_FIELD" });
  const none = s.step("module.hold", {
    resource: "md_element",
    tdr,
    field_id: "0x7FFF0000FFFF0000",
  });
  assert.equal((none.error as { field: string }).field, "field_id");
});

Deno.test("cpu.set: a PCONFIG in flight on a package, then done", () => {
  const s = new ModuleSession();
  s.step("cpu.set", { pconfig_busy: 1 });
  assert.equal(s.platform.cpu.pconfigRandomKey(2, 40), "busy");
  assert.equal(s.platform.cpu.pconfigRandomKey(0, 40), "ok");
  s.step("cpu.set", { pconfig_idle: 1 });
  assert.equal(s.platform.cpu.pconfigRandomKey(2, 40), "ok");
});

Deno.test("platform.configure: CPUID and MSR facts are in place before anything runs", () => {
  const s = new ModuleSession();
  const r = s.step("platform.configure", {
    cpuid: [{ leaf: "0x0", eax: "0x1E" }],
    msrs: [{ msr: "IA32_MISC_ENABLE", fields: { LIMIT_CPUID_MAXVAL: "0x1" }, lp: 2 }],
  });
  assert.deepEqual(r, {});
  assert.equal(s.platform.cpu.cpuidOn(0, 0).eax, 0x1E);
  assert.equal(s.platform.cpu.cpuidOn(2, 0).eax, 2);
  const bad = new ModuleSession().step("platform.configure", {
    cpuid: [{ leaf: "0x0", esi: "0x1" }],
  });
  assert.equal((bad.error as { field: string }).field, "cpuid.0.esi");
  const badMsr = new ModuleSession().step("platform.configure", {
    msrs: [{ msr: "IA32_MISC_ENABLE", rng: "no-entropy" }],
  });
  assert.equal((badMsr.error as { field: string }).field, "msrs.0.rng");
});

Deno.test("cpu.set: SEAMOPS capabilities of one LP", () => {
  const s = new ModuleSession();
  s.step("cpu.set", { lp: 3, seam_capabilities: "0x1F" });
  assert.equal(s.platform.cpu.seamopsCapabilities(3), 0x1Fn);
  assert.equal(s.platform.cpu.seamopsCapabilities(0), 0x7Fn);
});

Deno.test("module.hold: a vCPU running on another LP keeps TDH.MEM.TRACK from moving on twice", () => {
  const p = new Platform();
  const m = new MemoryTd(p, { stage: "initialized" });
  m.finalize();
  const s = new ModuleSession(p);
  const track = { leaf: "TDH.MEM.TRACK", version: 0, regs: { RCX: toHex(m.tdr) } };
  assert.deepEqual(
    s.step("module.hold", { resource: "vcpu_running", vcpu: toHex(m.vcpus[0]) }),
    {},
  );
  assert.equal(statusOf(s.step("seamcall", track)), "TDX_SUCCESS");
  assert.equal(statusOf(s.step("seamcall", track)), "TDX_PREVIOUS_TLB_EPOCH_BUSY");
  const none = s.step("module.hold", { resource: "vcpu_running", vcpu: "0x1000" });
  assert.equal((none.error as { field: string }).field, "vcpu");
});

Deno.test("module.release: the held lock is free again; a running vCPU leaves its epoch", () => {
  const p = new Platform();
  const m = new MemoryTd(p, { stage: "initialized" });
  m.finalize();
  const s = new ModuleSession(p);
  const tdr = toHex(m.tdr);
  const track = { leaf: "TDH.MEM.TRACK", version: 0, regs: { RCX: tdr } };
  s.step("module.hold", { resource: "page", pa: tdr });
  assert.deepEqual(s.step("seamcall", track).status, { name: "TDX_OPERAND_BUSY", operand: "RCX" });
  assert.deepEqual(s.step("module.release", { resource: "page", pa: tdr }), {});
  assert.equal(statusOf(s.step("seamcall", track)), "TDX_SUCCESS");
  const vcpu = toHex(m.vcpus[0]);
  s.step("module.hold", { resource: "vcpu_running", vcpu, lp: 3 });
  assert.equal(s.platform.cpu.lps[3].mode, "seam-non-root");
  assert.equal(statusOf(s.step("seamcall", track)), "TDX_SUCCESS");
  assert.equal(statusOf(s.step("seamcall", track)), "TDX_PREVIOUS_TLB_EPOCH_BUSY");
  s.step("module.release", { resource: "vcpu_running", vcpu });
  assert.equal(s.platform.cpu.lps[3].mode, "vmx-root");
  assert.equal(statusOf(s.step("seamcall", track)), "TDX_SUCCESS");
  const again = s.step("module.release", { resource: "page", pa: tdr });
  assert.equal((again.error as { field: string }).field, "resource");
});

Deno.test("cpu.set: the SEAM database lost empties it; bad input names the field", () => {
  const s = new ModuleSession();
  assert.equal(s.platform.cpu.seamdb.size, 1);
  const wrong = s.step("cpu.set", { seamdb: "gone" });
  assert.equal((wrong.error as { field: string }).field, "seamdb");
  const perLp = s.step("cpu.set", { seamdb: "lost", lp: 1 });
  assert.equal((perLp.error as { field: string }).field, "lp");
  assert.equal(s.platform.cpu.seamdb.size, 1);
  assert.deepEqual(s.step("cpu.set", { seamdb: "lost" }), {});
  assert.equal(s.platform.cpu.seamdb.size, 0);
});

Deno.test("module.fast_forward: an export session at its last epoch; bad input names the field", () => {
  const p = new Platform();
  const td = p.createTd({ stage: "initialized", attributes: migratableAttributes(p.spec) });
  p.createVcpu(td);
  finalizeTd(p, td);
  const s = new ModuleSession(p);
  const tdr = toHex(td.tdr);
  const ff = (input: Record<string, unknown>) => s.step("module.fast_forward", input);
  const field = (r: Record<string, unknown>) => (r.error as { field: string } | undefined)?.field;
  // No export session yet.
  assert.equal(field(ff({ counter: "mig_epoch", tdr, to: "0x5" })), "to");
  addStreams(p, td.tdr);
  startExport(p, td.tdr, importTd(p).tdr);
  assert.equal(field(ff({ counter: "export_count", tdr, to: "0x5" })), "counter");
  assert.equal(field(ff({ counter: "mig_epoch", tdr: "0x1000", to: "0x5" })), "tdr");
  assert.equal(field(ff({ counter: "mig_epoch", tdr, to: "0xFFFFFFFF" })), "to");
  assert.equal(field(ff({ counter: "mig_epoch", tdr, to: "0x5", extra: 1 })), "extra");
  assert.deepEqual(ff({ counter: "mig_epoch", tdr, to: "0xFFFFFFFE" }), {});
  const mbmd = p.allocRange(0x1000n, 0x1000n);
  const r = s.step("seamcall", {
    leaf: "TDH.EXPORT.TRACK",
    version: 0,
    regs: { RCX: tdr, R8: toHex(mbmd | (0x80n << 52n)), R10: "0x0" },
  });
  assert.equal(statusOf(r), "TDX_MIGRATION_EPOCH_OVERFLOW");
});
