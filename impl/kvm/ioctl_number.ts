// ioctl request numbers: _IOC(dir, type, nr, size) by the LINUX_IOC bit layout, and the
// lookup from a request number to the spec's ioctl item.
import type { IoctlItem, Spec } from "../spec/mod.ts";
import { decodeBits, encodeBits } from "../spec/bits.ts";
import { parseHex } from "../spec/hex.ts";

export interface IocFields {
  dir: string;
  type: bigint;
  nr: bigint;
  size: number;
}

export function encodeIoc(spec: Spec, f: IocFields): bigint {
  return encodeBits(spec.bitfield("LINUX_IOC").fields, {
    dir: spec.enumValue("linux_ioc_dir", f.dir),
    type: f.type,
    nr: f.nr,
    size: BigInt(f.size),
  });
}

export function decodeIoc(spec: Spec, number: bigint): IocFields {
  const { fields } = decodeBits(spec.bitfield("LINUX_IOC").fields, number);
  const dir = spec.enum("linux_ioc_dir").values.find((v) => parseHex(v.value) === fields.dir)!;
  return { dir: dir.name, type: fields.type, nr: fields.nr, size: Number(fields.size) };
}

/** The request number of an ioctl by name, as its _IOC fields encode it. */
export function ioctlNumber(spec: Spec, name: string): bigint {
  const it = spec.ioctl(name);
  return encodeIoc(spec, {
    dir: it.dir,
    type: parseHex(it.type),
    nr: parseHex(it.nr),
    size: it.arg_size,
  });
}

/** The ioctl item a request number names, if the spec has one. */
export function ioctlByNumber(spec: Spec, number: bigint): IoctlItem | undefined {
  for (const it of spec.ioctls.values()) if (parseHex(it.number) === number) return it;
  return undefined;
}

/** A value an ioctl item lists in tdx_values, by name. */
export function tdxValue(spec: Spec, ioctl: string, name: string): bigint {
  const v = spec.ioctl(ioctl).tdx_values?.find((x) => x.name === name);
  if (!v) throw new Error(`the spec's ${ioctl} lists no tdx_value named ${name}`);
  return parseHex(v.value);
}
