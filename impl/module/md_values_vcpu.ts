// vCPU-scope metadata fields backed by VcpuState, for TDH.VP.RD/WR and TDG.VP.RD/WR.
// Fields not listed read and write vcpu.fields. The vCPU owner adds entries by name.
import type { MdContext, MdElement, MdFieldHandler, MdHandlers } from "./metadata.ts";
import type { VcpuState } from "./state.ts";

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

export const VCPU_MD_VALUES: MdHandlers = {
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
  TSC_DEADLINE: perVm(),
  ...Object.fromEntries(
    ["RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R8", "R9", "R10", "R11", "R12", "R13"]
      .concat(["R14", "R15"]).map((r) => [r, gpr()]),
  ),
};
