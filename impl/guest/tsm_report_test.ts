import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import { bootFake } from "./testing/boot_fake.ts";
import {
  completeQuote,
  type FakeTd,
  markInFlight,
  QUOTE,
  type VmcallRecord,
} from "./testing/fake_td.ts";
import { GET_QUOTE_BUF_SIZE, GET_QUOTE_TIMEOUT_POLLS } from "./tdx_guest.ts";

const spec = theSpec();
const codec = new StructCodec(spec);
const ROOT = spec.guestInterface("tsm_report.inblob").path.split("/<name>/")[0];
const DIR = `${ROOT}/r1`;
const attr = (name: string) => `${DIR}/${name}`;
const nonce = (seed: number, n = 64) =>
  Uint8Array.from({ length: n }, (_, i) => (seed + 3 * i) & 0xFF);
const text = (r: { ok: boolean; value?: Uint8Array }) => new TextDecoder().decode(r.value);

function withReport(opts: Parameters<typeof bootFake>[0] = {}) {
  const c = bootFake(opts);
  assert.deepEqual(c.td.drive(c.p.mkdir(DIR)), { ok: true, value: undefined });
  return c;
}

Deno.test("configfs-tsm: inblob -> TDREPORT -> GetQuote -> outblob, with generations", () => {
  const { td, p } = withReport();
  assert.equal(text(td.drive(p.readFile(attr("provider")))), "tdx_guest\n");
  assert.equal(text(td.drive(p.readFile(attr("generation")))), "0\n");
  assert.deepEqual(td.drive(p.writeFile(attr("inblob"), nonce(1))), { ok: true, value: 64 });
  assert.equal(text(td.drive(p.readFile(attr("generation")))), "1\n");
  assert.deepEqual(td.drive(p.readFile(attr("outblob"))), { ok: true, value: QUOTE });
  // What the guest put in the shared buffer: version 1, the TDREPORT over inblob.
  const call = td.vmcalls.find((c) => c.name === "GetQuote")!;
  const gpa = call.regs.R12;
  assert.equal(call.regs.R13, BigInt(GET_QUOTE_BUF_SIZE));
  assert.ok(gpa & (1n << 47n), "a shared GPA");
  const buf = codec.decode("GETQUOTE_BUFFER", td.memory.read(gpa, 24 + 1024)).value;
  assert.equal(buf.version, 1n);
  assert.equal(buf.in_len, 1024);
  const head = codec.decode("TDREPORT_STRUCT", td.report(nonce(1))).value;
  assert.deepEqual(
    (head.report_mac_struct as Record<string, Uint8Array>).report_data,
    nonce(1),
  );
  // Reading again with the same generation returns the cached quote, no new GetQuote.
  assert.deepEqual(td.drive(p.readFile(attr("outblob"))), { ok: true, value: QUOTE });
  assert.equal(td.vmcalls.filter((c) => c.name === "GetQuote").length, 1);
  // A new inblob makes a new quote.
  td.drive(p.writeFile(attr("inblob"), nonce(2)));
  td.drive(p.readFile(attr("outblob")));
  assert.equal(td.vmcalls.filter((c) => c.name === "GetQuote").length, 2);
});

Deno.test("configfs-tsm: the host's quote is polled for, one HLT exit a second", () => {
  let polls = 0;
  const { td, p } = withReport({
    prepare: (td) => {
      td.host = (call, t) => {
        if (call.name === "GetQuote") markInFlight(t, call.regs.R12);
        if (call.name === "Instruction.HLT" && ++polls === 3) {
          completeQuote(t, t.vmcalls.find((c) => c.name === "GetQuote")!.regs.R12, QUOTE);
        }
        t.answer(call, "TDG.VP.VMCALL_SUCCESS");
      };
    },
  });
  td.drive(p.writeFile(attr("inblob"), nonce(1)));
  assert.deepEqual(td.drive(p.readFile(attr("outblob"))), { ok: true, value: QUOTE });
  assert.equal(polls, 3);
});

Deno.test("configfs-tsm: notify mode registers the vector with SetupEventNotifyInterrupt", () => {
  const { td, kernel, p } = withReport({ wait: { kind: "notify", vector: 0xF3 } });
  const setup = td.vmcalls.find((c) => c.name === "SetupEventNotifyInterrupt")!;
  assert.equal(setup.regs.R12, 0xF3n);
  assert.equal(kernel.driver!.notifyVector, 0xF3);
  td.drive(p.writeFile(attr("inblob"), nonce(1)));
  assert.deepEqual(td.drive(p.readFile(attr("outblob"))), { ok: true, value: QUOTE });
});

