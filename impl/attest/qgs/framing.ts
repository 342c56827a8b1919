// QGS_FRAME on a byte stream: a length prefix (big-endian, the spec says) then the
// message. Reading is exact: a read asks for n bytes and says how many came before the
// peer closed, so short frames are told apart from complete ones.
import type { Spec } from "../../spec/mod.ts";
import { fieldSize } from "../spec_facts.ts";
import { codecOf } from "./messages.ts";

/** Bytes of the length prefix. */
export function prefixSize(spec: Spec): number {
  return fieldSize(spec, "QGS_FRAME", "length");
}

/** The message length a prefix announces. */
export function frameLength(spec: Spec, prefix: Uint8Array): number {
  const f = spec.struct("QGS_FRAME").fields.find((x) => x.name === "length")!;
  const size = prefixSize(spec);
  let v = 0;
  for (let i = 0; i < size; i++) {
    const b = prefix[f.endian === "big" ? i : size - 1 - i];
    v = v * 256 + b;
  }
  return v;
}

export function frame(spec: Spec, message: Uint8Array): Uint8Array {
  return codecOf(spec).encode("QGS_FRAME", { length: message.length, message });
}

/** Reads exactly what is asked for, or what came before end of stream. */
export class ExactReader {
  private buffered = new Uint8Array(0);
  constructor(private readonly conn: Deno.Conn) {}

  async read(n: number): Promise<Uint8Array> {
    const chunk = new Uint8Array(Math.max(4096, Math.min(n, 1 << 16)));
    while (this.buffered.length < n) {
      const got = await this.conn.read(chunk);
      if (got === null) break;
      const next = new Uint8Array(this.buffered.length + got);
      next.set(this.buffered);
      next.set(chunk.subarray(0, got), this.buffered.length);
      this.buffered = next;
    }
    const out = this.buffered.slice(0, n);
    this.buffered = this.buffered.slice(out.length);
    return out;
  }
}

export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
