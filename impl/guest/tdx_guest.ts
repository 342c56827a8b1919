// The tdx_guest driver's core, as Linux 7.2 behaves: one TDREPORT buffer shared by
// the report ioctl, the measurement files and the quote path, under one lock
// (TDG.MR.REPORT and TDG.MR.RTMR.EXTEND never run concurrently); a shared GetQuote
// buffer; and the GetQuote wait. The file interfaces live in dev_tdx_guest.ts,
// measurements.ts and tsm_report.ts.
import type { Spec } from "../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../spec/codec.ts";
import { decodeBits } from "../spec/bits.ts";
import type { GuestPort } from "../cpu/guest_execution.ts";
import { err, type Errno, ok, type SysResult } from "./errno.ts";
import type { GuestMemory, RangeAllocator } from "./guest_memory.ts";
import { tdcall, tdcallErrno, tdvmcall } from "./tdx_calls.ts";

/** Linux's GetQuote buffer: 128 KiB of shared memory (spec tsm_report.outblob notes). */
export const GET_QUOTE_BUF_SIZE = 128 * 1024;
/** Linux polls the GetQuote status once a second for at most this many seconds. */
export const GET_QUOTE_TIMEOUT_POLLS = 30;
const PAGE = 4096;

/** How the driver waits for the host to finish a GetQuote. */
export type QuoteWait =
  /** Linux 7.2: sleep a second between looks at the buffer status. */
  | { kind: "poll" }
  /** Register `vector` with SetupEventNotifyInterrupt and halt until the host signals. */
  | { kind: "notify"; vector: number };

/** The calling user task: a pending signal makes interruptible waits fail with EINTR. */
export interface Task {
  signalPending: boolean;
}

export interface KernelServices {
  spec: Spec;
  port: GuestPort;
  memory: GuestMemory;
  /** Private memory the kernel may use at once (already added by the VMM). */
  privateMemory: RangeAllocator;
  /** Guest-physical space not backed by private pages, usable for shared buffers. */
  sharedSpace: RangeAllocator;
}

/** A sleep: the idle vCPU halts (a TD exit) until a timer or an interrupt wakes it. */
export function* sleep(k: KernelServices): Generator<void, void, void> {
  yield* tdvmcall(k.spec, k.port, "Instruction.HLT", { interrupt_blocked: 0n });
}

export class TdxGuestDriver {
  private readonly codec: StructCodec;
  /** The TDREPORT buffer (1024-byte aligned private memory). */
  readonly reportBuffer: bigint;
  /** Shared GPA (shared bit set) of the GetQuote buffer. */
  readonly quoteBuffer: bigint;
  /** Vector registered with the host, in notify mode. */
  readonly notifyVector?: number;

  private constructor(
    readonly k: KernelServices,
    reportBuffer: bigint,
    quoteBuffer: bigint,
    readonly wait: QuoteWait,
  ) {
    this.codec = new StructCodec(k.spec);
    this.reportBuffer = reportBuffer;
    this.quoteBuffer = quoteBuffer;
    if (wait.kind === "notify") this.notifyVector = wait.vector;
  }

  /**
   * Module init: allocate the report buffer and read a first TDREPORT (the
   * measurement files need values), then the shared quote buffer (MapGPA), then in
   * notify mode the completion vector. Any failure leaves the driver unloaded.
   */
  static *load(
    k: KernelServices,
    wait: QuoteWait = { kind: "poll" },
  ): Generator<void, SysResult<TdxGuestDriver>, void> {
    const tdreportSize = k.spec.struct("TDREPORT_STRUCT").size as number;
    const report = k.privateMemory.alloc(tdreportSize, tdreportSize);
    if (report === undefined) return err("ENOMEM");
    k.memory.write(report, new Uint8Array(tdreportSize));
    const first = reportInto(k, report);
    if (first) return err(first);
    const quote = yield* allocSharedBuffer(k, GET_QUOTE_BUF_SIZE);
    if (quote === undefined) return err("ENOMEM");
    if (wait.kind === "notify") {
      const r = yield* tdvmcall(k.spec, k.port, "SetupEventNotifyInterrupt", {
        vector: BigInt(wait.vector),
      });
      if (r.status !== k.spec.statusValue("TDG.VP.VMCALL_SUCCESS")) return err("EIO");
    }
    return ok(new TdxGuestDriver(k, report, quote, wait));
  }

