// End to end, a TD's quote: the Debian OVMF image booted on the reference stack, the
// guest extends RTMRs and asks configfs-tsm for a quote over 64 bytes of REPORTDATA.
// Userspace quoting: TDG.VP.VMCALL<GetQuote> exits to the launcher (KVM_EXIT_TDX), whose
// QgsQuoteService sends the TDREPORT to a QGS on 127.0.0.1 (or, in child processes, on
// a Unix socket) and writes the quote back; the guest polls or waits for the
// event-notify interrupt. In-kernel quoting: the module's Quoting extension is brought
// up and KVM answers GetQuote with TDH.QUOTE.GET. Each quote is verified with the
// verifier against the test root and generated collateral at a fixed time, and its body
// is checked against the MRTD `deno task measure` prints, the RTMRs the guest extended
// and the REPORTDATA.
import { strict as assert } from "node:assert";
import { sha384 } from "@noble/hashes/sha2.js";
import { theSpec } from "./spec/mod.ts";
import { type DecodedStruct, StructCodec } from "./spec/codec.ts";
import { bytesToHex, hexToBytes, parseHex } from "./spec/hex.ts";
import { parseTdvf, type TdvfFirmware } from "./vmm/tdvf.ts";
import { QgsQuoteService } from "./vmm/qgs_quote_service.ts";
import { runTdSession, runTdSessionAsync, type TdSessionOptions } from "./platform/td_stack.ts";
import { socketQgs } from "./platform/qgs_connection.ts";
import { independentMrtd } from "./vmm/testing/independent_mrtd.ts";
import type { Process } from "./guest/process.ts";
import { makeQuoteGenerator, type QuoteGenerator } from "./attest/quote/quote_generate.ts";
import { makeCollateral } from "./attest/quote/collateral.ts";
import { startQgs } from "./attest/qgs/server.ts";
import { collateralFromDcapQvl, trustAnchorFromBytes, verifyQuote } from "./attest/verify/mod.ts";
import { DICE_FORMAT } from "./attest/verify/dice/dice_quote_format.ts";
import { diceTrustAnchorFrom } from "./attest/verify/dice/dice_trust_root.ts";

const spec = theSpec();
const codec = new StructCodec(spec);
const FW = new URL("../fixtures/realdata/firmware/", import.meta.url);
const DEBIAN_PATH = new URL("OVMF-debian-2022.11-6+deb12u2.fd", FW).pathname;
function firmware(path: string): TdvfFirmware {
  const r = parseTdvf(spec, Deno.readFileSync(path));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}
const DEBIAN = firmware(DEBIAN_PATH);
/** What `deno task measure` prints for the Debian image (tools/td_cli_test.ts checks it). */
const DEBIAN_MRTD =
  "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47";

const SEED = new TextEncoder().encode("e2e quote test PKI");
const generator = makeQuoteGenerator(spec, SEED);
/** Verification time: inside the test PKI's and the collateral's validity. */
const AT = new Date("2026-03-01T00:00:00Z");
const VECTOR = 0xF3;

const path = (item: string) => spec.guestInterface(item).path;
const REPORT_DATA = Uint8Array.from({ length: 64 }, (_, i) => (i * 7 + 3) & 0xFF);
const EXTENDS = [
  { index: 1, data: new Uint8Array(48).fill(0x5A) },
  { index: 2, data: Uint8Array.from({ length: 48 }, (_, i) => i) },
  { index: 2, data: new Uint8Array(48).fill(0xC3) },
];

function rtmrChain(): Uint8Array[] {
  const rtmr = [0, 1, 2, 3].map(() => new Uint8Array(48));
  for (const e of EXTENDS) rtmr[e.index] = sha384(new Uint8Array([...rtmr[e.index], ...e.data]));
  return rtmr;
}

interface GuestQuote {
  outblob?: { ok: true; value: Uint8Array } | { ok: false; errno: string };
  tdreport?: Uint8Array;
}

