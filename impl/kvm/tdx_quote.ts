// In-kernel quoting with the TDX module's Quoting extension, after the 2026 Linux series
// "Enable DICE-based TDX Quoting Extension": once the host has brought the extension up
// (TDH.QUOTE.INIT done, MAX_QUOTE_SIZE readable), it keeps one quote buffer - MAX_QUOTE_SIZE
// rounded up to pages, described to the module by an HPA_LINKED_LIST - and KVM answers a
// TD's GetQuote itself with TDH.QUOTE.GET instead of exiting to userspace. The buffer's
// first page also carries the input (the TD's TDREPORT). Only version 1 requests whose
// header and input fit in the first page are served; a failed quote is reported in the
// buffer's status, as a VMM would. SetupEventNotifyInterrupt is offered only with
// userspace quoting (tdvmcall.ts, tdx_vm_ops.ts).
import type { Spec } from "../spec/mod.ts";
import { encodeBits } from "../spec/bits.ts";
import { StructCodec } from "../spec/codec.ts";
import { parseHex } from "../spec/hex.ts";
import { PAGE_SIZE } from "../cpu/physical_memory.ts";
import { isFailure } from "./errno.ts";
import type { HostPages } from "./host_pages.ts";
import type { Seamcaller } from "./seamcall.ts";
import type { ExitResult } from "./tdvmcall.ts";
import type { KvmVcpu } from "./vcpu.ts";

const PAGE = BigInt(PAGE_SIZE);

/** The host's quote buffer (tdx_quote_buf in the series). */
export interface TdxQuoteBuffer {
  /** MAX_QUOTE_SIZE as the module reported it. */
  maxQuoteSize: number;
  /** Data pages, in order; the first also holds the input. */
  pages: bigint[];
  /** First HPA_LINKED_LIST node. */
  list: bigint;
  /** Bytes the list describes (R11). */
  length: bigint;
}

/** All ones in a u64: the HPA_LINKED_LIST terminator. */
const END = (1n << 64n) - 1n;

/**
 * Reads MAX_QUOTE_SIZE and builds the quote buffer and its list; undefined when the
 * module has no Quoting extension, it is not initialised, or host memory ran out.
 */
export function prepareQuoteBuffer(
  spec: Spec,
  seam: Seamcaller,
  lp: number,
  pages: HostPages,
  zero: (pa: bigint) => void,
): TdxQuoteBuffer | undefined {
  const md = spec.metadataField("global", "MAX_QUOTE_SIZE");
  const r = seam.call(lp, "TDH.SYS.RD", { field_id: parseHex(md.field_id) });
  if (r.status !== 0n) return undefined;
  const maxQuoteSize = Number(r.out.value & ((1n << BigInt(md.element_size * 8)) - 1n));
  if (maxQuoteSize === 0) return undefined;
  const node = spec.struct("HPA_LINKED_LIST_NODE");
  const perNode = node.fields.find((f) => f.name === "hpa")!.count!;
  const n = Math.ceil(maxQuoteSize / PAGE_SIZE);
  const nodes = Math.ceil(n / perNode);
  const got: bigint[] = [];
  for (let i = 0; i < n + nodes; i++) {
    const pa = pages.alloc();
    if (pa === undefined) {
      got.forEach((p) => pages.release(p));
      return undefined;
    }
    zero(pa);
    got.push(pa);
  }
  const data = got.slice(0, n);
  const lists = got.slice(n);
  const codec = new StructCodec(spec);
  lists.forEach((pa, i) => {
    const hpa = Array.from(
      { length: perNode },
      (_, j) => data[i * perNode + j] ?? END,
    );
    const bytes = codec.encode("HPA_LINKED_LIST_NODE", { hpa, next: lists[i + 1] ?? END });
    seam.cpu.memory.write(pa, bytes);
  });
  return { maxQuoteSize, pages: data, list: lists[0], length: BigInt(n) * PAGE };
}

interface QuoteHeader {
  version: bigint;
  in_len: number;
}

function field(spec: Spec, name: string) {
  return spec.struct("GETQUOTE_BUFFER").fields.find((f) => f.name === name)!;
}

function vmcall(vcpu: KvmVcpu, name: string): 1 {
  vcpu.args.R10 = vcpu.spec.statusValue(`TDG.VP.VMCALL_${name}`);
  return 1;
}

/** The VMM-side bytes behind a shared GPA (kvm_read_guest/kvm_write_guest). */
function guestHva(vcpu: KvmVcpu, gpa: bigint, length: number): bigint | undefined {
  const slot = vcpu.vm.memslots.find(gpa >> 12n);
  const last = vcpu.vm.memslots.find((gpa + BigInt(Math.max(length, 1)) - 1n) >> 12n);
  if (!slot || slot !== last) return undefined;
  return slot.userspaceAddr + (gpa - (slot.base << 12n));
}

