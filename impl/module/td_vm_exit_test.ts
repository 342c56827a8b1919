// The classification of VM exits a guest did not ask for, one row per exit reason and
// qualification, for a production TD and a debuggable one, as tdx_td_dispatcher.c makes
// them; and the exits the path refuses (resolved elsewhere, unknown, failed VM entries).
import { strict as assert } from "node:assert";
import { encodeBits } from "../spec/bits.ts";
import { theSpec } from "../spec/mod.ts";
import type { TdState } from "./state.ts";
import { classifyVmExit } from "./td_vm_exit.ts";

const spec = theSpec();
const bits = (name: string, v: Record<string, bigint>) => encodeBits(spec.bitfield(name).fields, v);
const reasonNo = (name: string) => spec.enumValue("VMX_EXIT_REASON", name);
/** A TD as the classification sees it: only its ATTRIBUTES matter. */
const td = (debug: boolean) =>
  ({ attributes: bits("TD_ATTRIBUTES", { DEBUG: debug ? 1n : 0n }) }) as TdState;

const NOTIFICATION_INVALID = bits("VMX_EXIT_QUALIFICATION_NOTIFICATION", {
  VM_CONTEXT_INVALID: 1n,
});
const NOTIFICATION_AFTER_IRET = bits("VMX_EXIT_QUALIFICATION_NOTIFICATION", {
  NMI_UNBLOCKING_DUE_TO_IRET: 1n,
});
const MSMI = bits("VMX_EXIT_QUALIFICATION_SMI", { MSMI: 1n });

interface Row {
  reason: string;
  qualification?: bigint;
  /** The TDH.VP.ENTER status for a production TD, then for a debuggable one. */
  production: string;
  debug: string;
  why: string;
}

const rows: Row[] = [
  {
    reason: "TRIPLE_FAULT",
    production: "TDX_NON_RECOVERABLE_VCPU",
    debug: "TDX_NON_RECOVERABLE_VCPU",
    why: "a triple fault shuts the vCPU down, debuggable or not",
  },
  {
    reason: "NOTIFICATION",
    qualification: NOTIFICATION_INVALID,
    production: "TDX_NON_RECOVERABLE_TD",
    debug: "TDX_NON_RECOVERABLE_TD",
    why: "the CPU says the VM context is invalid",
  },
  {
    reason: "NOTIFICATION",
    qualification: 0n,
    production: "TDX_SUCCESS",
    debug: "TDX_SUCCESS",
    why: "a notification with a valid context is an ordinary exit",
  },
  {
    reason: "NOTIFICATION",
    qualification: NOTIFICATION_AFTER_IRET,
    production: "TDX_SUCCESS",
    debug: "TDX_SUCCESS",
    why: "NMI unblocking after IRET alone does not make the context invalid",
  },
  {
    reason: "SMI_OTHER_EVENT",
    qualification: MSMI,
    production: "TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE",
    debug: "TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE",
    why: "a machine-check SMI leaves the TD's memory unreadable",
  },
  {
    reason: "SMI_OTHER_EVENT",
    qualification: 0n,
    production: "TDX_SUCCESS",
    debug: "TDX_SUCCESS",
    why: "any other SMI is an ordinary exit",
  },
  {
    reason: "INTERRUPT",
    production: "TDX_SUCCESS",
    debug: "TDX_SUCCESS",
    why: "an external interrupt gives the LP back to the host",
  },
  {
    reason: "C_STATE_SMI",
    production: "TDX_SUCCESS",
    debug: "TDX_SUCCESS",
    why: "a C-state SMI is an ordinary exit",
  },
  ...["INVLPG_INSTRUCTION", "INTERRUPT_WINDOW", "RDRAND_INSTRUCTION", "INVPCID_INSTRUCTION"].map(
    (reason): Row => ({
      reason,
      production: "TDX_NON_RECOVERABLE_TD",
      debug: "TDX_SUCCESS",
      why: "an exit never enabled for a production TD; a debuggable TD's host may ask for it",
    }),
  ),
];