/** The guest: RTMR extends through sysfs, a TDREPORT, then configfs-tsm inblob -> outblob. */
function quoteScript(out: GuestQuote) {
  return function* (p: Process) {
    for (const e of EXTENDS) {
      // Without the tdx_guest driver there are no measurement files: stop here.
      if (!(yield* p.writeFile(path(`tdx_guest.rtmr${e.index}`), e.data)).ok) return;
    }
    const fd = yield* p.open(path("dev.tdx_guest"), "rw");
    if (fd.ok) {
      const arg = p.memory.map(spec.struct("tdx_report_req").size as number);
      p.memory.poke(arg, REPORT_DATA);
      const ioctl = spec.ioctl("TDX_CMD_GET_REPORT0");
      if ((yield* p.ioctl(fd.value, parseHex(ioctl.number), arg)).ok) {
        const f = spec.struct("tdx_report_req").fields.find((x) => x.name === "tdreport")!;
        out.tdreport = p.memory.peek(arg + BigInt(f.offset!), f.size!);
      }
      yield* p.close(fd.value);
    }
    const dir = `${spec.guestInterface("tsm_report.inblob").path.split("/<name>/")[0]}/q`;
    if (!(yield* p.mkdir(dir)).ok) return;
    assert.ok((yield* p.writeFile(`${dir}/inblob`, REPORT_DATA)).ok);
    out.outblob = (yield* p.readFile(`${dir}/outblob`)) as GuestQuote["outblob"];
  };
}

/** Collateral for the module the TD ran on: its TEE_TCB_SVN, MRSIGNERSEAM and attributes. */
function collateralFor(gen: QuoteGenerator, tdreport: Uint8Array) {
  const tcb = codec.decode("TDREPORT_STRUCT", tdreport).value.tee_tcb_info as DecodedStruct;
  const col = collateralFromDcapQvl(
    makeCollateral(spec, gen, {
      teeTcbSvn: tcb.tee_tcb_svn as Uint8Array,
      mrSignerSeam: tcb.mr_signer_seam as Uint8Array,
      seamAttributes: tcb.attributes as bigint,
    }) as unknown as Record<string, unknown>,
  );
  if (typeof col === "string") throw new Error(col);
  return col;
}

/** The quote verifies to the test root and carries the TD's MRTD, RTMRs and REPORTDATA. */
async function checkEcdsaQuote(quote: Uint8Array, tdreport: Uint8Array) {
  const root = await trustAnchorFromBytes(generator.pki.root.der);
  if (typeof root === "string") throw new Error(root);
  const rtmr = rtmrChain();
  const expect = [
    { key: "mr_td", value: DEBIAN_MRTD },
    ...rtmr.map((v, i) => ({ key: `rtmr${i}`, value: bytesToHex(v) })),
    { key: "report_data", value: bytesToHex(REPORT_DATA) },
    { key: "tcb_status", value: "UpToDate" },
  ];
  const v = await verifyQuote(quote, {
    root,
    collateral: collateralFor(generator, tdreport),
    at: AT,
    allowDebug: false,
    expect,
  });
  assert.deepEqual(v.reasons, []);
  assert.ok(v.ok);
  assert.equal(v.format, "ecdsa-p256-quote");
  // The same values straight from the bytes, and the MRTD computed independently.
  const q = codec.decode("QUOTE_V4", quote).value;
  const body = q.body as DecodedStruct;
  assert.deepEqual(body.mr_td, independentMrtd(spec, DEBIAN.image, DEBIAN.sections));
  assert.equal(bytesToHex(body.mr_td as Uint8Array), DEBIAN_MRTD);
  for (let i = 0; i < 4; i++) assert.deepEqual(body[`rtmr${i}`], rtmr[i], `rtmr${i}`);
  assert.deepEqual(body.report_data, REPORT_DATA);
}

function ok<T>(
  r: { ok: true; value: T } | { ok: false; error: { step: string; message: string } },
) {
  if (!r.ok) throw new Error(`${r.error.step}: ${r.error.message}`);
  return r.value;
}

