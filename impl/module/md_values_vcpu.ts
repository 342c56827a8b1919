// vCPU-scope metadata fields backed by VcpuState, for TDH.VP.RD/WR and TDG.VP.RD/WR.
// Fields not listed read and write vcpu.fields. The vCPU owner adds entries by name.
import {
  catalog,
  elementValue,
  type MdContext,
  type MdElement,
  type MdFieldHandler,
  type MdHandlers,
} from "./metadata.ts";
import type { VcpuState } from "./state.ts";
import { VMCS_MD_VALUES } from "./md_values_vmcs.ts";
import { L2_MD_VALUES } from "./l2_metadata.ts";

function vcpu(c: MdContext): VcpuState {
  if (!c.vcpu) throw new Error("vCPU-scope metadata without a vCPU");
  return c.vcpu;
}

/** Guest GPRs live in vcpu.gprs under the register's name, which is the field's name. */
function gpr(): MdFieldHandler {
  return {
    read: (c, el) => vcpu(c).gprs.get(el.field.item.name) ?? 0n,
    write: (c, el, v) => {
      vcpu(c).gprs.set(el.field.item.name, v);
      return undefined;
    },
  };
}

type VeInfo = NonNullable<VcpuState["veInfo"]>;

function veInfo(pick: (v: VeInfo) => bigint | boolean): MdFieldHandler {
  return {
    read: (c) => {
      const v = vcpu(c).veInfo;
      if (!v) return 0n;
      const x = pick(v);
      return typeof x === "boolean" ? (x ? 1n : 0n) : x;
    },
  };
}

/** Per-VM fields (field j is VM j): only VM 0 and the TD's L2 VMs exist. */
function perVm(): MdFieldHandler {
  return {
    exists: (c, el: MdElement) => el.fieldIndex <= (c.td?.numL2Vms ?? 0),
  };
}

const U64 = 0xFFFF_FFFF_FFFF_FFFFn;
/** Fraction bits of the TD's TSC multiplier: virtual = (native * multiplier >> 48) + offset. */
const TSC_FRACTION = 48n;

function tdValue(c: MdContext, name: string): bigint {
  const cat = catalog(c.spec);
  const v = elementValue(c, cat.find("td", cat.field("td", name).baseId)!);
  return typeof v === "bigint" ? v : 0n;
}

/**
 * The native TSC at which an L2 VM's TSC deadline (in the TD's virtual TSC) falls, or
 * undefined when it cannot be represented (overflow, zero, or wrapped past now).
 */
function nativeDeadline(c: MdContext, deadline: bigint): bigint | undefined {
  const lp = vcpu(c).associatedLp ?? 0;
  const now = c.cpu.rdmsrNamed(lp, "IA32_TIME_STAMP_COUNTER") ?? 0n;
  const mult = tdValue(c, "TSC_MULTIPLIER");
  const offset = tdValue(c, "TSC_OFFSET");
  const virtNow = (((now * mult) >> TSC_FRACTION) + offset) & U64;
  if (deadline <= virtNow) return now;
  const t = (deadline - offset) & U64;
  if (t >> (64n - TSC_FRACTION) >= mult) return undefined;
  const native = (t << TSC_FRACTION) / mult;
  if (native === 0n) return undefined;
  const ahead = (native - now) & U64;
  return ahead >> 63n === 1n ? undefined : native;
}

/**
 * TSC_DEADLINE (field j is VM j): VM 0 has no deadline timer; an L2 VM's deadline is
 * also kept converted to native TSC units (all ones disables it).
 */
const tscDeadline: MdFieldHandler = {
  ...perVm(),
  write: (c, el, value) => {
    const v = vcpu(c);
    if (el.fieldIndex > 0 && value !== U64) {
      const native = nativeDeadline(c, value);
      if (native === undefined) return { status: "TDX_OPERAND_INVALID", detail: 0n };
      v.l2NativeTscDeadline ??= [];
      v.l2NativeTscDeadline[el.fieldIndex] = native;
    }
    v.fields.set(el.id, value);
    return undefined;
  },
};

export const VCPU_MD_VALUES: MdHandlers = {
  ...VMCS_MD_VALUES,
  ...L2_MD_VALUES,
  VCPU_INDEX: { read: (c) => BigInt(vcpu(c).index) },
  CPUID_SUPERVISOR_VE: {
    read: (c) => (vcpu(c).cpuidVe.supervisor ? 1n : 0n),
    write: (c, _el, v) => {
      vcpu(c).cpuidVe.supervisor = (v & 1n) === 1n;
      return undefined;
    },
  },
  CPUID_USER_VE: {
    read: (c) => (vcpu(c).cpuidVe.user ? 1n : 0n),
    write: (c, _el, v) => {
      vcpu(c).cpuidVe.user = (v & 1n) === 1n;
      return undefined;
    },
  },
  VE_INFO_VALID: veInfo((v) => v.valid),
  VE_INFO_EXIT_REASON: veInfo((v) => v.exitReason),
  VE_INFO_EXIT_QUALIFICATION: veInfo((v) => v.qualification),
  VE_INFO_GLA: veInfo((v) => v.gla),
  VE_INFO_GPA: veInfo((v) => v.gpa),
  TSC_DEADLINE: tscDeadline,
  ...Object.fromEntries(
    ["RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R8", "R9", "R10", "R11", "R12", "R13"]
      .concat(["R14", "R15"]).map((r) => [r, gpr()]),
  ),
};
