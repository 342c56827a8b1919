// The KVM layer of the reference platform: Linux's KVM ioctl surface for TDs, issuing
// SEAMCALLs through the CPU as Linux 7.2 does. File descriptors are objects; ioctl
// numbers, structs, errno values and exit reasons all come from the spec.
export { DevKvm, openDevKvm } from "./dev_kvm.ts";
export type { KvmOptions } from "./kvm_host.ts";
export { KvmHost } from "./kvm_host.ts";
export { KvmVm } from "./vm.ts";
export { KvmVcpu } from "./vcpu.ts";
export { GuestMemfd } from "./guest_memfd.ts";
export { KvmFile } from "./kvm_file.ts";
export { KvmRun } from "./kvm_run.ts";
export { UserMemory, UserPointer } from "./user_memory.ts";
export type { UserArg } from "./user_memory.ts";
export { errnoName, errnoValue, type Failure, type IoctlResult } from "./errno.ts";
export { decodeIoc, encodeIoc, ioctlByNumber, ioctlNumber, tdxValue } from "./ioctl_number.ts";
export type { CpuidEntry } from "./tdx_cpuid.ts";
export {
  cpuid2Bytes,
  type InitVmParams,
  setCpuid2,
  tdxCapabilities,
  tdxCommand,
  type TdxCommandResult,
  tdxFinalizeVm,
  tdxGetCpuid,
  tdxInitMemRegion,
  tdxInitVcpu,
  tdxInitVm,
} from "./tdx_commands.ts";
