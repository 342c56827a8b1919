// System-call results as user space sees them: a value, or a Linux errno name.
// Errno names are the ones the spec's guest_interface and ioctl items list.

export type Errno =
  | "EACCES"
  | "EBADF"
  | "EBUSY"
  | "EEXIST"
  | "EFAULT"
  | "EFBIG"
  | "EINTR"
  | "EINVAL"
  | "EIO"
  | "ENOENT"
  | "ENOMEM"
  | "ENOTTY"
  | "ENXIO"
  | "ETIMEDOUT"
  | "ETXTBSY";

export type SysResult<T> = { ok: true; value: T } | { ok: false; errno: Errno };

export function ok<T>(value: T): SysResult<T> {
  return { ok: true, value };
}

export function err<T = never>(errno: Errno): SysResult<T> {
  return { ok: false, errno };
}
