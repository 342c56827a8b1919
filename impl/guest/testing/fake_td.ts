// Test support: a stand-in for the TDX module and the host VMM, so the guest driver's
// error paths can be provoked one by one. It answers the few TDCALLs the driver
// makes (with statuses a test can force), records TDVMCALLs, and lets a test play the
// host when the guest yields. Memory is a sparse map keyed by the full GPA.
import { sha384 } from "@noble/hashes/sha2.js";
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { encodeBits } from "../../spec/bits.ts";
import type { GuestPort } from "../../cpu/guest_execution.ts";
import type { InstructionOutcome } from "../../cpu/cpu.ts";
import type { Gpr, Registers } from "../../cpu/registers.ts";
import type { GuestMemory } from "../guest_memory.ts";

export class SparseMemory implements GuestMemory {
  private readonly pages = new Map<bigint, Uint8Array>();
  private page(gpa: bigint): Uint8Array {
    const key = gpa >> 12n;
    let p = this.pages.get(key);
    if (!p) this.pages.set(key, p = new Uint8Array(4096));
    return p;
  }
  read(gpa: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let done = 0; done < length;) {
      const a = gpa + BigInt(done);
      const off = Number(a & 0xFFFn);
      const n = Math.min(length - done, 4096 - off);
      out.set(this.page(a).subarray(off, off + n), done);
      done += n;
    }
    return out;
  }
  write(gpa: bigint, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length;) {
      const a = gpa + BigInt(done);
      const off = Number(a & 0xFFFn);
      const n = Math.min(bytes.length - done, 4096 - off);
      this.page(a).set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }
}

export interface VmcallRecord {
  name: string;
  regs: Registers;
}

/** What the fake host does when the guest exits with a TDVMCALL; sets R10 (and more). */
export type HostHandler = (call: VmcallRecord, td: FakeTd) => void;

export class FakeTd {
  readonly codec: StructCodec;
  readonly memory = new SparseMemory();
  readonly rtmr = [0, 1, 2, 3].map(() => new Uint8Array(48));
  readonly mrtd = new Uint8Array(48).fill(0xAB);
  /** Status to return from the next call of a TDCALL leaf, by name. */
  readonly forceStatus = new Map<string, bigint>();
  readonly calls: string[] = [];
  readonly vmcalls: VmcallRecord[] = [];
  gpaw = 48;
  host: HostHandler = answerAll;
  private exit = false;
  private pending?: VmcallRecord;

  constructor(readonly spec: Spec) {
    this.codec = new StructCodec(spec);
  }

  /** The vCPU's TDCALL instruction, as guest code sees it. */
  get port(): GuestPort {
    // deno-lint-ignore no-this-alias
    const self = this;
    return {
      lpId: 0,
      vcpuIndex: 0,
      tdcall: (regs) => self.tdcall(regs),
      vmExit: () => "the fake TD has no CPU to exit from",
      get exitRequested() {
        return self.exit;
      },
    };
  }

  count(name: string): number {
    return this.calls.filter((c) => c === name).length;
  }

  statusOf(name: string, detail?: string): bigint {
    const v = this.spec.statusValue(name);
    return detail ? v | this.spec.enumValue("OPERAND_ID", detail) : v;
  }

  private leafName(rax: bigint): string {
    const n = Number(rax & 0xFFFFn);
    for (const l of this.spec.tdcalls.values()) if (l.leaf === n) return l.name;
    throw new Error(`no TDCALL leaf ${n}`);
  }

  private tdcall(regs: Registers): InstructionOutcome {
    const name = this.leafName(regs.RAX);
    this.calls.push(name);
    const forced = this.forceStatus.get(name);
    if (forced !== undefined) {
      this.forceStatus.delete(name);
      regs.RAX = forced;
      return { kind: "completed" };
    }
    const reg = (n: string) => {
      const r = this.spec.tdcall(name).inputs.find((x) => x.name === n)!;
      return regs[r.reg as Gpr];
    };
    switch (name) {
      case "TDG.MR.REPORT": {
        const report = this.report(this.memory.read(reg("reportdata_gpa"), 64));
        this.memory.write(reg("tdreport_gpa"), report);
        break;
      }
      case "TDG.MR.RTMR.EXTEND": {
        const i = Number(reg("index"));
        const data = this.memory.read(reg("extend_data_gpa"), 48);
        this.rtmr[i] = sha384(new Uint8Array([...this.rtmr[i], ...data]));
        break;
      }
      case "TDG.VP.INFO": {
        const out = this.spec.tdcall(name).outputs.find((r) => r.name === "gpaw")!;
        regs[out.reg as Gpr] = encodeBits(out.fields!, { GPAW: BigInt(this.gpaw) });
        break;
      }
      case "TDG.VP.VMCALL": {
        const sub = regs.R11;
        const call = [...this.spec.tdvmcalls.values()].find((c) => BigInt(c.subfunction) === sub);
        this.pending = { name: call?.name ?? `0x${sub.toString(16)}`, regs };
        this.vmcalls.push(this.pending);
        this.exit = true;
        break;
      }
      default:
        throw new Error(`the fake TD does not model ${name}`);
    }
    regs.RAX = this.spec.statusValue("TDX_SUCCESS");
    return { kind: "completed" };
  }

