// Errors as Linux reports them: a kernel path fails with an errno the spec names
// (spec/enum/linux_errno.yaml), never with a thrown string. Internal functions return
// a Failure value; the ioctl surface turns it into {ret: -1, errno}.
import type { Spec } from "../spec/mod.ts";

/** A failed kernel operation, by the errno name the spec's ioctl items use. */
export interface Failure {
  readonly errno: string;
}

export function fail(errno: string): Failure {
  return { errno };
}

export function isFailure(x: unknown): x is Failure {
  return typeof x === "object" && x !== null && "errno" in x &&
    typeof (x as Failure).errno === "string" && !(x instanceof Uint8Array);
}

/** What ioctl(2) gives back: ret (-1 on error) and errno (0 on success). */
export interface IoctlResult<F = unknown> {
  ret: bigint;
  errno: number;
  /** The errno's name from the spec, when the call failed. */
  errnoName?: string;
  /** The file a creating ioctl returned (its fd is `ret`). */
  file?: F;
}

export function errnoValue(spec: Spec, name: string): number {
  return Number(spec.enumValue("linux_errno", name));
}

export function errnoName(spec: Spec, value: number): string | undefined {
  return spec.enum("linux_errno").values.find((v) => Number(BigInt(v.value)) === value)?.name;
}

export function toResult<F>(spec: Spec, r: bigint | number | Failure, file?: F): IoctlResult<F> {
  if (isFailure(r)) return { ret: -1n, errno: errnoValue(spec, r.errno), errnoName: r.errno };
  return file === undefined ? { ret: BigInt(r), errno: 0 } : { ret: BigInt(r), errno: 0, file };
}
