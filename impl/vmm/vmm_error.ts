// A launch or run failure as a value: which step (an ioctl or KVM_TDX command by its
// spec name), the errno KVM returned, and the module status KVM passed back in
// hw_error when it did.
export interface VmmError {
  step: string;
  errno?: string;
  hwError?: bigint;
  message: string;
}

export type VmmResult<T> = { ok: true; value: T } | { ok: false; error: VmmError };

export function vmmFail(step: string, message: string, errno?: string, hwError?: bigint) {
  return { ok: false as const, error: { step, errno, hwError, message } };
}
