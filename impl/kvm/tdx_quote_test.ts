// In-kernel quoting: with the module's Quoting extension up, KVM answers GetQuote with
// TDH.QUOTE.GET (no KVM_EXIT_TDX), refuses requests it cannot serve, reports a failed
// quote in the buffer status, and offers SetupEventNotifyInterrupt only to userspace
// quoting. The guest's GetQuote buffer is written through the VMM's (shared) mapping.
import { strict as assert } from "node:assert";
import type { Registers } from "../cpu/registers.ts";
import { parseHex } from "../spec/hex.ts";
import { theSpec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import { Platform } from "../module/testing/fixture.ts";
import { readyWithQuoting } from "../module/testing/extension_steps.ts";
import type { QuoteSigner } from "../module/quote_signer.ts";
import { openDevKvm } from "./dev_kvm.ts";
import type { KvmOptions } from "./kvm_host.ts";
import { buildTd, capabilities, HOST_MEMORY, type KvmBed } from "./testing/kvm_fixture.ts";
import { scriptedGuest } from "./testing/guest_calls.ts";
import { tdxCommand } from "./tdx_commands.ts";

const SHARED = 1n << 47n;
const BUF = 0x20_0000n;

/** A platform with the Quoting extension up and KVM opened on it. */
function quotingBed(signer?: QuoteSigner, options: KvmOptions = {}): KvmBed {
  const platform = new Platform();
  if (signer) platform.module.state.quoteSigner = signer;
  readyWithQuoting(platform);
  const base = platform.allocRange(HOST_MEMORY, 4096n);
  const kvm = openDevKvm(platform.cpu, { hostMemory: [{ base, size: HOST_MEMORY }], ...options });
  return { platform, kvm, calls: () => [], mark: () => {} };
}

/** A signer that marks its input: the quote is "Q" and the input reversed. */
const marking: QuoteSigner = { sign: (input) => Uint8Array.of(0x51, ...input.slice().reverse()) };

interface Case {
  signer?: QuoteSigner;
  options?: KvmOptions;
  header?: { version?: bigint; in_len?: number };
  calls: Partial<Registers>[];
}

function run(c: Case) {
  const bed = quotingBed(c.signer, c.options);
  const spec = bed.platform.spec;
  const { vm, vcpus: [vcpu] } = buildTd(bed, {
    memory: { gpa: 0n, size: 4n << 20n, private: false },
  });
  const seen: Registers[] = [];
  vm.attachGuestProgram(scriptedGuest(spec, c.calls, seen));
  assert.equal(tdxCommand(vm, "KVM_TDX_FINALIZE_VM", 0n).errno, 0);
  // The guest's request: a TDREPORT-sized input after the header, in shared memory.
  const input = Uint8Array.from({ length: c.header?.in_len ?? 1024 }, (_, i) => i & 0xFF);
  const codec = new StructCodec(spec);
  const slot = vm.memslots.find(BUF >> 12n)!;
  const hva = slot.userspaceAddr + BUF;
  const header = codec.encode("GETQUOTE_BUFFER", {
    status: 0n,
    in_len: input.length,
    out_len: 0,
    data: input.subarray(0, Math.min(input.length, 4096)),
  });
  if (c.header?.version !== undefined) {
    new DataView(header.buffer).setBigUint64(0, c.header.version, true);
  }
  vm.host.user.write(hva, header);
  const exits: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = vcpu.runOnce();
    exits.push(r.exit ?? "");
    if (r.exit === "KVM_EXIT_SHUTDOWN") break;
  }
  const buffer = (n: number) => vm.host.user.read(hva, n) as Uint8Array;
  const decoded = () => {
    const b = buffer(24);
    const v = new DataView(b.buffer);
    return { status: v.getBigUint64(8, true), out_len: v.getUint32(20, true) };
  };
  return { bed, spec, vm, seen, exits, input, buffer, decoded };
}

const getQuote = (size = 0x2000n, gpa = SHARED | BUF): Partial<Registers> => ({
  R10: 0n,
  R11: parseHex(theSpec().tdvmcall("GetQuote").subfunction),
  R12: gpa,
  R13: size,
});

