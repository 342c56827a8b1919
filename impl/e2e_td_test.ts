// End to end: the Debian OVMF image booted on the whole reference stack (launcher, KVM,
// TDX module, guest kernel with the tdx_guest driver). The guest extends RTMRs through
// sysfs, takes a TDREPORT through /dev/tdx_guest and a quote through configfs-tsm; the
// test checks the report against values computed here independently.
import { strict as assert } from "node:assert";
import { sha384 } from "@noble/hashes/sha2.js";
import { theSpec } from "./spec/mod.ts";
import { type DecodedStruct, StructCodec } from "./spec/codec.ts";
import { bytesToHex, parseHex } from "./spec/hex.ts";
import { parseTdvf, type TdvfFirmware } from "./vmm/tdvf.ts";
import { EchoQuoteService } from "./vmm/quote_service.ts";
import { runTdSession, type TdSessionOptions } from "./platform/td_stack.ts";
import { independentMrtd } from "./vmm/testing/independent_mrtd.ts";
import type { Process } from "./guest/process.ts";
import { tdcall } from "./guest/tdx_calls.ts";

const spec = theSpec();
const codec = new StructCodec(spec);
const FW = new URL("../fixtures/realdata/firmware/", import.meta.url);
function firmware(name: string): TdvfFirmware {
  const r = parseTdvf(spec, Deno.readFileSync(new URL(name, FW)));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}
const DEBIAN = firmware("OVMF-debian-2022.11-6+deb12u2.fd");

const path = (item: string) => spec.guestInterface(item).path;
const REPORT_DATA = Uint8Array.from({ length: 64 }, (_, i) => (i * 5 + 1) & 0xFF);
const EXTENDS = [
  { index: 0, data: new Uint8Array(48).fill(0x11) },
  { index: 2, data: new Uint8Array(48).fill(0x22) },
  { index: 2, data: new Uint8Array(48).fill(0x33) },
  { index: 3, data: Uint8Array.from({ length: 48 }, (_, i) => i) },
];

/** The guest's TDREPORT from TDX_CMD_GET_REPORT0. */
function* getReport0(p: Process, reportData: Uint8Array): Generator<void, Uint8Array, void> {
  const ioctl = spec.ioctl("TDX_CMD_GET_REPORT0");
  const fd = yield* p.open(path("dev.tdx_guest"), "rw");
  assert.ok(fd.ok);
  const arg = p.memory.map(spec.struct("tdx_report_req").size as number);
  p.memory.poke(arg, reportData);
  const r = yield* p.ioctl(fd.value, parseHex(ioctl.number), arg);
  assert.deepEqual(r, { ok: true, value: 0 });
  return p.memory.peek(arg + 64n, 1024);
}

/** TDG.MR.VERIFYREPORT over a REPORTMACSTRUCT, placed in the guest's private memory. */
function verifyReport(p: Process, macStruct: Uint8Array): string {
  const k = p.kernel.services;
  const gpa = k.privateMemory.alloc(256, 256)!;
  k.memory.write(gpa, macStruct);
  const r = tdcall(spec, k.port, "TDG.MR.VERIFYREPORT", { reportmacstruct_gpa: gpa });
  const code = r.status & ~0xFFFF_FFFFn;
  return [...spec.statuses.values()].find((s) => s.namespace === "tdx" && BigInt(s.value) === code)!
    .name;
}

function session(
  fw: TdvfFirmware,
  script: (p: Process) => Generator<void, void, void>,
  o: TdSessionOptions = {},
) {
  const r = runTdSession(fw, script, o);
  if (!r.ok) throw new Error(`${r.error.step}: ${r.error.message}`);
  assert.ok(r.value.guest.finished);
  return r.value;
}

function rtmrChain(extends_: typeof EXTENDS): Uint8Array[] {
  const rtmr = [0, 1, 2, 3].map(() => new Uint8Array(48));
  for (const e of extends_) rtmr[e.index] = sha384(new Uint8Array([...rtmr[e.index], ...e.data]));
  return rtmr;
}

