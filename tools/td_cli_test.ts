import { strict as assert } from "node:assert";
import { main as measure } from "./measure_cli.ts";
import { main as td } from "./td_cli.ts";

const DEBIAN = new URL(
  "../fixtures/realdata/firmware/OVMF-debian-2022.11-6+deb12u2.fd",
  import.meta.url,
).pathname;
const DEBIAN_MRTD =
  "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47";

async function capture(
  f: () => number | Promise<number>,
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await f(), out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

const temporaries: string[] = [];

/** A copy of the Debian image with `edit` applied, in a temporary file. */
function corrupted(edit: (img: Uint8Array) => void): string {
  const img = Deno.readFileSync(DEBIAN);
  edit(img);
  const p = Deno.makeTempFileSync({ suffix: ".fd" });
  Deno.writeFileSync(p, img);
  temporaries.push(p);
  return p;
}
const D = 0x1FF7C0;
const put32 = (img: Uint8Array, at: number, v: number) =>
  new DataView(img.buffer).setUint32(at, v, true);

const RD = "ab".repeat(64);
const EXT = "cd".repeat(48);

Deno.test("measure prints the sections and the MRTD", async () => {
  const r = await capture(() => measure([DEBIAN]));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`MRTD\\s+${DEBIAN_MRTD}`));
  assert.match(r.out, /BFV\s+0x20000\s+0x1e0000\s+0xffe20000\s+0x1e0000\s+MR_EXTEND/);
  assert.equal(r.out.split("\n").filter((l) => /^\s+\d\s/.test(l)).length, 6);
  const j = await capture(() => measure([DEBIAN, "--json"]));
  const doc = JSON.parse(j.out);
  assert.equal(doc.mrtd, DEBIAN_MRTD);
  assert.equal(doc.sections.length, 6);
  assert.deepEqual(doc.sections[4], {
    index: 4,
    type: "TD_HOB",
    attributes: [],
    data_offset: "0x0",
    raw_data_size: "0x0",
    memory_address: "0x809000",
    memory_data_size: "0x2000",
    pages: 2,
    measured: false,
  });
});

Deno.test("td prints the TDREPORT with the MRTD, REPORTDATA and extended RTMR", async () => {
  const r = await capture(() =>
    td(["--firmware", DEBIAN, "--report-data", RD, "--rtmr-extend", `1:${EXT}`, "--json"])
  );
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.equal(doc.tdreport.length, 2048);
  assert.equal(doc.fields["td_info.mr_td"], DEBIAN_MRTD);
  assert.equal(doc.fields["report_mac_struct.report_data"], RD);
  assert.notEqual(doc.fields["td_info.rtmr1"], "00".repeat(48));
  assert.equal(doc.fields["td_info.rtmr0"], "00".repeat(48));
  const text = await capture(() => td(["--firmware", DEBIAN, "--report-data", RD]));
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^TDREPORT [0-9a-f]{2048}$/m);
  assert.match(text.out, /td_info\.attributes\s+0x10000000 \[SEPT_VE_DISABLE\]/);
});

