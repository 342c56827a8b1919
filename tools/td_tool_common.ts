// Shared by the measure and td commands: reading and checking a TDVF image, hex
// arguments, and printing a decoded struct field by field.
import type { Spec } from "../impl/spec/mod.ts";
import type { DecodedStruct, Value } from "../impl/spec/codec.ts";
import { decodeBits } from "../impl/spec/bits.ts";
import { bytesToHex } from "../impl/spec/hex.ts";
import { parseTdvf, type TdvfFirmware } from "../impl/vmm/tdvf.ts";

/** Exit status for bad input (arguments, files), as the other commands use. */
export const EXIT_BAD_INPUT = 2;
/** Exit status when the stack itself failed (a KVM or guest error). */
export const EXIT_FAILED = 1;

export class InputError extends Error {}

export function loadFirmware(spec: Spec, path: string): TdvfFirmware {
  let image: Uint8Array;
  try {
    image = Deno.readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read firmware ${path}: ${(e as Error).message}`);
  }
  const r = parseTdvf(spec, image);
  if (!r.ok) {
    const at = r.error.offset !== undefined
      ? ` (image offset 0x${r.error.offset.toString(16)})`
      : "";
    throw new InputError(`${path}: ${r.error.field}${at}: ${r.error.message}`);
  }
  return r.value;
}

/** A hex argument of exactly `bytes` bytes ("0x" prefix allowed). */
export function hexArg(option: string, text: string | undefined, bytes: number): Uint8Array {
  if (text === undefined) throw new InputError(`${option} needs a value`);
  const clean = text.startsWith("0x") ? text.slice(2) : text;
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length % 2) {
    throw new InputError(`${option}: "${text.slice(0, 40)}" is not an even-length hex string`);
  }
  if (clean.length !== 2 * bytes) {
    throw new InputError(
      `${option}: expected ${bytes} bytes (${2 * bytes} hex digits), got ${clean.length / 2}`,
    );
  }
  return Uint8Array.from({ length: bytes }, (_, i) => parseInt(clean.slice(2 * i, 2 * i + 2), 16));
}

export function hex64(v: bigint | number, digits = 0): string {
  return `0x${BigInt(v).toString(16).padStart(digits, "0")}`;
}

/**
 * A decoded struct as flat "path: value" pairs in layout order: bytes in hex,
 * integers in hex, bit-field integers with the names of their set bits, enum values
 * with their name; reserved areas are left out.
 */
export function flattenStruct(
  spec: Spec,
  structName: string,
  value: DecodedStruct,
  prefix = "",
): [string, string][] {
  const out: [string, string][] = [];
  for (const f of spec.struct(structName).fields) {
    if (f.type === "reserved") continue;
    const v: Value = value[f.name];
    const key = prefix + f.name;
    if (f.type === "struct" && f.struct) {
      out.push(...flattenStruct(spec, f.struct, v as DecodedStruct, `${key}.`));
    } else if (v instanceof Uint8Array) {
      out.push([key, bytesToHex(v)]);
    } else if (typeof v === "number" || typeof v === "bigint") {
      let text = hex64(v);
      if (f.bitfield) {
        const { fields } = decodeBits(spec.bitfield(f.bitfield).fields, BigInt(v));
        const set = Object.entries(fields).filter(([, b]) => b !== 0n).map(([n, b]) =>
          b === 1n ? n : `${n}=${hex64(b)}`
        );
        text += ` [${set.join(" ")}]`;
      } else if (f.enum) {
        const e = spec.enum(f.enum).values.find((x) => BigInt(x.value) === BigInt(v));
        if (e) text += ` (${e.name})`;
      }
      out.push([key, text]);
    } else {
      out.push([key, String(v)]);
    }
  }
  return out;
}
