import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import { KvmRun } from "./kvm_run.ts";
import { tdxValue } from "./ioctl_number.ts";

const spec = theSpec();
const codec = new StructCodec(spec);

function page(): KvmRun {
  return new KvmRun(
    spec,
    codec,
    new Uint8Array(Number(tdxValue(spec, "KVM_GET_VCPU_MMAP_SIZE", "mmap size on x86"))),
  );
}

Deno.test("the exit union starts at byte 32 of kvm_run and the TDX views share nr and ret", () => {
  const run = page();
  run.setExitReason("KVM_EXIT_TDX");
  assert.equal(run.exitReason, 0x28);
  assert.equal(run.exitReasonName, "KVM_EXIT_TDX");
  run.setExit("kvm_run_tdx_get_quote", {
    flags: 0n,
    nr: spec.enumValue("kvm_tdx_exit_nr", "TDVMCALL_GET_QUOTE"),
    ret: spec.statusValue("TDG.VP.VMCALL_SUBFUNC_UNSUPPORTED"),
    gpa: 0x1000n,
    size: 0x2000n,
    unused: new Uint8Array(24),
  });
  // Byte offsets as userspace sees them: nr at kvm_run+40, ret at kvm_run+48, gpa at +56.
  const view = new DataView(run.bytes.buffer);
  assert.equal(view.getBigUint64(40, true), 0x10002n);
  assert.equal(view.getBigUint64(48, true), 0x8000000000000003n);
  assert.equal(view.getBigUint64(56, true), 0x1000n);
  // The VMM answers through the generic view; KVM reads it back the same way.
  run.setExitField("kvm_run_tdx_exit", "ret", 0n);
  assert.equal(run.exit("kvm_run_tdx_get_quote").ret, 0n);
  assert.equal(run.exit("kvm_run_tdx_exit").nr, 0x10002n);
});

Deno.test("writing one exit view clears what an earlier exit left in the union", () => {
  const run = page();
  run.setExit("kvm_run_system_event", { type: 7, ndata: 16, data: Array(16).fill(0xFFn) });
  run.setExit("kvm_run_hypercall", { nr: 12n, args: [1n, 2n, 3n, 0n, 0n, 0n], ret: 0n, flags: 1n });
  const h = run.exit("kvm_run_hypercall");
  assert.deepEqual(h.args, [1n, 2n, 3n, 0n, 0n, 0n]);
  assert.equal(new DataView(run.bytes.buffer).getBigUint64(32 + 72, true), 0n);
});

Deno.test("the header flags and immediate_exit sit where the uapi puts them", () => {
  const run = page();
  run.immediateExit = true;
  assert.equal(run.bytes[1], 1);
  run.flags = 3;
  assert.equal(new DataView(run.bytes.buffer).getUint16(14, true), 3);
  assert.equal(run.validRegs, 0n);
});
