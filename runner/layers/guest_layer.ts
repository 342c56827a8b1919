// The reference's guest layer: a TD booted from a TDVF image through the whole stack
// (TDX module, KVM, the launcher, the guest kernel with the tdx_guest driver), with a
// user process inside that makes one system call per step. The process waits for its
// next step halted (TDVMCALL<Instruction.HLT>); the session runs the VMM loop one
// KVM_RUN at a time until the process has answered and halted again, so the TD lives
// across steps. Files the steps open get names ("dev", "f0", ...) rather than numbers.
import { type LaunchedTd, launchTd } from "../../impl/vmm/launcher.ts";
import { runTd } from "../../impl/vmm/run_loop.ts";
import { parseTdvf, type TdvfFirmware } from "../../impl/vmm/tdvf.ts";
import { EchoQuoteService } from "../../impl/vmm/quote_service.ts";
import { bringUpHost } from "../../impl/platform/td_stack.ts";
import { TdGuestMemory } from "../../impl/platform/td_guest_memory.ts";
import { type GuestRun, tdxGuestProgram } from "../../impl/guest/tdx_guest_program.ts";
import type { OpenMode, Process } from "../../impl/guest/process.ts";
import { sleep } from "../../impl/guest/tdx_guest.ts";
import type { SysResult } from "../../impl/guest/errno.ts";
import { StructCodec } from "../../impl/spec/codec.ts";
import { bytesToHex, hexToBytes, parseHex, toHex } from "../../impl/spec/hex.ts";
import { type Spec, theSpec } from "../../impl/spec/mod.ts";
import type { StepActual } from "../vector_types.ts";
import { decodeFields, encodeFields } from "./struct_args.ts";

const ROOT = new URL("../../", import.meta.url);
/** Model bound: KVM_RUN calls one step may take (a quote poll takes about 30). */
const MAX_RUNS_PER_STEP = 10_000;

const firmwareCache = new Map<string, TdvfFirmware>();

function loadFirmware(spec: Spec, path: string): TdvfFirmware {
  let fw = firmwareCache.get(path);
  if (!fw) {
    const r = parseTdvf(spec, Deno.readFileSync(new URL(path, ROOT)));
    if (!r.ok) throw new Error(`${path}: ${r.error.message}`);
    fw = r.value;
    firmwareCache.set(path, fw);
  }
  return fw;
}

type Request = { op: string; input: Record<string, unknown> };

export class GuestSession {
  private readonly spec = theSpec();
  private readonly codec = new StructCodec(this.spec);
  private td?: LaunchedTd;
  private readonly run: GuestRun = { finished: false };
  private request?: Request;
  private result?: StepActual;
  /** The process waits (halted) for its next step. */
  private waiting = false;
  private readonly fds = new Map<string, number>();
  private opens = 0;

  step(op: string, input: Record<string, unknown>): StepActual {
    if (op === "guest.boot") return this.boot(input);
    if (!this.td) return { error: { class: "not-booted" } };
    if (!OPS.has(op)) return { error: { class: "unsupported-op", op } };
    this.request = { op, input };
    this.result = undefined;
    const failed = this.drive(() => this.result !== undefined && this.waiting);
    return failed ?? this.result!;
  }

  private boot(input: Record<string, unknown>): StepActual {
    const spec = this.spec;
    const fw = loadFirmware(spec, String(input.firmware));
    const { platform, kvm } = bringUpHost();
    const bytes = (k: string) => input[k] === undefined ? undefined : hexToBytes(String(input[k]));
    const launched = launchTd(spec, kvm, fw, {
      memoryBytes: input.memory_bytes === undefined
        ? undefined
        : BigInt(String(input.memory_bytes)),
      mrconfigid: bytes("mrconfigid"),
      mrowner: bytes("mrowner"),
      mrownerconfig: bytes("mrownerconfig"),
      // "echo": the VMM's quote service returns the TDREPORT it gets as the quote.
      quote: input.quote_service === "echo" ? { service: new EchoQuoteService() } : {},
      program: ({ vm, memory, hobAddress }) => {
        const mem = new TdGuestMemory(spec, platform.cpu, platform.module.state, vm);
        mem.memory = memory;
        return tdxGuestProgram(spec, mem, { hobAddress }, (p) => this.script(p), this.run);
      },
    });
    if (!launched.ok) return { error: { class: "launch-failed", step: launched.error.step } };
    this.td = launched.value;
    return this.drive(() => this.waiting) ?? { status: "running" };
  }