Deno.test("configfs-tsm: attributes tdx_guest hides do not exist", () => {
  const { td, p } = withReport();
  const hidden = [...spec.guestInterfaces.values()]
    .filter((g) => g.name.startsWith("tsm_report."))
    .map((g) => g.path.split("/").pop()!)
    .filter((a) => !["inblob", "outblob", "generation", "provider"].includes(a));
  assert.ok(hidden.length >= 6);
  for (const a of hidden) {
    assert.deepEqual(td.drive(p.open(attr(a), "r")), { ok: false, errno: "ENOENT" }, a);
  }
});

function host(answer: (call: VmcallRecord, td: FakeTd) => void) {
  return (td: FakeTd) => {
    td.host = answer;
  };
}

Deno.test("configfs-tsm errors", async (t) => {
  type Ctx = ReturnType<typeof bootFake>;
  const rows: {
    item: string;
    errno: string;
    name: string;
    run: (c: Ctx) => unknown;
    opts?: Parameters<typeof bootFake>[0];
  }[] = [
    {
      item: "tsm_report.outblob",
      errno: "EINVAL",
      name: "inblob never written",
      run: ({ td, p }) => td.drive(p.readFile(attr("outblob"))),
    },
    {
      item: "tsm_report.outblob",
      errno: "EINVAL",
      name: "inblob not 64 bytes",
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1, 32)));
        return td.drive(p.readFile(attr("outblob")));
      },
    },
    {
      item: "tsm_report.inblob",
      errno: "EFBIG",
      name: "inblob longer than 64 bytes",
      run: ({ td, p }) => td.drive(p.writeFile(attr("inblob"), nonce(1, 65))),
    },
    {
      item: "tsm_report.inblob",
      errno: "EACCES",
      name: "inblob opened for reading",
      run: ({ td, p }) => td.drive(p.open(attr("inblob"), "r")),
    },
    {
      item: "tsm_report.outblob",
      errno: "EACCES",
      name: "outblob opened for writing",
      run: ({ td, p }) => td.drive(p.open(attr("outblob"), "w")),
    },
    {
      item: "tsm_report.generation",
      errno: "EACCES",
      name: "generation opened for writing",
      run: ({ td, p }) => td.drive(p.open(attr("generation"), "w")),
    },
    {
      item: "tsm_report.provider",
      errno: "EACCES",
      name: "provider opened for writing",
      run: ({ td, p }) => td.drive(p.open(attr("provider"), "rw")),
    },
    {
      item: "tsm_report.outblob",
      errno: "EIO",
      name: "GetQuote TDVMCALL refused (SUBFUNC_UNSUPPORTED)",
      opts: {
        prepare: host((call, t) =>
          t.answer(
            call,
            call.name === "GetQuote"
              ? "TDG.VP.VMCALL_SUBFUNC_UNSUPPORTED"
              : "TDG.VP.VMCALL_SUCCESS",
          )
        ),
      },
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        return td.drive(p.readFile(attr("outblob")));
      },
    },
    {
      item: "tsm_report.outblob",
      errno: "EIO",
      name: "the host completes with an error status",
      opts: {
        prepare: host((call, t) => {
          if (call.name === "GetQuote") {
            completeQuote(t, call.regs.R12, new Uint8Array(0), "GET_QUOTE_ERROR");
          }
          t.answer(call, "TDG.VP.VMCALL_SUCCESS");
        }),
      },
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        return td.drive(p.readFile(attr("outblob")));
      },
    },
    {
      item: "tsm_report.outblob",
      errno: "EIO",
      name: "the host never completes (Linux's wait overshoots and reports no timeout)",
      opts: {
        prepare: host((call, t) => {
          if (call.name === "GetQuote") markInFlight(t, call.regs.R12);
          t.answer(call, "TDG.VP.VMCALL_SUCCESS");
        }),
      },
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        const r = td.drive(p.readFile(attr("outblob")));
        assert.equal(
          td.vmcalls.filter((c) => c.name === "Instruction.HLT").length,
          GET_QUOTE_TIMEOUT_POLLS,
        );
        return r;
      },
    },
    {
      item: "tsm_report.outblob",
      errno: "EBUSY",
      name: "a previous request is still in flight",
      opts: {
        prepare: host((call, t) => {
          if (call.name === "GetQuote") markInFlight(t, call.regs.R12);
          t.answer(call, "TDG.VP.VMCALL_SUCCESS");
        }),
      },
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        td.drive(p.readFile(attr("outblob")));
        td.drive(p.writeFile(attr("inblob"), nonce(2)));
        return td.drive(p.readFile(attr("outblob")));
      },
    },
    {
      item: "tsm_report.outblob",
      errno: "ETIMEDOUT",
      name: "the quote arrives during the last poll",
      opts: {
        prepare: (td) => {
          let polls = 0;
          td.host = (call, t) => {
            if (call.name === "GetQuote") markInFlight(t, call.regs.R12);
            if (call.name === "Instruction.HLT" && ++polls === GET_QUOTE_TIMEOUT_POLLS) {
              completeQuote(t, t.vmcalls.find((c) => c.name === "GetQuote")!.regs.R12, QUOTE);
            }
            t.answer(call, "TDG.VP.VMCALL_SUCCESS");
          };
        },
      },
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        return td.drive(p.readFile(attr("outblob")));
      },
    },
    {
      item: "tsm_report.outblob",
      errno: "EINTR",
      name: "a signal during the poll",
      opts: {
        prepare: host((call, t) => {
          if (call.name === "GetQuote") markInFlight(t, call.regs.R12);
          t.answer(call, "TDG.VP.VMCALL_SUCCESS");
        }),
      },
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        const base = td.host;
        // The signal arrives while the guest sleeps in its first poll.
        td.host = (call, t) => {
          base(call, t);
          if (call.name === "Instruction.HLT") p.signalPending = true;
        };
        return td.drive(p.readFile(attr("outblob")));
      },
    },
    {
      item: "tsm_report.outblob",
      errno: "ENXIO",
      name: "TDG.MR.REPORT returns TDX_OPERAND_INVALID",
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        td.forceStatus.set("TDG.MR.REPORT", td.statusOf("TDX_OPERAND_INVALID", "RCX"));
        return td.drive(p.readFile(attr("outblob")));
      },
    },
    {
      item: "tsm_report.outblob",
      errno: "EBUSY",
      name: "TDG.MR.REPORT returns TDX_OPERAND_BUSY",
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        td.forceStatus.set("TDG.MR.REPORT", td.statusOf("TDX_OPERAND_BUSY", "RTMR"));
        return td.drive(p.readFile(attr("outblob")));
      },
    },
    {
      item: "tsm_report.outblob",
      errno: "EIO",
      name: "TDG.MR.REPORT fails otherwise",
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        td.forceStatus.set("TDG.MR.REPORT", td.statusOf("TDX_INVALID_REPORTMACSTRUCT"));
        return td.drive(p.readFile(attr("outblob")));
      },
    },
    {
      item: "tsm_report.outblob",
      errno: "EFBIG",
      name: "the host's out_len exceeds the buffer",
      opts: {
        prepare: host((call, t) => {
          if (call.name === "GetQuote") {
            completeQuote(t, call.regs.R12, new Uint8Array(0));
            const head = t.codec.decode("GETQUOTE_BUFFER", t.memory.read(call.regs.R12, 24)).value;
            head.out_len = GET_QUOTE_BUF_SIZE;
            head.data = new Uint8Array(0);
            t.memory.write(call.regs.R12, t.codec.encode("GETQUOTE_BUFFER", head));
          }
          t.answer(call, "TDG.VP.VMCALL_SUCCESS");
        }),
      },
      run: ({ td, p }) => {
        td.drive(p.writeFile(attr("inblob"), nonce(1)));
        return td.drive(p.readFile(attr("outblob")));
      },
    },
  ];
  for (const row of rows) {
    await t.step(`${row.item} ${row.errno}: ${row.name}`, () => {
      const c = withReport(row.opts);
      assert.deepEqual(row.run(c), { ok: false, errno: row.errno });
      const listed = spec.guestInterface(row.item).errors!.map((e) => e.errno);
      assert.ok(listed.includes(row.errno), `${row.errno} is not listed in ${row.item}`);
    });
  }
});

Deno.test("configfs-tsm: ENXIO without a provider; EEXIST for a second mkdir", () => {
  const c = bootFake({
    prepare: (td) => {
      td.host = (call, t) =>
        t.answer(
          call,
          call.name === "MapGPA" ? "TDG.VP.VMCALL_INVALID_OPERAND" : "TDG.VP.VMCALL_SUCCESS",
        );
    },
  });
  assert.deepEqual(c.td.drive(c.p.mkdir(DIR)), { ok: false, errno: "ENXIO" });
  const d = withReport();
  assert.deepEqual(d.td.drive(d.p.mkdir(DIR)), { ok: false, errno: "EEXIST" });
});

Deno.test("configfs-tsm: a write that would wrap the generation is dropped at close", () => {
  const { td, kernel, p } = withReport();
  const r = kernel.tsm.reports.get("r1")!;
  r.readGeneration = 5n;
  r.writeGeneration = 4n;
  assert.deepEqual(td.drive(p.writeFile(attr("inblob"), nonce(1))), { ok: true, value: 64 });
  assert.equal(text(td.drive(p.readFile(attr("generation")))), "4\n");
  assert.equal(r.inblob.length, 0);
});