Deno.test("GetQuote in the kernel: TDH.QUOTE.GET's quote lands in the TD's buffer", () => {
  const r = run({ signer: marking, calls: [getQuote()] });
  const { spec } = r;
  assert.ok(r.vm.host.quoteBuffer);
  assert.deepEqual(r.exits, ["KVM_EXIT_SHUTDOWN"], "no exit to userspace");
  assert.equal(r.seen[0].R10, spec.statusValue("TDG.VP.VMCALL_SUCCESS"));
  const d = r.decoded();
  assert.equal(d.status, spec.enumValue("GETQUOTE_STATUS", "GET_QUOTE_SUCCESS"));
  assert.equal(d.out_len, 1 + r.input.length);
  assert.deepEqual(
    r.buffer(24 + d.out_len).subarray(24),
    Uint8Array.of(0x51, ...r.input.slice().reverse()),
  );
  const get = r.vm.host.seam.log.find((c) => c.name === "TDH.QUOTE.GET")!;
  assert.equal(get.inputs.input_data_len, 1024n);
  assert.equal(get.inputs.tdr_pa, r.vm.td.tdr);
});

Deno.test("GetQuote in the kernel: requests KVM cannot serve are refused", async (t) => {
  const rows: [string, Case, string][] = [
    ["size 0", { signer: marking, calls: [getQuote(0n)] }, "INVALID_OPERAND"],
    [
      "unaligned GPA",
      { signer: marking, calls: [getQuote(0x2000n, SHARED | BUF | 8n)] },
      "ALIGN_ERROR",
    ],
    ["unaligned size", { signer: marking, calls: [getQuote(0x1800n)] }, "ALIGN_ERROR"],
    [
      "header version not 1",
      { signer: marking, header: { version: 2n }, calls: [getQuote()] },
      "INVALID_OPERAND",
    ],
    [
      "header and input past the first page",
      { signer: marking, header: { in_len: 4096 - 23 }, calls: [getQuote()] },
      "INVALID_OPERAND",
    ],
  ];
  for (const [name, c, status] of rows) {
    await t.step(name, () => {
      const r = run(c);
      assert.equal(r.seen[0].R10, r.spec.statusValue(`TDG.VP.VMCALL_${status}`));
      assert.equal(r.decoded().status, 0n, "the buffer is left alone");
      assert.equal(r.vm.host.seam.log.some((x) => x.name === "TDH.QUOTE.GET"), false);
      assert.ok(r.spec.tdvmcall("GetQuote").statuses.some((s) => s.status.endsWith(status)));
    });
  }
});

Deno.test("GetQuote in the kernel: a failed or oversized quote is GET_QUOTE_ERROR in the buffer", async (t) => {
  const big: QuoteSigner = { sign: () => new Uint8Array(0x1000) };
  for (
    const [name, c] of [
      ["no signer: the module cannot quote", { calls: [getQuote()] }],
      ["the quote does not fit the TD's buffer", { signer: big, calls: [getQuote(0x1000n)] }],
    ] as [string, Case][]
  ) {
    await t.step(name, () => {
      const r = run(c);
      assert.equal(r.seen[0].R10, r.spec.statusValue("TDG.VP.VMCALL_SUCCESS"));
      assert.equal(r.decoded().status, r.spec.enumValue("GETQUOTE_STATUS", "GET_QUOTE_ERROR"));
      assert.deepEqual(r.exits, ["KVM_EXIT_SHUTDOWN"]);
    });
  }
});

Deno.test("event notification only with userspace quoting", () => {
  const sub = parseHex(theSpec().tdvmcall("SetupEventNotifyInterrupt").subfunction);
  const notify = { R10: 0n, R11: sub, R12: 0x40n };
  const r = run({ signer: marking, calls: [notify] });
  assert.deepEqual(r.exits, ["KVM_EXIT_SHUTDOWN"]);
  assert.equal(r.seen[0].R10, r.spec.statusValue("TDG.VP.VMCALL_SUBFUNC_UNSUPPORTED"));
  assert.equal(capabilities(r.vm).user_tdvmcallinfo_1_r11, 0n);
  // With in-kernel quoting switched off, both go to userspace as before.
  const off = run({ signer: marking, options: { tdxQuoting: false }, calls: [getQuote(), notify] });
  assert.equal(off.vm.host.quoteBuffer, undefined);
  assert.deepEqual(off.exits.slice(0, 2), ["KVM_EXIT_TDX", "KVM_EXIT_TDX"]);
  assert.notEqual(capabilities(off.vm).user_tdvmcallinfo_1_r11, 0n);
});
