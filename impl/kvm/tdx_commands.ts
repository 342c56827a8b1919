// Typed KVM_MEMORY_ENCRYPT_OP calls for a VMM: each KVM_TDX_* command with its data
// placed in the process's memory, and the structure KVM wrote back decoded.
import type { DecodedStruct } from "../spec/codec.ts";
import type { IoctlResult } from "./errno.ts";
import type { KvmFile } from "./kvm_file.ts";
import type { KvmHost } from "./kvm_host.ts";

export interface TdxCommandResult extends IoctlResult<KvmFile> {
  /** kvm_tdx_cmd as KVM left it (hw_error). */
  cmd: DecodedStruct;
}

/** KVM_MEMORY_ENCRYPT_OP with a kvm_tdx_cmd of command `name`. */
export function tdxCommand(
  file: KvmFile & { host: KvmHost; call(name: string, arg?: Uint8Array): IoctlResult<KvmFile> },
  name: string,
  data: bigint,
  flags = 0,
  hwError = 0n,
): TdxCommandResult {
  const codec = file.host.codec;
  const buf = codec.encode("kvm_tdx_cmd", {
    id: Number(file.spec.enumValue("kvm_tdx_cmd_id", name)),
    flags,
    data,
    hw_error: hwError,
  });
  const r = file.call("KVM_MEMORY_ENCRYPT_OP", buf);
  return { ...r, cmd: codec.decode("kvm_tdx_cmd", buf).value };
}