Deno.test("bad input: a clear error naming the file or field, exit 2", async (t) => {
  const rows: { name: string; args: () => string[]; err: RegExp }[] = [
    {
      name: "unreadable file",
      args: () => ["--firmware", "/nonexistent/ovmf.fd", "--report-data", RD],
      err: /cannot read firmware \/nonexistent\/ovmf\.fd/,
    },
    {
      name: "not a TDVF image",
      args: () => [
        "--firmware",
        new URL("../README.md", import.meta.url).pathname,
        "--report-data",
        RD,
      ],
      err: /README\.md: (image|OVMF_TABLE_FOOTER\.guid)/,
    },
    {
      name: "truncated metadata",
      args:
        () => ["--firmware", corrupted((img) => put32(img, D + 4, 0x10000)), "--report-data", RD],
      err: /TDVF_DESCRIPTOR\.length .*runs past the end/,
    },
    {
      name: "overlapping sections",
      args: () => [
        "--firmware",
        corrupted((img) =>
          new DataView(img.buffer).setBigUint64(D + 16 + 32 * 3 + 8, 0x80A000n, true)
        ),
        "--report-data",
        RD,
      ],
      err: /TDVF_SECTION\[4\]\.memory_address.*overlaps TDVF_SECTION\[3\]/,
    },
    {
      name: "report data of the wrong length",
      args: () => ["--firmware", DEBIAN, "--report-data", "abcd"],
      err: /--report-data: expected 64 bytes \(128 hex digits\), got 2/,
    },
    {
      name: "report data not hex",
      args: () => ["--firmware", DEBIAN, "--report-data", "zz".repeat(64)],
      err: /--report-data: .* is not an even-length hex string/,
    },
    {
      name: "RTMR index out of range",
      args: () => ["--firmware", DEBIAN, "--report-data", RD, "--rtmr-extend", `4:${EXT}`],
      err: /--rtmr-extend: RTMR index 4 is not one of 0, 1, 2, 3/,
    },
    {
      name: "RTMR data of the wrong length",
      args: () => ["--firmware", DEBIAN, "--report-data", RD, "--rtmr-extend", "0:abcd"],
      err: /--rtmr-extend 0: expected 48 bytes/,
    },
    {
      name: "missing --report-data",
      args: () => ["--firmware", DEBIAN],
      err: /--report-data HEX is required/,
    },
    {
      name: "--qgs not an endpoint",
      args: () => ["--firmware", DEBIAN, "--report-data", RD, "--quote", "--qgs", "vsock:2:4050"],
      err: /--qgs: "vsock:2:4050" is not tcp:PORT, tcp:HOST:PORT or unix:PATH/,
    },
    {
      name: "--qgs port out of range",
      args: () => ["--firmware", DEBIAN, "--report-data", RD, "--quote", "--qgs", "tcp:70000"],
      err: /--qgs: port 70000 is not in 1-65535/,
    },
    {
      name: "--qgs without --quote",
      args: () => ["--firmware", DEBIAN, "--report-data", RD, "--qgs", "tcp:4050"],
      err: /--qgs needs --quote/,
    },
    {
      name: "--notify-vector not a vector",
      args: () => ["--firmware", DEBIAN, "--report-data", RD, "--quote", "--notify-vector", "300"],
      err: /--notify-vector: expected an interrupt vector 0-255, got "300"/,
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      const r = await capture(() => td(row.args()));
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, row.err);
      assert.equal(r.out, "");
    });
  }
  await t.step("measure: unreadable and not-TDVF files", async () => {
    const a = await capture(() => measure(["/nonexistent/ovmf.fd"]));
    assert.equal(a.code, 2);
    assert.match(a.err, /cannot read firmware \/nonexistent\/ovmf\.fd/);
    const b = await capture(() => measure([corrupted((img) => put32(img, D, 0x12345678))]));
    assert.equal(b.code, 2);
    assert.match(b.err, /TDVF_DESCRIPTOR\.signature \(image offset 0x1ff7c0\)/);
  });
  for (const p of temporaries.splice(0)) Deno.removeSync(p);
});

Deno.test("td --quote: an in-process QGS's quote, in hex and decoded, over the TD's values", async () => {
  const r = await capture(() =>
    td([
      "--firmware",
      DEBIAN,
      "--report-data",
      RD,
      "--rtmr-extend",
      `3:${EXT}`,
      "--quote",
      "--json",
    ])
  );
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.equal(doc.qgs, "in-process");
  assert.match(doc.quote, /^([0-9a-f]{2})+$/);
  const f = doc.quote_fields;
  assert.equal(f["header.version"], "0x4 (V4)");
  assert.equal(f["body.mr_td"], DEBIAN_MRTD);
  assert.equal(f["body.report_data"], RD);
  assert.equal(f["body.rtmr3"], doc.fields["td_info.rtmr3"]);
  assert.equal(f["body.td_attributes"], "0x10000000 [SEPT_VE_DISABLE]");
  assert.match(f["signature.certification_data.type"], /QE_REPORT_CERTIFICATION_DATA/);
  assert.equal(f["qe_report.pck_chain"], "3 PEM certificates");
  const text = await capture(() => td(["--firmware", DEBIAN, "--report-data", RD, "--quote"]));
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^QUOTE ([0-9a-f]{2})+$/m);
  assert.match(text.out, new RegExp(`body\\.mr_td\\s+${DEBIAN_MRTD}`));
});

Deno.test("td --quote --qgs tcp: the QGS on 127.0.0.1, polled or notified; no QGS is a clear failure", async () => {
  const { startQgs } = await import("../impl/attest/qgs/server.ts");
  const { makeQuoteGenerator } = await import("../impl/attest/quote/quote_generate.ts");
  const { theSpec } = await import("../impl/spec/mod.ts");
  const spec = theSpec();
  const qgs = startQgs(spec, {
    generator: makeQuoteGenerator(spec, new Uint8Array(32)),
    tcp: { port: 0 },
  });
  const port = qgs.tcp!.port;
  const base = ["--firmware", DEBIAN, "--report-data", RD, "--quote", "--json"];
  try {
    const local = JSON.parse((await capture(() => td(base))).out);
    for (const extra of [[], ["--notify-vector", "0xf3"]]) {
      const r = await capture(() => td([...base, "--qgs", `tcp:${port}`, ...extra]));
      assert.equal(r.code, 0, r.err);
      const doc = JSON.parse(r.out);
      assert.equal(doc.qgs, `tcp:127.0.0.1:${port}`);
      // Same seed, same TD: the same quote bytes as the in-process QGS.
      assert.equal(doc.quote, local.quote);
    }
  } finally {
    await qgs.close();
  }
  assert.equal(qgs.stats().responses.QGS_MSG_SUCCESS, 2);
  const down = await capture(() => td([...base, "--qgs", `tcp:${port}`]));
  assert.equal(down.code, 1);
  assert.match(
    down.err,
    /outblob failed with EIO; the QGS at tcp:127\.0\.0\.1:\d+: cannot connect/,
  );
});