Deno.test("e2e quote: GetQuote through the launcher to a QGS on 127.0.0.1, polled and notified", async (t) => {
  const qgs = startQgs(spec, { generator, tcp: { port: 0 } });
  try {
    for (
      const [mode, wait] of [
        ["poll", { kind: "poll" }],
        ["notify", { kind: "notify", vector: VECTOR }],
      ] as const
    ) {
      await t.step(mode, async () => {
        const service = new QgsQuoteService(spec, socketQgs(spec, { port: qgs.tcp!.port }));
        const out: GuestQuote = {};
        const s = ok(
          await runTdSessionAsync(DEBIAN, quoteScript(out), {
            quote: { service },
            quoteWait: wait,
          }),
        );
        assert.ok(s.guest.finished);
        assert.ok(out.outblob?.ok, JSON.stringify(out.outblob));
        assert.equal(s.run.exits.KVM_EXIT_TDX, mode === "notify" ? 2 : 1);
        // The guest halted while the QGS worked, and woke for the answer.
        assert.ok(s.run.exits["EINTR/KVM_EXIT_INTR"] >= 1);
        assert.deepEqual(service.requests, [{ form: "tdreport", status: "GET_QUOTE_SUCCESS" }]);
        assert.deepEqual(
          s.td.quotes.delivered,
          mode === "notify" ? [{ vector: VECTOR, vcpu: 0 }] : [],
        );
        await checkEcdsaQuote(out.outblob.value, out.tdreport!);
      });
    }
  } finally {
    await qgs.close();
  }
  assert.equal(qgs.stats().responses.QGS_MSG_SUCCESS, 2);
});

Deno.test("e2e quote: no QGS listening is SERVICE_UNAVAILABLE, a QGS error is GET_QUOTE_ERROR; both EIO", async (t) => {
  await t.step("nothing listens", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const service = new QgsQuoteService(spec, socketQgs(spec, { port }));
    const out: GuestQuote = {};
    ok(await runTdSessionAsync(DEBIAN, quoteScript(out), { quote: { service } }));
    assert.deepEqual(out.outblob, { ok: false, errno: "EIO" });
    assert.equal(service.requests[0].status, "GET_QUOTE_SERVICE_UNAVAILABLE");
    assert.equal(service.requests[0].error?.kind, "connect");
  });
  await t.step("a synchronous run cannot wait for a socket QGS", () => {
    const conn = socketQgs(spec, { port: 1 });
    const never = { ...conn, getQuote: () => new Promise<never>(() => {}) };
    const r = runTdSession(DEBIAN, quoteScript({}), {
      quote: { service: new QgsQuoteService(spec, never) },
    });
    assert.equal(r.ok, false);
    assert.match(
      !r.ok ? r.error.message : "",
      /answers asynchronously: run the TD with runTdAsync/,
    );
  });
  await t.step("the QGS cannot quote", async () => {
    // A quote version the generator refuses: the QGS answers QGS_MSG_ERROR_UNEXPECTED.
    const qgs = startQgs(spec, { generator, tcp: { port: 0 }, quote: { version: 3 } });
    try {
      const service = new QgsQuoteService(spec, socketQgs(spec, { port: qgs.tcp!.port }));
      const out: GuestQuote = {};
      ok(await runTdSessionAsync(DEBIAN, quoteScript(out), { quote: { service } }));
      assert.deepEqual(out.outblob, { ok: false, errno: "EIO" });
      assert.deepEqual(service.requests[0], {
        form: "tdreport",
        status: "GET_QUOTE_ERROR",
        error: {
          kind: "server",
          code: "QGS_MSG_ERROR_UNEXPECTED",
          message: "the QGS answered QGS_MSG_ERROR_UNEXPECTED",
        },
      });
    } finally {
      await qgs.close();
    }
  });
});

/** Runs a command to its end; stdout, stderr and the exit code. */
async function run(cmd: Deno.Command) {
  const r = await cmd.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: r.code, out: text(r.stdout), err: text(r.stderr) };
}