  /** KVM_RUN by KVM_RUN (the launcher's VMM loop) until `done`; a failure as a result. */
  private drive(done: () => boolean): StepActual | undefined {
    for (let i = 0; i < MAX_RUNS_PER_STEP; i++) {
      if (done()) return undefined;
      if (this.run.error) {
        return { error: { class: "guest-failed", detail: (this.run.error as Error).message } };
      }
      const r = runTd(this.td!, 1);
      // One KVM_RUN per call: "did not finish" only says the TD still runs.
      if (r.ok) return { error: { class: "guest-ended" } };
      if (!/did not finish within/.test(r.error.message)) {
        return { error: { class: "vmm-failed", step: r.error.step, errno: r.error.errno } };
      }
    }
    return { error: { class: "step-too-long" } };
  }

  /** The user process: one system call per step, halted in between. */
  private *script(p: Process): Generator<void, void, void> {
    for (;;) {
      while (!this.request) {
        this.waiting = true;
        yield* sleep(p.kernel.services);
      }
      this.waiting = false;
      const req = this.request;
      this.request = undefined;
      this.result = yield* this.perform(p, req);
    }
  }

  private fd(v: unknown): number {
    const name = String(v);
    const fd = this.fds.get(name);
    if (fd !== undefined) return fd;
    if (/^0x[0-9A-Fa-f]+$/.test(name)) return Number(parseHex(name));
    throw new RangeError(`no file named ${name}`);
  }

  private *perform(p: Process, { op, input }: Request): Generator<void, StepActual, void> {
    try {
      switch (op) {
        case "guest.open": {
          const r = yield* p.open(String(input.path), String(input.mode ?? "r") as OpenMode);
          if (!r.ok) return { errno: r.errno };
          const name = input.as === undefined ? `f${this.opens}` : String(input.as);
          this.opens++;
          this.fds.set(name, r.value);
          return { fd: name };
        }
        case "guest.close":
          return done(yield* p.close(this.fd(input.fd)), () => 0);
        case "guest.read": {
          const fd = this.fd(input.fd);
          const count = Number(input.count ?? 4096);
          const r = input.offset === undefined
            ? yield* p.read(fd, count)
            : yield* p.pread(fd, count, Number(input.offset));
          if (!r.ok) return { errno: r.errno };
          const out: StepActual = { ret: toHex(r.value.length), bytes: bytesToHex(r.value) };
          if (input.decode) {
            out.fields = decodeFields(this.spec, this.codec, String(input.decode), r.value);
          }
          return out;
        }
        case "guest.write": {
          const fd = this.fd(input.fd);
          const data = hexToBytes(String(input.bytes ?? ""));
          const r = input.offset === undefined
            ? yield* p.write(fd, data)
            : yield* p.pwrite(fd, data, Number(input.offset));
          return done(r, (n) => n);
        }
        case "guest.ioctl":
          return yield* this.ioctl(p, input);
        case "guest.mkdir":
          return done(yield* p.mkdir(String(input.path)), () => 0);
        case "guest.rmdir":
          return done(yield* p.rmdir(String(input.path)), () => 0);
      }
    } catch (e) {
      if (e instanceof RangeError) return { error: { class: "invalid-input", detail: e.message } };
      throw e;
    }
    return { error: { class: "unsupported-op", op } };
  }

  /** ioctl(2) with an integer argument or a struct placed in the process's memory. */
  private *ioctl(p: Process, input: Record<string, unknown>): Generator<void, StepActual, void> {
    const spec = this.spec;
    const fd = this.fd(input.fd);
    const which = String(input.request);
    const item = spec.ioctls.get(which);
    const number = item ? parseHex(item.number) : parseHex(which);
    let arg = 0n;
    let placed: { at: bigint; length: number; struct: string } | undefined;
    if (typeof input.arg === "string") arg = parseHex(input.arg);
    else if (typeof input.arg === "object" && input.arg !== null) {
      const a = input.arg as { struct: string; fields?: Record<string, string> };
      const bytes = encodeFields(spec, this.codec, a.struct, a.fields ?? {}, (t) => {
        throw new RangeError(`the guest layer has no symbol ${t}`);
      });
      arg = p.memory.map(bytes.length);
      p.memory.poke(arg, bytes);
      placed = { at: arg, length: bytes.length, struct: a.struct };
    }
    const r = yield* p.ioctl(fd, number, arg);
    if (!r.ok) return { errno: r.errno };
    const out: StepActual = { ret: toHex(r.value) };
    if (placed && (item?.dir === "readwrite" || item?.dir === "read")) {
      out.out = decodeFields(
        spec,
        this.codec,
        placed.struct,
        p.memory.peek(placed.at, placed.length),
      );
    }
    return out;
  }
}

const OPS = new Set([
  "guest.open",
  "guest.close",
  "guest.read",
  "guest.write",
  "guest.ioctl",
  "guest.mkdir",
  "guest.rmdir",
]);

function done<T>(r: SysResult<T>, ret: (v: T) => number): StepActual {
  return r.ok ? { ret: toHex(ret(r.value)) } : { errno: r.errno };
}
