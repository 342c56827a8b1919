// In-module quoting end to end: a platform with the Quoting extension (TDH.EXT.MEM.ADD,
// TDH.EXT.INIT, TDH.QUOTE.INIT), a TD built with SEAMCALLs whose guest makes its TDREPORT
// with TDG.MR.REPORT, TDH.QUOTE.GET turning that report into a quote with the DICE signer
// wired in, and the DICE verifier accepting the quote with the test root - the TD's
// REPORTDATA and measurements in the claims. After a runtime module update the quoting key
// is renewed, MAX_QUOTE_SIZE is not raised and quotes still verify.
import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { tdcallByName } from "../../cpu/leaf_call.ts";
import { Platform } from "../../module/testing/fixture.ts";
import { MemoryTd } from "../../module/testing/memory_fixture.ts";
import { createVcpu, finalizeTd } from "../../module/testing/td_fixture.ts";
import {
  initExtensions,
  initQuoting,
  quoteAddOn,
  readGlobal,
  readyWithQuoting,
} from "../../module/testing/extension_steps.ts";
import { diceQuoteFormat } from "../verify/dice/dice_quote_format.ts";
import { diceTrustAnchorFrom } from "../verify/dice/dice_trust_root.ts";
import type { TrustAnchor } from "../verify/cert_chain.ts";
import { quoteGet, wireDiceQuoting } from "./testing/module_quoting.ts";
import { parseDiceQuote } from "../verify/dice/dice_parse.ts";

const SEED = new TextEncoder().encode("dice module quoting test");
const DATA = 0x1000_0000n;
const REPORT = 0x1000_1000n;
const REPORT_DATA = Uint8Array.from({ length: 64 }, (_, i) => 0xA0 ^ i);

/** A runnable TD whose guest makes a TDREPORT for REPORT_DATA; returns the report bytes. */
function tdReport(p: Platform): { m: MemoryTd; report: Uint8Array } {
  const spec = p.spec;
  const m = new MemoryTd(p);
  const image = new Uint8Array(4096);
  image.set(REPORT_DATA);
  m.pageAdd(DATA, image);
  const tdvpr = createVcpu(p, m.created);
  finalizeTd(p, m.created);
  const reportPa = m.aug(REPORT);
  const gal = encodeBits(spec.bitfield("GPA_AND_LEVEL").fields, { level: 0n, gpa: REPORT >> 12n });
  const control = encodeBits(
    spec.tdcall("TDG.VP.VMCALL").inputs.find((r) => r.name === "control")!.fields!,
    { GPR_SELECT: 1n << 11n },
  );
  const statuses: bigint[] = [];
  p.cpu.attachGuestProgram(m.tdr, function* (port) {
    statuses.push(tdcallByName(spec, port, "TDG.MEM.PAGE.ACCEPT", { gpa_and_level: gal }).status);
    statuses.push(
      tdcallByName(spec, port, "TDG.MR.REPORT", {
        tdreport_gpa: REPORT,
        reportdata_gpa: DATA,
        subtype: 0,
      }).status,
    );
    tdcallByName(spec, port, "TDG.VP.VMCALL", { control });
    yield;
  });
  const handle = encodeBits(
    spec.seamcall("TDH.VP.ENTER").inputs.find((r) => r.name === "vcpu_handle_and_flags")!.fields!,
    { tdvpr_pa: tdvpr >> 12n },
  );
  assert.equal(p.seamcall("TDH.VP.ENTER", { vcpu_handle_and_flags: handle }).name, "TDX_SUCCESS");
  assert.deepEqual(statuses, [0n, 0n]);
  // The guest would copy its report to the shared GetQuote buffer; the host reads it here
  // through the TD's key instead.
  const keyed = reportPa | (BigInt(m.hkid) << BigInt(p.cpu.memory.keyIdShift));
  const size = spec.struct("TDREPORT_STRUCT").size as number;
  return { m, report: p.cpu.memory.read(keyed, size) };
}

async function verified(quote: Uint8Array, root: TrustAnchor, expect: DecodedStruct) {
  return await diceQuoteFormat.verify(quote, {
    root,
    at: new Date("2030-01-01T00:00:00Z"),
    allowDebug: false,
    expect: Object.entries(expect).map(([key, v]) => ({ key, value: bytesToHex(v as Uint8Array) })),
  });
}

