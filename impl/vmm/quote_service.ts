// GetQuote on the host side, as QEMU handles the KVM_EXIT_TDX exit: check the shared
// buffer, mark it in flight, hand the TD's input to a quote service, and later write
// the quote and the final status back and notify the guest. The service is pluggable
// and may answer later (a Promise): QgsQuoteService asks a QGS over a socket;
// `EchoQuoteService` is a stand-in that echoes the input.
import type { Spec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";

/** The VMM's access to guest memory by GPA (shared bit stripped, as KVM reports it). */
export interface VmmMemory {
  read(gpa: bigint, length: number): Uint8Array;
  write(gpa: bigint, bytes: Uint8Array): void;
}

export type QuoteOutcome =
  | { status: "GET_QUOTE_SUCCESS"; quote: Uint8Array }
  | { status: "GET_QUOTE_ERROR" }
  | { status: "GET_QUOTE_SERVICE_UNAVAILABLE" };

export interface QuoteService {
  /**
   * Turns the TD's input (a TDREPORT for Linux's driver) into a quote, at once or later.
   * Asked when the request arrives, as QEMU connects to the QGS at once.
   */
  generate(input: Uint8Array): QuoteOutcome | Promise<QuoteOutcome>;
}

/** Stand-in service: "signs" nothing, returns the TDREPORT it was given as the quote. */
export class EchoQuoteService implements QuoteService {
  generate(input: Uint8Array): QuoteOutcome {
    return { status: "GET_QUOTE_SUCCESS", quote: input.slice() };
  }
}

/** QEMU's limits: at most 128 KiB buffers and 16 requests in flight. */
export const GET_QUOTE_MAX_BUF_LEN = 128 * 1024;
export const MAX_QUOTES_IN_FLIGHT = 16;
const PAGE = 4096n;

interface Pending {
  gpa: bigint;
  size: bigint;
  /** VMM loop turns left before the request may complete. */
  delay: number;
  /** The service's answer, once it has one. */
  outcome?: QuoteOutcome;
  /** Settles when an asynchronous service has answered. */
  answered?: Promise<void>;
}

export interface QuoteHostOptions {
  /** No service configured: requests complete at once with SERVICE_UNAVAILABLE. */
  service?: QuoteService;
  /** Guest exits to let pass before a request completes (0: before the vCPU resumes). */
  latency?: number;
}

export class QuoteHost {
  private readonly codec: StructCodec;
  private readonly pending: Pending[] = [];
  /** SetupEventNotifyInterrupt: the vector and the vCPU to notify. */
  notify?: { vector: number; vcpu: number };
  /** Interrupts sent to the guest (vector and vCPU), for tests and traces. */
  readonly delivered: { vector: number; vcpu: number }[] = [];

  constructor(
    private readonly spec: Spec,
    private readonly memory: VmmMemory,
    private readonly options: QuoteHostOptions = {},
  ) {
    this.codec = new StructCodec(spec);
  }

  private headerSize(): number {
    return this.spec.struct("GETQUOTE_BUFFER").fields.find((f) => f.name === "data")!.offset!;
  }

  private readHeader(gpa: bigint): Record<string, bigint | number> {
    const bytes = this.memory.read(gpa, this.headerSize());
    const view = new DataView(bytes.buffer);
    const out: Record<string, bigint | number> = {};
    for (const f of this.spec.struct("GETQUOTE_BUFFER").fields) {
      if (f.type === "u64") out[f.name] = view.getBigUint64(f.offset!, true);
      if (f.type === "u32") out[f.name] = view.getUint32(f.offset!, true);
    }
    return out;
  }

  private writeHeader(gpa: bigint, h: Record<string, bigint | number>): void {
    const enc = this.codec.encode("GETQUOTE_BUFFER", {
      version: h.version,
      status: h.status,
      in_len: h.in_len,
      out_len: h.out_len,
      data: new Uint8Array(0),
    });
    this.memory.write(gpa, enc);
  }

  private status(name: string): bigint {
    return this.spec.enumValue("GETQUOTE_STATUS", name);
  }

  /** The KVM_EXIT_TDX GetQuote exit: returns the TDVMCALL status name for `ret`. */
  request(gpa: bigint, size: bigint): string {
    if (size === 0n) return "TDG.VP.VMCALL_INVALID_OPERAND";
    if (gpa % PAGE !== 0n || size % PAGE !== 0n) return "TDG.VP.VMCALL_ALIGN_ERROR";
    const h = this.readHeader(gpa);
    const version = this.spec.struct("GETQUOTE_BUFFER").fields.find((f) => f.name === "version")!;
    if (BigInt(h.version) !== BigInt(version.value!)) return "TDG.VP.VMCALL_INVALID_OPERAND";
    const hdr = BigInt(this.headerSize());
    if (size > BigInt(GET_QUOTE_MAX_BUF_LEN) || BigInt(h.in_len) > size - hdr) {
      return "TDG.VP.VMCALL_INVALID_OPERAND";
    }
    if (!this.options.service) {
      this.writeHeader(gpa, { ...h, status: this.status("GET_QUOTE_SERVICE_UNAVAILABLE") });
      return "TDG.VP.VMCALL_SUCCESS";
    }
    if (this.pending.length >= MAX_QUOTES_IN_FLIGHT) return "TDG.VP.VMCALL_RETRY";
    const input = this.memory.read(gpa + hdr, Number(h.in_len));
    this.writeHeader(gpa, { ...h, status: this.status("GET_QUOTE_IN_FLIGHT") });
    const p: Pending = { gpa, size, delay: this.options.latency ?? 0 };
    const failed: QuoteOutcome = { status: "GET_QUOTE_ERROR" };
    try {
      const out = this.options.service.generate(input);
      if (out instanceof Promise) {
        p.answered = out.then((o) => void (p.outcome = o), () => void (p.outcome = failed));
      } else p.outcome = out;
    } catch {
      p.outcome = failed;
    }
    this.pending.push(p);
    if ((this.options.latency ?? 0) === 0) this.tick();
    return "TDG.VP.VMCALL_SUCCESS";
  }

  /** One turn of the VMM loop: answered requests whose time has come complete. */
  tick(): void {
    for (const p of [...this.pending]) {
      if (p.delay > 0) {
        p.delay--;
        continue;
      }
      if (!p.outcome) continue;
      this.pending.splice(this.pending.indexOf(p), 1);
      this.complete(p, p.outcome);
    }
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Whether a request waits for an asynchronous service's answer. */
  get awaitingAnswer(): boolean {
    return this.pending.some((p) => !p.outcome);
  }

  /**
   * Resolves when one of the awaited answers arrives, or after `timeoutMs` (the VMM's
   * event loop: the guest's next timer tick comes either way).
   */
  async nextAnswer(timeoutMs: number): Promise<void> {
    const waiting = this.pending.filter((p) => !p.outcome && p.answered).map((p) => p.answered!);
    if (!waiting.length) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    try {
      await Promise.race([...waiting, tick]);
    } finally {
      clearTimeout(timer);
    }
  }

  private complete(p: Pending, out: QuoteOutcome): void {
    const h = this.readHeader(p.gpa);
    const hdr = BigInt(this.headerSize());
    if (out.status === "GET_QUOTE_SUCCESS" && BigInt(out.quote.length) <= p.size - hdr) {
      this.memory.write(p.gpa + hdr, out.quote);
      h.out_len = out.quote.length;
      h.status = this.status("GET_QUOTE_SUCCESS");
    } else if (out.status === "GET_QUOTE_SERVICE_UNAVAILABLE") {
      h.status = this.status("GET_QUOTE_SERVICE_UNAVAILABLE");
    } else {
      h.status = this.status("GET_QUOTE_ERROR");
    }
    this.writeHeader(p.gpa, h);
    if (this.notify) this.delivered.push({ ...this.notify });
  }

  /** SetupEventNotifyInterrupt: QEMU keeps a vector in 32..255 and the calling vCPU. */
  setupNotify(vector: bigint, vcpu: number): string {
    if (vector < 32n || vector > 255n) return "TDG.VP.VMCALL_INVALID_OPERAND";
    this.notify = { vector: Number(vector), vcpu };
    return "TDG.VP.VMCALL_SUCCESS";
  }
}