Deno.test("e2e quote: over a Unix socket, `deno task qgs` and `deno task td --quote --qgs unix:` in child processes", async () => {
  // Deno grants a Unix socket only by its exact path, which the test's own permissions
  // cannot name in advance: the QGS and the TD run as children with their own.
  const dir = Deno.makeTempDirSync();
  const sock = `${dir}/qgs.sock`;
  const config = new URL("../deno.json", import.meta.url).pathname;
  const tool = (name: string) => new URL(`../tools/${name}`, import.meta.url).pathname;
  const qgs = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      config,
      `--allow-net=unix:${sock}`,
      "--allow-read",
      `--allow-write=${sock}`,
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      tool("qgs_cli.ts"),
      "--unix",
      sock,
      "--seed",
      bytesToHex(SEED),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = qgs.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  try {
    while (!/seed/.test(banner)) {
      const { value, done } = await reader.read();
      if (done) break;
      banner += value;
    }
    assert.match(banner, /QGS listening on unix:/);
    const td = (extra: string[]) =>
      run(
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--config",
            config,
            `--allow-net=unix:${sock}`,
            "--allow-read",
            `--allow-write=${sock}`,
            "--allow-env=LOG_TOKENS,LOG_STREAM",
            tool("td_cli.ts"),
            "--firmware",
            DEBIAN_PATH,
            "--report-data",
            bytesToHex(REPORT_DATA),
            ...EXTENDS.flatMap((e) => ["--rtmr-extend", `${e.index}:${bytesToHex(e.data)}`]),
            "--quote",
            "--qgs",
            `unix:${sock}`,
            "--json",
            ...extra,
          ],
        }),
      );
    for (const extra of [[], ["--notify-vector", String(VECTOR)]]) {
      const r = await td(extra);
      assert.equal(r.code, 0, r.err);
      const doc = JSON.parse(r.out);
      assert.equal(doc.qgs, `unix:${sock}`);
      assert.equal(doc.quote_fields["body.mr_td"], DEBIAN_MRTD);
      await checkEcdsaQuote(hexToBytes(doc.quote), hexToBytes(doc.tdreport));
    }
  } finally {
    try {
      qgs.kill("SIGTERM");
    } catch { /* it has already exited */ }
    await reader.cancel();
    await qgs.stderr.cancel();
    await qgs.status;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("e2e quote: in-kernel quoting - the Quoting extension up, KVM answers GetQuote with a DICE quote from TDH.QUOTE.GET", async () => {
  const out: GuestQuote = {};
  const options: TdSessionOptions = { host: { kernelQuoting: { diceSeed: SEED } } };
  const s = ok(runTdSession(DEBIAN, quoteScript(out), options));
  assert.ok(out.outblob?.ok, JSON.stringify(out.outblob));
  const quote = out.outblob.value;
  // No exit to userspace: KVM made the quote with the module.
  assert.equal(s.run.exits.KVM_EXIT_TDX, undefined);
  assert.equal(s.td.quotes.inFlight, 0);
  const gets = s.kvm.host.seam.log.filter((c) => c.name === "TDH.QUOTE.GET");
  assert.ok(gets.length >= 1);
  assert.equal(gets.at(-1)!.status, 0n);
  assert.equal(gets.at(-1)!.out.quote_len, BigInt(quote.length));
  // The DICE quote verifies to the test DICE root and carries the TD's values.
  const root = await diceTrustAnchorFrom(s.diceSigner!.generator.pki.root.der);
  if (typeof root === "string") throw new Error(root);
  const rtmr = rtmrChain();
  const v = await verifyQuote(quote, {
    root,
    at: AT,
    allowDebug: false,
    expect: [
      { key: "mr_td", value: DEBIAN_MRTD },
      ...rtmr.map((x, i) => ({ key: `rtmr${i}`, value: bytesToHex(x) })),
      { key: "report_data", value: bytesToHex(REPORT_DATA) },
    ],
  });
  assert.deepEqual(v.reasons, []);
  assert.ok(v.ok);
  assert.equal(v.format, DICE_FORMAT);
  assert.equal(
    v.decoded?.body.mr_td,
    bytesToHex(independentMrtd(spec, DEBIAN.image, DEBIAN.sections)),
  );
  assert.deepEqual(s.diceSigner!.quote(out.tdreport!), { ok: true, value: quote });
  // Event notification is offered only with userspace quoting: the driver's notify mode fails.
  const notify: GuestQuote = {};
  const n = ok(
    runTdSession(DEBIAN, quoteScript(notify), {
      ...options,
      quoteWait: { kind: "notify", vector: VECTOR },
    }),
  );
  assert.equal(n.guest.kernel?.driverError, "EIO");
  assert.equal(notify.outblob, undefined);
});