  /** A TDREPORT with this fake's measurements and the given REPORTDATA (no real MAC). */
  report(reportData: Uint8Array): Uint8Array {
    const r = this.codec.decode("TDREPORT_STRUCT", new Uint8Array(1024)).value;
    (r.report_mac_struct as DecodedStruct).report_data = reportData;
    const info = r.td_info as DecodedStruct;
    info.mr_td = this.mrtd;
    info.mr_config_id = new Uint8Array(48).fill(1);
    info.mr_owner = new Uint8Array(48).fill(2);
    info.mr_owner_config = new Uint8Array(48).fill(3);
    this.rtmr.forEach((v, i) => (info[`rtmr${i}`] = v.slice()));
    return this.codec.encode("TDREPORT_STRUCT", r);
  }

  /** Runs guest code to its end, playing the host at every TD exit. */
  drive<T>(gen: Generator<void, T, void>): T {
    for (;;) {
      const step = gen.next();
      if (step.done) return step.value;
      if (!this.exit || !this.pending) throw new Error("the guest yielded without a TD exit");
      this.exit = false;
      const call = this.pending;
      this.pending = undefined;
      this.host(call, this);
    }
  }

  /** Sets the TDVMCALL status in R10, as the host does. */
  answer(call: VmcallRecord, status: string): void {
    call.regs.R10 = this.spec.statusValue(status);
  }
}

/** Default host: every TDVMCALL succeeds; GetQuote completes at once with a fixed quote. */
export function answerAll(call: VmcallRecord, td: FakeTd): void {
  if (call.name === "GetQuote") completeQuote(td, call.regs.R12, QUOTE);
  td.answer(call, "TDG.VP.VMCALL_SUCCESS");
}

export const QUOTE = new TextEncoder().encode("a quote from the fake host");

/** The host's side of GetQuote: status, out_len and the quote written into the buffer. */
export function completeQuote(
  td: FakeTd,
  gpa: bigint,
  quote: Uint8Array,
  status = "GET_QUOTE_SUCCESS",
): void {
  const head = td.codec.decode("GETQUOTE_BUFFER", td.memory.read(gpa, 24)).value;
  head.status = td.spec.enumValue("GETQUOTE_STATUS", status);
  head.out_len = quote.length;
  head.data = quote;
  td.memory.write(gpa, td.codec.encode("GETQUOTE_BUFFER", head));
}

/** The host accepted the request and is still working on it. */
export function markInFlight(td: FakeTd, gpa: bigint): void {
  const head = td.codec.decode("GETQUOTE_BUFFER", td.memory.read(gpa, 24)).value;
  head.status = td.spec.enumValue("GETQUOTE_STATUS", "GET_QUOTE_IN_FLIGHT");
  head.data = new Uint8Array(0);
  td.memory.write(gpa, td.codec.encode("GETQUOTE_BUFFER", head));
}

/** A TD HOB at `hobAddress` describing added and unaccepted RAM, for the kernel's boot. */
export function writeHob(
  td: FakeTd,
  hobAddress: bigint,
  ranges: { address: bigint; length: bigint; added: boolean }[],
): void {
  const c = td.codec;
  const spec = td.spec;
  const t = (n: string) => Number(spec.enumValue("EFI_HOB_TYPE", n));
  const parts: Uint8Array[] = [];
  const end = hobAddress + 56n + 48n * BigInt(ranges.length) + 8n;
  parts.push(c.encode("EFI_HOB_HANDOFF_INFO_TABLE", {
    header: { hob_type: t("HANDOFF"), hob_length: 56 },
    boot_mode: 0,
    efi_memory_top: 0n,
    efi_memory_bottom: 0n,
    efi_free_memory_top: 0n,
    efi_free_memory_bottom: 0n,
    efi_end_of_hob_list: end,
  }));
  for (const r of ranges) {
    parts.push(c.encode("EFI_HOB_RESOURCE_DESCRIPTOR", {
      header: { hob_type: t("RESOURCE_DESCRIPTOR"), hob_length: 48 },
      owner: { data1: 0, data2: 0, data3: 0, data4: new Uint8Array(8) },
      resource_type: Number(
        spec.enumValue("EFI_RESOURCE_TYPE", r.added ? "SYSTEM_MEMORY" : "MEMORY_UNACCEPTED"),
      ),
      resource_attribute: 7,
      physical_start: r.address,
      resource_length: r.length,
    }));
  }
  parts.push(c.encode("EFI_HOB_GENERIC_HEADER", { hob_type: t("END_OF_HOB_LIST"), hob_length: 8 }));
  let at = hobAddress;
  for (const p of parts) {
    td.memory.write(at, p);
    at += BigInt(p.length);
  }
}