  /** Byte offset of REPORTDATA inside the TDREPORT (the driver reuses that spot). */
  get reportDataGpa(): bigint {
    const mac = this.k.spec.struct("TDREPORT_STRUCT").fields.find((f) =>
      f.name === "report_mac_struct"
    )!;
    const rd = this.k.spec.struct("REPORTMACSTRUCT").fields.find((f) => f.name === "report_data")!;
    return this.reportBuffer + BigInt(mac.offset! + rd.offset!);
  }

  /**
   * tdx_do_report: REPORTDATA in (from `readData`, or the buffer's current bytes when
   * absent), TDG.MR.REPORT, the TDREPORT out (to `writeReport` when given). Copy
   * failures are EFAULT; TDCALL failures map as Linux maps them.
   */
  doReport(
    task: Task,
    readData?: () => Uint8Array | undefined,
    writeReport?: (tdreport: Uint8Array) => boolean,
  ): SysResult<Uint8Array> {
    if (task.signalPending) return err("EINTR");
    if (readData) {
      const data = readData();
      if (!data) return err("EFAULT");
      this.k.memory.write(this.reportDataGpa, data);
    }
    const e = reportInto(this.k, this.reportBuffer, this.reportDataGpa);
    if (e) return err(e);
    const tdreport = this.reportBytes();
    if (writeReport && !writeReport(tdreport)) return err("EFAULT");
    return ok(tdreport);
  }

  /** tdx_do_extend: 48 bytes into RTMR[index] through the 64-byte aligned REPORTDATA spot. */
  doExtend(task: Task, index: number, data: Uint8Array): Errno | undefined {
    if (task.signalPending) return "EINTR";
    this.k.memory.write(this.reportDataGpa, data);
    const r = tdcall(this.k.spec, this.k.port, "TDG.MR.RTMR.EXTEND", {
      extend_data_gpa: this.reportDataGpa,
      index,
    });
    return tdcallErrno(this.k.spec, r.status);
  }

  /** The report buffer's bytes as they are now. */
  reportBytes(): Uint8Array {
    return this.k.memory.read(
      this.reportBuffer,
      this.k.spec.struct("TDREPORT_STRUCT").size as number,
    );
  }

  decodeReport(): DecodedStruct {
    return this.codec.decode("TDREPORT_STRUCT", this.reportBytes()).value;
  }

  /**
   * tdx_report_new_locked: TDREPORT over `inblob` straight into the shared buffer,
   * GetQuote, wait, and the quote bytes. Linux's wait has an off-by-one: a request
   * still in flight after the last poll ends as EIO (and leaves the buffer busy), while
   * one that completes during the last second ends as ETIMEDOUT.
   */
  *getQuote(task: Task, inblob: Uint8Array): Generator<void, SysResult<Uint8Array>, void> {
    const { spec } = this.k;
    if (task.signalPending) return err("EINTR");
    const inFlight = spec.enumValue("GETQUOTE_STATUS", "GET_QUOTE_IN_FLIGHT");
    const header = this.readQuoteHeader();
    if (header.status === inFlight) return err("EBUSY");
    if (inblob.length !== reportDataSize(spec)) return err("EINVAL");
    const tdreportSize = spec.struct("TDREPORT_STRUCT").size as number;
    this.k.memory.write(this.quoteBuffer, new Uint8Array(GET_QUOTE_BUF_SIZE));
    this.k.memory.write(
      this.quoteBuffer,
      this.codec.encode("GETQUOTE_BUFFER", {
        status: 0n,
        in_len: tdreportSize,
        out_len: 0,
        data: new Uint8Array(0),
      }),
    );
    const dataAt = this.quoteBuffer + BigInt(this.dataOffset());
    const rep = this.doReport(task, () => inblob, (bytes) => {
      this.k.memory.write(dataAt, bytes);
      return true;
    });
    if (!rep.ok) return rep;
    const call = yield* tdvmcall(spec, this.k.port, "GetQuote", {
      buffer_gpa: this.quoteBuffer,
      buffer_size: BigInt(GET_QUOTE_BUF_SIZE),
    });
    if (call.status !== spec.statusValue("TDG.VP.VMCALL_SUCCESS")) return err("EIO");
    let i = 0;
    while (this.readQuoteHeader().status === inFlight && i++ < GET_QUOTE_TIMEOUT_POLLS) {
      yield* sleep(this.k);
      if (task.signalPending) return err("EINTR");
    }
    if (i === GET_QUOTE_TIMEOUT_POLLS) return err("ETIMEDOUT");
    const done = this.readQuoteHeader();
    if (done.status !== spec.enumValue("GETQUOTE_STATUS", "GET_QUOTE_SUCCESS")) return err("EIO");
    if (done.out_len > GET_QUOTE_BUF_SIZE - this.dataOffset()) return err("EFBIG");
    return ok(this.k.memory.read(dataAt, done.out_len));
  }