Deno.test("e2e: the Debian TDVF TD's TDREPORT carries its MRTD, the RTMRs and valid hashes and MAC", () => {
  let mrtdFile: Uint8Array | undefined;
  let report: Uint8Array | undefined;
  const rtmrFiles: Uint8Array[] = [];
  const verdicts: string[] = [];
  session(DEBIAN, function* (p) {
    const m = yield* p.readFile(path("tdx_guest.mrtd"));
    assert.ok(m.ok);
    mrtdFile = m.value;
    for (const e of EXTENDS) {
      assert.deepEqual(yield* p.writeFile(path(`tdx_guest.rtmr${e.index}`), e.data), {
        ok: true,
        value: 48,
      });
    }
    for (let i = 0; i < 4; i++) {
      const r = yield* p.readFile(path(`tdx_guest.rtmr${i}`));
      assert.ok(r.ok);
      rtmrFiles.push(r.value);
    }
    report = yield* getReport0(p, REPORT_DATA);
    const mac = report.slice(0, 256);
    verdicts.push(verifyReport(p, mac));
    const tampered = mac.slice();
    tampered[128] ^= 0x01; // one bit of REPORTDATA
    verdicts.push(verifyReport(p, tampered));
  });
  const r = codec.decode("TDREPORT_STRUCT", report!).value;
  const mac = r.report_mac_struct as DecodedStruct;
  const info = r.td_info as Record<string, Uint8Array>;
  // MRTD: the value measure prints (the guest's mrtd:sha384), the independent computation.
  const expectedMrtd = independentMrtd(spec, DEBIAN.image, DEBIAN.sections);
  assert.equal(bytesToHex(info.mr_td), bytesToHex(expectedMrtd));
  assert.deepEqual(mrtdFile, info.mr_td);
  assert.equal(
    bytesToHex(info.mr_td),
    "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47",
  );
  // RTMRs: the extends, chained with SHA-384, in the report and in the sysfs files.
  const rtmr = rtmrChain(EXTENDS);
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(info[`rtmr${i}`], rtmr[i], `rtmr${i}`);
    assert.deepEqual(rtmrFiles[i], rtmr[i], `rtmr${i}:sha384`);
  }
  assert.deepEqual(mac.report_data, REPORT_DATA);
  // TEE_INFO_HASH covers TDINFO_STRUCT; TEE_TCB_INFO_HASH the TEE_TCB_INFO's declared bytes.
  const tdinfoAt = spec.struct("TDREPORT_STRUCT").fields.find((f) => f.name === "td_info")!;
  const tcbAt = spec.struct("TDREPORT_STRUCT").fields.find((f) => f.name === "tee_tcb_info")!;
  const tdinfo = report!.subarray(tdinfoAt.offset!, tdinfoAt.offset! + tdinfoAt.size!);
  const tcb = report!.subarray(
    tcbAt.offset!,
    tcbAt.offset! + (spec.struct("TEE_TCB_INFO").size as number),
  );
  assert.deepEqual(mac.tee_info_hash, sha384(tdinfo));
  assert.deepEqual(mac.tee_tcb_info_hash, sha384(tcb));
  // TDG.MR.VERIFYREPORT: the genuine structure verifies, a one-bit change does not.
  assert.deepEqual(verdicts, ["TDX_SUCCESS", "TDX_INVALID_REPORTMACSTRUCT"]);
});

Deno.test("e2e: the Ubuntu TDVF image measures to the MRTD real TDX hardware reports", () => {
  const ubuntu = firmware("OVMF-ubuntu-2025.02-3ubuntu2.fd");
  let mrtd: Uint8Array | undefined;
  session(ubuntu, function* (p) {
    const m = yield* p.readFile(path("tdx_guest.mrtd"));
    if (m.ok) mrtd = m.value;
  });
  assert.deepEqual(mrtd, independentMrtd(spec, ubuntu.image, ubuntu.sections));
  // tinfoilsh/verifier sigstore/sigstore_test.go (TestFetchHardwarePlatformMeasurements)
  // expects this MRTD for its platform measured with the same ovmf_2025.02-3ubuntu2
  // OVMF.fd (sha256 9e807cb2...46bf), the value real TDX quotes of those TDs carry.
  assert.equal(
    bytesToHex(mrtd!),
    "7357a10d2e2724dffe68813e3cc4cfcde6814d749f2fb62e3953e54f6e0b50a219786afe2cd478f684b52c61837e1114",
  );
});

function* quoteScript(p: Process, out: { outblob?: unknown; report?: Uint8Array }) {
  const dir = `${spec.guestInterface("tsm_report.inblob").path.split("/<name>/")[0]}/e2e`;
  assert.ok((yield* p.mkdir(dir)).ok);
  assert.ok((yield* p.writeFile(`${dir}/inblob`, REPORT_DATA)).ok);
  out.outblob = yield* p.readFile(`${dir}/outblob`);
}

Deno.test("e2e: configfs-tsm quote through KVM_EXIT_TDX GetQuote and the VMM's quote service", () => {
  const out: { outblob?: unknown } = {};
  const s = session(DEBIAN, (p) => quoteScript(p, out), {
    quote: { service: new EchoQuoteService() },
  });
  const blob = out.outblob as { ok: true; value: Uint8Array };
  assert.ok(blob.ok);
  // The stand-in service echoes the TDREPORT the guest put in the shared buffer.
  const r = codec.decode("TDREPORT_STRUCT", blob.value).value;
  assert.deepEqual((r.report_mac_struct as DecodedStruct).report_data, REPORT_DATA);
  assert.equal(s.run.exits.KVM_EXIT_TDX, 1);
  assert.ok(s.run.exits.KVM_EXIT_HYPERCALL >= 1, "MapGPA made the quote buffer shared");
});

Deno.test("e2e: a slow quote service is polled for; notify mode gets the interrupt", () => {
  const polled: { outblob?: unknown } = {};
  const a = session(DEBIAN, (p) => quoteScript(p, polled), {
    quote: { service: new EchoQuoteService(), latency: 3 },
  });
  assert.ok((polled.outblob as { ok: boolean }).ok);
  assert.ok(
    a.run.exits["EINTR/KVM_EXIT_INTR"] >= 3,
    "the guest slept while the quote was in flight",
  );
  const notified: { outblob?: unknown } = {};
  const b = session(DEBIAN, (p) => quoteScript(p, notified), {
    quote: { service: new EchoQuoteService(), latency: 2 },
    quoteWait: { kind: "notify", vector: 0xF3 },
  });
  assert.ok((notified.outblob as { ok: boolean }).ok);
  assert.deepEqual(b.td.quotes.delivered, [{ vector: 0xF3, vcpu: 0 }]);
});

Deno.test("e2e: without a quote service the buffer says unavailable and outblob fails with EIO", () => {
  const out: { outblob?: unknown } = {};
  session(DEBIAN, (p) => quoteScript(p, out));
  assert.deepEqual(out.outblob, { ok: false, errno: "EIO" });
});
