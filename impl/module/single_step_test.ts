// The single-step defence's verdict, one row per case of td_exit_stepping.c's filter: which
// exits it looks at, the RIP and TSC limits on either side, and the local APIC's mode.
import { strict as assert } from "node:assert";
import { encodeBits } from "../spec/bits.ts";
import { theSpec } from "../spec/mod.ts";
import { type GuestProgress, type SteppingVerdict, steppingVerdict } from "./single_step.ts";

const spec = theSpec();
const bits = (name: string, v: Record<string, bigint>) => encodeBits(spec.bitfield(name).fields, v);
const APIC_ON = bits("IA32_APIC_BASE", { EN: 1n, EXTD: 1n, APIC_BASE: 0xFEE00n });
const APIC_OFF = bits("IA32_APIC_BASE", { EN: 0n, EXTD: 0n, APIC_BASE: 0xFEE00n });
const MSMI = bits("VMX_EXIT_QUALIFICATION_SMI", { MSMI: 1n });
const RIP_LIMIT = 2n * spec.enumValue("TDX_MODULE_LIMITS", "INTEL64_MAX_INST_LEN");
const TSC_LIMIT = spec.enumValue("TDX_MODULE_LIMITS", "STEPPING_TSC_THRESHOLD");

const near = (apicBase: bigint, more: Partial<GuestProgress> = {}): GuestProgress => ({
  ripAdvance: 0n,
  tscDelta: 0n,
  apicBase,
  ...more,
});

const rows: {
  why: string;
  reason: string;
  qualification?: bigint;
  progress?: GuestProgress;
  want: SteppingVerdict;
}[] = [
  { why: "no progress stated: far enough", reason: "INTERRUPT", want: "continue" },
  {
    why: "interrupt, no progress, APIC off",
    reason: "INTERRUPT",
    progress: near(APIC_OFF),
    want: "wrong-apic-mode",
  },
  {
    why: "interrupt, no progress, APIC on",
    reason: "INTERRUPT",
    progress: near(APIC_ON),
    want: "stepping",
  },
  {
    why: "RIP moved by exactly twice the longest instruction still counts as no progress",
    reason: "INTERRUPT",
    progress: near(APIC_OFF, { ripAdvance: RIP_LIMIT }),
    want: "wrong-apic-mode",
  },
  {
    why: "RIP moved by one byte more is progress",
    reason: "INTERRUPT",
    progress: near(APIC_OFF, { ripAdvance: RIP_LIMIT + 1n }),
    want: "continue",
  },
  {
    why: "TSC delta at the threshold still looks",
    reason: "INTERRUPT",
    progress: near(APIC_OFF, { tscDelta: TSC_LIMIT }),
    want: "wrong-apic-mode",
  },
  {
    why: "TSC delta above the threshold is progress",
    reason: "INTERRUPT",
    progress: near(APIC_OFF, { tscDelta: TSC_LIMIT + 1n }),
    want: "continue",
  },
  {
    why: "an SMI other than an MSMI is interrupt-type",
    reason: "SMI_OTHER_EVENT",
    progress: near(APIC_OFF),
    want: "wrong-apic-mode",
  },
  {
    why: "an MSMI is not",
    reason: "SMI_OTHER_EVENT",
    qualification: MSMI,
    progress: near(APIC_OFF),
    want: "continue",
  },
  {
    why: "MTF is interrupt-type",
    reason: "MTF",
    progress: near(APIC_OFF),
    want: "wrong-apic-mode",
  },
  {
    why: "INIT is interrupt-type",
    reason: "INIT_EVENT",
    progress: near(APIC_OFF),
    want: "wrong-apic-mode",
  },
  {
    why: "a triple fault is not interrupt-type",
    reason: "TRIPLE_FAULT",
    progress: near(APIC_OFF),
    want: "continue",
  },
];

for (const r of rows) {
  Deno.test(`single-step verdict ${r.reason}: ${r.why}: ${r.want}`, () => {
    assert.equal(steppingVerdict(spec, r.reason, r.qualification ?? 0n, r.progress), r.want);
  });
}