  private dataOffset(): number {
    return this.k.spec.struct("GETQUOTE_BUFFER").fields.find((f) => f.name === "data")!.offset!;
  }

  /**
   * The buffer header's status, in_len and out_len. Read field by field: a buffer the
   * host has not touched yet still has version 0, which the codec would refuse.
   */
  readQuoteHeader(): { status: bigint; in_len: number; out_len: number } {
    const bytes = this.k.memory.read(this.quoteBuffer, this.dataOffset());
    const view = new DataView(bytes.buffer);
    const at = (name: string) =>
      this.k.spec.struct("GETQUOTE_BUFFER").fields.find((f) => f.name === name)!.offset!;
    return {
      status: view.getBigUint64(at("status"), true),
      in_len: view.getUint32(at("in_len"), true),
      out_len: view.getUint32(at("out_len"), true),
    };
  }
}

/** REPORTDATA's size (TDX_REPORTDATA_LEN): what an inblob must be for tdx_guest. */
export function reportDataSize(spec: Spec): number {
  return spec.struct("REPORTMACSTRUCT").fields.find((f) => f.name === "report_data")!.size!;
}

/** TDG.MR.REPORT into `tdreport` over the REPORTDATA at `reportdata` (subtype 0). */
function reportInto(k: KernelServices, tdreport: bigint, reportdata?: bigint): Errno | undefined {
  const mac = k.spec.struct("REPORTMACSTRUCT").fields.find((f) => f.name === "report_data")!;
  const r = tdcall(k.spec, k.port, "TDG.MR.REPORT", {
    tdreport_gpa: tdreport,
    reportdata_gpa: reportdata ?? tdreport + BigInt(mac.offset!),
    subtype: 0,
  });
  return tdcallErrno(k.spec, r.status);
}

/**
 * alloc_quote_buf: guest-physical pages made shared with MapGPA (the shared bit of the
 * TD's GPA width selects the shared alias). Returns the shared GPA.
 */
function* allocSharedBuffer(
  k: KernelServices,
  size: number,
): Generator<void, bigint | undefined, void> {
  const gpa = k.sharedSpace.alloc(size, PAGE);
  if (gpa === undefined) return undefined;
  const info = tdcall(k.spec, k.port, "TDG.VP.INFO");
  const gpawField = k.spec.tdcall("TDG.VP.INFO").outputs.find((r) => r.name === "gpaw")!;
  const gpaw = decodeBits(gpawField.fields!, info.out.gpaw).fields.GPAW;
  const shared = gpa | (1n << (gpaw - 1n));
  let from = shared;
  const end = shared + BigInt(size);
  // The host may convert part of the range and ask to continue (RETRY with R11).
  while (from < end) {
    const r = yield* tdvmcall(k.spec, k.port, "MapGPA", { gpa: from, size: end - from });
    if (r.status === k.spec.statusValue("TDG.VP.VMCALL_SUCCESS")) break;
    if (r.status !== k.spec.statusValue("TDG.VP.VMCALL_RETRY")) return undefined;
    from = r.out.resume_gpa;
  }
  k.memory.write(shared, new Uint8Array(size));
  return shared;
}