function readGuest(vcpu: KvmVcpu, gpa: bigint, length: number): Uint8Array | undefined {
  const hva = guestHva(vcpu, gpa, length);
  if (hva === undefined) return undefined;
  const bytes = vcpu.vm.host.user.read(hva, length);
  return isFailure(bytes) ? undefined : bytes;
}

function writeGuest(vcpu: KvmVcpu, gpa: bigint, bytes: Uint8Array): boolean {
  const hva = guestHva(vcpu, gpa, bytes.length);
  return hva !== undefined && vcpu.vm.host.user.write(hva, bytes) === undefined;
}

function readHeader(vcpu: KvmVcpu, page: Uint8Array): QuoteHeader {
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  return {
    version: view.getBigUint64(field(vcpu.spec, "version").offset!, true),
    in_len: view.getUint32(field(vcpu.spec, "in_len").offset!, true),
  };
}

/** Writes status (and out_len) into the TD's buffer header. */
function setStatus(vcpu: KvmVcpu, gpa: bigint, status: string, outLen?: number): boolean {
  const spec = vcpu.spec;
  const s = new Uint8Array(8);
  new DataView(s.buffer).setBigUint64(0, spec.enumValue("GETQUOTE_STATUS", status), true);
  if (outLen !== undefined) {
    const o = new Uint8Array(4);
    new DataView(o.buffer).setUint32(0, outLen, true);
    if (!writeGuest(vcpu, gpa + BigInt(field(spec, "out_len").offset!), o)) return false;
  }
  return writeGuest(vcpu, gpa + BigInt(field(spec, "status").offset!), s);
}

/** TDH.QUOTE.GET, repeated while the module reports it was interrupted. */
function quoteGet(vcpu: KvmVcpu, buf: TdxQuoteBuffer, inLen: number) {
  const { spec, host } = vcpu.vm;
  const params = spec.seamcall("TDH.QUOTE.GET").inputs.find((i) => i.name === "quote_params")!;
  const id = params.fields!.find((f) => f.name === "quote_id")!;
  // QUOTE_ID all ones: the module's default quote format.
  const defaultFormat = (1n << BigInt(id.bits[1] - id.bits[0] + 1)) - 1n;
  const inputs = {
    tdr_pa: vcpu.vm.td.tdr!,
    quote_params: encodeBits(params.fields!, { quote_id: defaultFormat }),
    input_data_pa: buf.pages[0],
    input_data_len: BigInt(inLen),
    hpa_linked_list_pa: buf.list,
    buffer_len: buf.length,
  };
  let r = host.seam.call(vcpu.cpu, "TDH.QUOTE.GET", inputs);
  for (let i = 0; i < 10_000 && host.seam.is(r.status, "TDX_INTERRUPTED_RESUMABLE"); i++) {
    r = host.seam.call(vcpu.cpu, "TDH.QUOTE.GET", inputs);
  }
  return r;
}

/** The GetQuote TDVMCALL answered in the kernel. */
export function getQuoteInKernel(vcpu: KvmVcpu, gpa: bigint, size: bigint): ExitResult {
  const buf = vcpu.vm.host.quoteBuffer!;
  const spec = vcpu.spec;
  if (size === 0n) return vmcall(vcpu, "INVALID_OPERAND");
  if ((gpa | size) & (PAGE - 1n)) return vmcall(vcpu, "ALIGN_ERROR");
  // The header and the input must sit in the buffer's first page.
  const first = readGuest(vcpu, gpa, PAGE_SIZE);
  if (!first) return vmcall(vcpu, "INVALID_OPERAND");
  const h = readHeader(vcpu, first);
  const hdr = field(spec, "data").offset!;
  if (h.version !== BigInt(field(spec, "version").value!)) return vmcall(vcpu, "INVALID_OPERAND");
  if (h.in_len === 0 || hdr + h.in_len > PAGE_SIZE) return vmcall(vcpu, "INVALID_OPERAND");
  const cpuMem = vcpu.vm.host.cpu.memory;
  cpuMem.write(buf.pages[0], first.subarray(hdr, hdr + h.in_len));
  const r = quoteGet(vcpu, buf, h.in_len);
  const len = Number(r.out.quote_len ?? 0n);
  // Linux checks the length is not 0 and fits its buffer; then it must fit the TD's.
  let ok = r.status === spec.statusValue("TDX_SUCCESS") && len > 0 && BigInt(len) <= buf.length &&
    BigInt(hdr + len) <= size;
  if (ok) {
    const quote = new Uint8Array(len);
    for (let at = 0; at < len; at += PAGE_SIZE) {
      const n = Math.min(PAGE_SIZE, len - at);
      quote.set(cpuMem.read(buf.pages[at / PAGE_SIZE], n), at);
    }
    ok = writeGuest(vcpu, gpa + BigInt(hdr), quote) &&
      setStatus(vcpu, gpa, "GET_QUOTE_SUCCESS", len);
  }
  if (!ok && !setStatus(vcpu, gpa, "GET_QUOTE_ERROR")) return vmcall(vcpu, "INVALID_OPERAND");
  return vmcall(vcpu, "SUCCESS");
}
