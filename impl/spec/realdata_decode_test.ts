// Decoding real TDX evidence (fixtures/realdata, see its PROVENANCE.md) with the
// codec and the spec's layouts gives the fields PROVENANCE.md records.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { sha384 } from "@noble/hashes/sha2.js";
import { theSpec } from "./mod.ts";
import { type DecodedStruct, StructCodec } from "./codec.ts";
import { bytesToHex } from "./hex.ts";

const spec = theSpec();
const codec = new StructCodec(spec);
const fixture = (p: string) =>
  Deno.readFileSync(new URL(`../../fixtures/realdata/${p}`, import.meta.url));
const hex = (v: unknown) => bytesToHex(v as Uint8Array);
const prefix = (v: unknown) => hex(v).slice(0, 16);
/** A u64 field shown as its little-endian bytes, as PROVENANCE.md prints them. */
const le64 = (v: unknown) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v as bigint, true);
  return bytesToHex(b);
};

function checkTdreportHashes(report: Uint8Array, decoded: DecodedStruct) {
  const mac = decoded.report_mac_struct as DecodedStruct;
  // TEE_TCB_INFO's hashed part is its own spec size; TDINFO is hashed whole.
  const tcb = spec.struct("TEE_TCB_INFO");
  const tdinfo = spec.struct("TDINFO_STRUCT");
  const tcbOff = spec.struct("TDREPORT_STRUCT").fields.find((f) => f.name === "tee_tcb_info")!
    .offset!;
  const infoOff = spec.struct("TDREPORT_STRUCT").fields.find((f) => f.name === "td_info")!.offset!;
  const tcbBytes = report.subarray(tcbOff, tcbOff + (tcb.size as number));
  const infoBytes = report.subarray(infoOff, infoOff + (tdinfo.size as number));
  assert.equal(hex(mac.tee_tcb_info_hash), createHash("sha384").update(tcbBytes).digest("hex"));
  assert.equal(hex(mac.tee_info_hash), createHash("sha384").update(infoBytes).digest("hex"));
  // The pure-JS hash agrees with node:crypto.
  assert.equal(hex(mac.tee_info_hash), bytesToHex(sha384(infoBytes)));
}

Deno.test("a real TDREPORT decodes to its recorded fields and its hashes verify", () => {
  const report = fixture("tdreports/intel_tdreport_for_test.dat");
  const { value, size } = codec.decode("TDREPORT_STRUCT", report);
  assert.equal(size, 1024);
  const mac = value.report_mac_struct as DecodedStruct;
  const type = mac.report_type as DecodedStruct;
  assert.equal(Object.values(type)[0], 0x81); // TEE type TDX
  assert.equal(Number(spec.enumValue("TEE_TYPE", "TDX")), 0x81);
  assert.equal(prefix(mac.report_data), "b46a00ebf78bcdff");
  assert.equal(prefix((value.td_info as DecodedStruct).mr_td), "bb1249bde960ef9b");
  checkTdreportHashes(report, value);
  assert.deepEqual(codec.encode("TDREPORT_STRUCT", value), report);
});

Deno.test("the TDREPORT inside an Azure HCL report matches its quote", () => {
  const hcl = fixture("tdreports/trustee_az_tdx_vtpm_hcl-report.bin");
  const report = hcl.subarray(32, 32 + 1024);
  const { value } = codec.decode("TDREPORT_STRUCT", report);
  checkTdreportHashes(report, value);
  const quote = codec.decode("QUOTE_V4", fixture("quotes/trustee_az_tdx_vtpm_td-quote.bin")).value;
  const body = quote.body as DecodedStruct;
  const info = value.td_info as DecodedStruct;
  for (const f of ["mr_td", "rtmr0", "rtmr1", "rtmr2", "rtmr3"]) {
    assert.deepEqual(body[f], info[f], f);
  }
  assert.deepEqual(body.report_data, (value.report_mac_struct as DecodedStruct).report_data);
});

