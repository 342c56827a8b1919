// A file the VMM holds (/dev/kvm, a VM, a vCPU, a guest_memfd), with ioctl(2) dispatched
// by request number to the handlers its kind registers under the spec's ioctl names.
import type { Spec } from "../spec/mod.ts";
import { fail, type Failure, type IoctlResult, isFailure, toResult } from "./errno.ts";
import { ioctlNumber } from "./ioctl_number.ts";
import type { UserArg } from "./user_memory.ts";

/** What a handler returns: a value, a new file (its fd becomes the value), or a failure. */
export type HandlerResult = bigint | number | Failure | KvmFile;
export type IoctlHandler = (arg: UserArg) => HandlerResult;

export abstract class KvmFile {
  fd = -1;
  closed = false;
  private table?: Map<bigint, IoctlHandler>;

  constructor(readonly spec: Spec) {}

  /** The ioctls this kind of file accepts, by spec name. */
  protected abstract handlers(): [string, IoctlHandler][];
  /** What the kernel answers for a request number this file does not handle. */
  protected abstract readonly unknownIoctlErrno: string;
  /** A check every ioctl on this file passes first (e.g. the VM is not dead). */
  protected gate(): Failure | undefined {
    return undefined;
  }
  /** Registers a newly created file in the process's fd table. */
  protected abstract install(file: KvmFile): number;

  ioctl(number: bigint | number, arg?: UserArg): IoctlResult<KvmFile> {
    if (this.closed) return toResult(this.spec, fail("EBADF"));
    this.table ??= new Map(this.handlers().map(([n, h]) => [ioctlNumber(this.spec, n), h]));
    const gate = this.gate();
    if (gate) return toResult(this.spec, gate);
    const h = this.table.get(BigInt(number));
    if (!h) return toResult(this.spec, fail(this.unknownIoctlErrno));
    const r = h(arg);
    if (r instanceof KvmFile) return toResult(this.spec, this.install(r), r);
    return toResult(this.spec, isFailure(r) ? r : r);
  }
}

/** An int ioctl argument as the kernel sees the unsigned long. */
export function intArg(arg: UserArg): bigint {
  if (arg === undefined) return 0n;
  if (arg instanceof Uint8Array) return -1n;
  return BigInt.asUintN(64, BigInt(arg));
}