for (const r of rows) {
  for (const debug of [false, true]) {
    const want = debug ? r.debug : r.production;
    Deno.test(`VM exit ${r.reason} (${debug ? "debug" : "production"} TD): ${want}: ${r.why}`, () => {
      const q = r.qualification ?? 0n;
      const c = classifyVmExit(spec, td(debug), reasonNo(r.reason), q);
      assert.ok("exit" in c, "error" in c ? c.error : "");
      assert.deepEqual(c.exit, { status: want, reason: r.reason, qualification: q });
    });
  }
}

const refused: { what: string; info: bigint; error: RegExp }[] = [
  {
    what: "an RDMSR (resolved inside the TD: emulated, #GP or #VE)",
    info: reasonNo("MSR_READ"),
    error: /MSR_READ is not an unrequested exit/,
  },
  {
    what: "an EPT violation (resolved where the access happens)",
    info: reasonNo("EPT_VIOLATION"),
    error: /EPT_VIOLATION is not an unrequested exit/,
  },
  {
    what: "a TDCALL (the guest asked for the module)",
    info: reasonNo("TDCALL"),
    error: /TDCALL is not an unrequested exit/,
  },
  {
    what: "a basic exit reason the spec does not name",
    info: 0xFFFFn,
    error: /65535 is not an unrequested exit/,
  },
  {
    what: "a failed VM entry, even with a reason the path takes",
    info: bits("VMX_EXIT_INFO", { BASIC: reasonNo("TRIPLE_FAULT"), FAILED_VMENTRY: 1n }),
    error: /failed VM entry/,
  },
];

for (const r of refused) {
  Deno.test(`VM exit refused: ${r.what}`, () => {
    for (const debug of [false, true]) {
      const c = classifyVmExit(spec, td(debug), r.info, 0n);
      assert.ok("error" in c, `classified as ${JSON.stringify(c)}`);
      assert.match(c.error, r.error);
    }
  });
}

// The single-step defence runs before the reason's own handling (single_step.ts).
const APIC = (en: bigint) => bits("IA32_APIC_BASE", { EN: en, EXTD: en, APIC_BASE: 0xFEE00n });

Deno.test("VM exit INTERRUPT with no progress and the local APIC disabled: TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE", () => {
  const progress = { ripAdvance: 0n, tscDelta: 0n, apicBase: APIC(0n) };
  const c = classifyVmExit(spec, td(false), reasonNo("INTERRUPT"), 0n, progress);
  assert.deepEqual(c, {
    exit: {
      status: "TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE",
      reason: "INTERRUPT",
      qualification: 0n,
    },
  });
});

Deno.test("VM exit INTERRUPT with progress and the local APIC disabled: an ordinary exit", () => {
  const progress = { ripAdvance: 0x1000n, tscDelta: 0n, apicBase: APIC(0n) };
  const c = classifyVmExit(spec, td(false), reasonNo("INTERRUPT"), 0n, progress);
  assert.deepEqual(c, {
    exit: { status: "TDX_SUCCESS", reason: "INTERRUPT", qualification: 0n },
  });
});

Deno.test("VM exit INTERRUPT with no progress and the local APIC enabled: refused (stepping mode)", () => {
  const progress = { ripAdvance: 0n, tscDelta: 0n, apicBase: APIC(1n) };
  const c = classifyVmExit(spec, td(false), reasonNo("INTERRUPT"), 0n, progress);
  assert.ok("error" in c);
  assert.match(c.error, /^rip_advance: stepping mode is not modelled/);
});

Deno.test("VM exit TRIPLE_FAULT with no progress and the local APIC disabled: not interrupt-type", () => {
  const progress = { ripAdvance: 0n, tscDelta: 0n, apicBase: APIC(0n) };
  const c = classifyVmExit(spec, td(false), reasonNo("TRIPLE_FAULT"), 0n, progress);
  assert.ok("exit" in c);
  assert.equal(c.exit.status, "TDX_NON_RECOVERABLE_VCPU");
});