// version, MRTD[0:8], REPORTDATA[0:8], TD attributes, FMSPC-free facts from PROVENANCE.md.
const QUOTES: [string, number, string, string, string][] = [
  [
    "dcapqvl_near_quote.hexdecoded.dat",
    4,
    "f06dfda6dce1cf90",
    "0001d579ba6e734a",
    "0000001000000000",
  ],
  [
    "dcapqvl_quote-from-tappd.hexdecoded.dat",
    4,
    "c68518a0ebb42136",
    "7668c6b4eafb6230",
    "0000001000000000",
  ],
  [
    "dcapqvl_tdx-quote.hexdecoded.dat",
    4,
    "7ba9e262ce697908",
    "7148f47ef58b475f",
    "0000001000000000",
  ],
  ["dcapqvl_tdx_quote.dat", 4, "91eb2b44d141d4ec", "9a9d48e7f6799642", "0000001000000000"],
  ["dcapqvl_tdx_quote_outdated.dat", 5, "273828c46252fcbd", "d2142b643598eb5f", "0000001000000000"],
  ["gotdx_cos113_tdx_quote.dat", 4, "dae67181d3d65e07", "0000000000000000", "0000001000000000"],
  ["gotdx_quote_v5_sample.dat", 5, "7348651a34b2d2d3", "945eaacf5abc1f71", "0000001000000000"],
  [
    "gotdx_tdx_prod_quote_SPR_E4.dat",
    4,
    "6363b8043668a3ad",
    "6c62dec1b8191749",
    "0000004000000000",
  ],
  [
    "trustee_az_tdx_vtpm_td-quote.bin",
    4,
    "024a32b070383331",
    "9734504f161d104c",
    "0000000000000000",
  ],
  ["trustee_old_AAEL_quote_tdx.dat", 4, "b4811f997a20f112", "48895577d8367106", "0000001000000000"],
  ["trustee_tdx_quote_4.dat", 4, "705ee9381b8633a9", "7c71fe2c86eff65a", "0100001000000000"],
  ["trustee_tdx_quote_5.dat", 5, "dfba221b48a22af8", "6d6ab13b046cff60", "0000001000000000"],
  ["trustee_tdx_quote_6.dat", 4, "21e8dead92d6c69d", "26cae1c77185617f", "0000001000000000"],
];

Deno.test("real TD quotes v4 and v5 decode to their recorded fields", async (t) => {
  for (const [file, version, mrtd, reportData, attrs] of QUOTES) {
    await t.step(file, () => {
      const bytes = fixture(`quotes/${file}`);
      const header = codec.decode("QUOTE_HEADER", bytes).value;
      assert.equal(header.version, version);
      assert.equal(BigInt(header.tee_type as number), spec.enumValue("QUOTE_TEE_TYPE", "TDX"));
      const { value, size } = codec.decode(version === 4 ? "QUOTE_V4" : "QUOTE_V5", bytes);
      // Real tools pad quotes with zeros; one go-tdx-guest sample instead carries a text trailer.
      const trailer = bytes.subarray(size);
      if (file === "gotdx_tdx_prod_quote_SPR_E4.dat") {
        assert.equal(
          new TextDecoder().decode(trailer),
          "\nextra bytes(only for testing purpose)\n",
        );
      } else assert.ok(trailer.every((b) => b === 0), "non-zero bytes after the quote");
      const body = version === 4 ? value.body as DecodedStruct : codec.decode(
        value.body_type === 3 ? "TD_QUOTE_BODY_1_5" : "TD_QUOTE_BODY_1_0",
        value.body as Uint8Array,
      ).value;
      assert.equal(prefix(body.mr_td), mrtd);
      assert.equal(prefix(body.report_data), reportData);
      // TDATTRIBUTES are 8 bytes, shown little-endian as PROVENANCE prints them.
      assert.equal(le64(body.td_attributes), attrs);
      const sig = value.signature_data as DecodedStruct;
      const cert = sig.certification_data as DecodedStruct;
      assert.equal(
        BigInt(cert.type as number),
        spec.enumValue("CERTIFICATION_DATA_TYPE", "QE_REPORT_CERTIFICATION_DATA"),
      );
      const qe = codec.decode("QE_REPORT_CERTIFICATION_DATA", cert.data as Uint8Array).value;
      const inner = qe.certification_data as DecodedStruct;
      assert.equal(
        BigInt(inner.type as number),
        spec.enumValue("CERTIFICATION_DATA_TYPE", "PCK_CERT_CHAIN"),
      );
      assert.match(
        new TextDecoder().decode(inner.data as Uint8Array),
        /^-----BEGIN CERTIFICATE-----/,
      );
    });
  }
});