Deno.test("TDH.QUOTE.GET makes a DICE quote of a TD's TDREPORT that verifies", async () => {
  const p = new Platform();
  readyWithQuoting(p);
  const signer = wireDiceQuoting(p, SEED);
  const root = await diceTrustAnchorFrom(signer.generator.pki.root.der);
  assert.notEqual(typeof root, "string");
  const { m, report } = tdReport(p);
  const r = quoteGet(p, m.tdr, report);
  assert.equal(r.status, "TDX_SUCCESS");
  assert.ok(r.quote.length > 0);
  assert.ok(r.quote.length <= Number(readGlobal(p, "MAX_QUOTE_SIZE")));

  const tdInfo = new StructCodec(p.spec).decode("TDREPORT_STRUCT", report).value
    .td_info as DecodedStruct;
  const v = await verified(r.quote, root as TrustAnchor, {
    report_data: REPORT_DATA,
    mr_td: tdInfo.mr_td,
    rtmr0: tdInfo.rtmr0,
  });
  assert.deepEqual(v.reasons, []);
  assert.equal(v.ok, true);
  assert.equal(v.decoded?.body.report_data, bytesToHex(REPORT_DATA));

  // Another TD's report with the MAC broken: the signer refuses it.
  const forged = report.slice();
  forged[forged.length - 1] ^= 1;
  const q = signer.quote(forged);
  assert.equal(q.ok, false);
  assert.equal(quoteGet(p, m.tdr, forged).quote.length, 0);
});

Deno.test("an interrupted TDH.QUOTE.GET resumes and still gives the verified quote", async () => {
  const p = new Platform();
  readyWithQuoting(p);
  // A kid of 3000 bytes makes the quote span two output pages (the module may stop between pages).
  const kid = Number(p.spec.enumValue("COSE_HEADER_LABEL", "KID"));
  const signer = wireDiceQuoting(p, SEED, { unprotected: new Map([[kid, new Uint8Array(3000)]]) });
  const root = (await diceTrustAnchorFrom(signer.generator.pki.root.der)) as TrustAnchor;
  const { m, report } = tdReport(p);
  const whole = signer.sign(report);
  assert.ok(whole.length > (p.spec.struct("HPA_LINKED_LIST_NODE").size as number));
  p.cpu.pendHostInterrupt(0, true);
  let calls = 0;
  const orig = p.seamcall.bind(p);
  p.seamcall = (name, inputs, opts) => {
    if (name === "TDH.QUOTE.GET" && ++calls === 2) p.cpu.pendHostInterrupt(0, false);
    return orig(name, inputs, opts);
  };
  const r = quoteGet(p, m.tdr, report);
  assert.equal(r.status, "TDX_SUCCESS");
  assert.ok(r.calls >= 2);
  assert.deepEqual(r.quote, whole);
  assert.equal((await verified(r.quote, root, {})).ok, true);
});

Deno.test("after a runtime update the quoting key is renewed and MAX_QUOTE_SIZE is not raised", async () => {
  const p = new Platform();
  readyWithQuoting(p);
  const signer = wireDiceQuoting(p, SEED);
  const root = (await diceTrustAnchorFrom(signer.generator.pki.root.der)) as TrustAnchor;
  const { m, report } = tdReport(p);
  const before = quoteGet(p, m.tdr, report);
  const maxBefore = readGlobal(p, "MAX_QUOTE_SIZE");

  assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
  p.loadNewModule();
  p.initLps();
  const update = p.seamcall("TDH.SYS.UPDATE", { addon_features0: quoteAddOn(p) }, { version: 1 });
  assert.equal(update.name, "TDX_SUCCESS");
  // Quoting is unavailable until the extensions and the quoting keys are set up again.
  p.module.state.quoteSigner = signer;
  assert.equal(quoteGet(p, m.tdr, report).status, "TDX_SYS_STATE_INCORRECT");
  initExtensions(p);
  initQuoting(p);
  signer.renewKeys();
  assert.ok(readGlobal(p, "MAX_QUOTE_SIZE") <= maxBefore);

  const after = quoteGet(p, m.tdr, report);
  assert.equal(after.status, "TDX_SUCCESS");
  assert.equal((await verified(after.quote, root, { report_data: REPORT_DATA })).ok, true);
  const leaf = (q: Uint8Array) => {
    const parsed = parseDiceQuote(q);
    assert.ok(parsed.ok);
    return parsed.value.certs[0];
  };
  assert.notDeepEqual(leaf(after.quote), leaf(before.quote));
  assert.equal(signer.generation, 1);
});
