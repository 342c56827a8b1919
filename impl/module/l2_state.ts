// The TD-partitioning state of one vCPU (TDVPS fields for L2 VMs 1..3): what the L1 VMM
// configured for each L2 VM, each L2 VM's register state, and the bookkeeping of an L2
// VM that is running or exited: the L1 VMM's TDG.VP.ENTER waiting for it, and the sticky
// host-routing flag TDH.VP.ENTER (RESUME_L1) sets to return to L1 after a TD exit.
import { decodeBits } from "../spec/bits.ts";
import type { Spec } from "../spec/mod.ts";
import type { Registers } from "../cpu/registers.ts";
import { catalog } from "./metadata.ts";
import type { VcpuState } from "./state.ts";

/** An L2 VM's guest state: what L2_ENTER_GUEST_STATE carries in and out. */
export interface L2GuestRegs {
  gprs: Registers;
  rflags: bigint;
  rip: bigint;
  ssp: bigint;
  interruptStatus: bigint;
}

/** The exit information of an L2 VM exit, as TDG.VP.ENTER reports it to L1. */
export interface L2ExitInfo {
  /** VMX_EXIT_REASON name. */
  reason: string;
  qualification?: bigint;
  gla?: bigint;
  gpa?: bigint;
  /** VM-exit interruption information (bits 31:0) and error code (bits 63:32). */
  interruption?: bigint;
  /** IDT-vectoring information and error code. */
  idtVectoring?: bigint;
  /** Instruction information (bits 31:0) and length (bits 63:32). */
  instruction?: bigint;
  extQualification?: bigint;
}

export interface L2VcpuState {
  /** L2_VAPIC_GPA per VM, as L1 wrote it to the VM's VMCS; absent is NULL_PA. */
  vapicGpa: Map<number, bigint>;
  /** L2_ENTER_GUEST_STATE_GPA per VM: the buffer of the VM's last TDG.VP.ENTER. */
  guestStateGpa: Map<number, bigint>;
  /**
   * Soft translations (L2_ENTER_GUEST_STATE_HPA, L2_VAPIC_HPA) per VM, with the TD's KeyID:
   * kept until the GPA changes or the vCPU enters the TD in another TLB-tracking epoch.
   */
  stateHpa: Map<number, bigint>;
  vapicHpa: Map<number, bigint>;
  /** The TD epoch of the vCPU's last TD entry. */
  entryEpoch?: bigint;
  /** VMs entered at least once (VM_LAUNCHED). */
  launched: Set<number>;
  /** Each VM's guest state while it does not run. */
  regs: Map<number, L2GuestRegs>;
  /** The L1 VMM's registers of the TDG.VP.ENTER that entered the current L2 VM. */
  l1Regs?: Registers;
  /** L2_EXIT_HOST_ROUTING: the next TD entry resumes L1 as if L2 had exited to it. */
  hostRouted?: "async" | "tdvmcall";
  /** The current L2 VM's last VM exit that became a TD exit (the VMCS exit fields). */
  lastExit?: L2ExitInfo;
}

export function l2Of(vcpu: VcpuState): L2VcpuState {
  vcpu.l2 ??= {
    vapicGpa: new Map(),
    guestStateGpa: new Map(),
    stateHpa: new Map(),
    vapicHpa: new Map(),
    launched: new Set(),
    regs: new Map(),
  };
  return vcpu.l2;
}

/**
 * adjust_tlb_tracking_state at TDH.VP.ENTER: entering in another epoch than last time
 * drops the soft translations (as does a new association: TDH.VP.FLUSH drops them).
 */
export function noteEntryEpoch(vcpu: VcpuState, epoch: bigint, newAssociation: boolean): void {
  const l2 = l2Of(vcpu);
  if (newAssociation || l2.entryEpoch !== epoch) {
    l2.stateHpa.clear();
    l2.vapicHpa.clear();
  }
  l2.entryEpoch = epoch;
}

/** Field `vm` of a per-VM TDVPS field (L2_CTLS, L2_DEBUG_CTLS), decoded by its layout. */
export function perVmControls(
  spec: Spec,
  vcpu: VcpuState,
  field: "L2_CTLS" | "L2_DEBUG_CTLS",
  vm: number,
): Record<string, bigint> {
  const cat = catalog(spec);
  const id = cat.elementId(cat.field("vcpu", field), vm);
  return decodeBits(spec.bitfield(field).fields, vcpu.fields.get(id) ?? 0n).fields;
}
