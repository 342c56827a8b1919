import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { parseHex } from "../spec/hex.ts";
import { StructCodec } from "../spec/codec.ts";
import { bootFake } from "./testing/boot_fake.ts";

const spec = theSpec();
const codec = new StructCodec(spec);
const GET_REPORT0 = parseHex(spec.ioctl("TDX_CMD_GET_REPORT0").number);
const DEV = spec.guestInterface("dev.tdx_guest").path;
const REQ_SIZE = spec.struct("tdx_report_req").size as number;

function reportData(seed: number): Uint8Array {
  return Uint8Array.from({ length: 64 }, (_, i) => (seed + i) & 0xFF);
}

Deno.test("TDX_CMD_GET_REPORT0 returns the TDREPORT over the caller's REPORTDATA", () => {
  const { td, p } = bootFake();
  const fd = td.drive(p.open(DEV, "rw"));
  assert.ok(fd.ok);
  const arg = p.memory.map(REQ_SIZE);
  p.memory.poke(arg, reportData(7));
  const r = td.drive(p.ioctl(fd.value!, GET_REPORT0, arg));
  assert.deepEqual(r, { ok: true, value: 0 });
  const req = codec.decode("tdx_report_req", p.memory.peek(arg, REQ_SIZE)).value;
  const report = req.tdreport as Record<string, Record<string, Uint8Array>>;
  assert.deepEqual(report.report_mac_struct.report_data, reportData(7));
  assert.deepEqual(report.td_info.mr_td, td.mrtd);
});

Deno.test("TDX_CMD_GET_REPORT0 errors", async (t) => {
  const rows: {
    name: string;
    errno: string;
    setup: (ctx: ReturnType<typeof bootFake>) => { request?: bigint; arg?: bigint };
    tdcallRan: boolean;
  }[] = [
    {
      name: "another request number",
      errno: "ENOTTY",
      setup: () => ({ request: GET_REPORT0 + 1n }),
      tdcallRan: false,
    },
    {
      name: "same nr, wrong size (a different _IOC)",
      errno: "ENOTTY",
      setup: () => ({ request: GET_REPORT0 ^ (1n << 16n) }),
      tdcallRan: false,
    },
    {
      name: "reportdata not readable (unmapped pointer)",
      errno: "EFAULT",
      setup: () => ({ arg: 0x1000n }),
      tdcallRan: false,
    },
    {
      name: "tdreport not writable (read-only mapping)",
      errno: "EFAULT",
      setup: ({ p }) => ({ arg: p.memory.map(REQ_SIZE, { write: false }) }),
      tdcallRan: true,
    },
    {
      name: "buffer too short for the TDREPORT",
      errno: "EFAULT",
      setup: ({ p }) => ({ arg: p.memory.map(REQ_SIZE - 1) }),
      tdcallRan: true,
    },
    {
      name: "TDG.MR.REPORT returns TDX_OPERAND_INVALID",
      errno: "ENXIO",
      setup: ({ td }) => {
        td.forceStatus.set("TDG.MR.REPORT", td.statusOf("TDX_OPERAND_INVALID", "RCX"));
        return {};
      },
      tdcallRan: true,
    },
    {
      name: "TDG.MR.REPORT returns TDX_OPERAND_BUSY",
      errno: "EBUSY",
      setup: ({ td }) => {
        td.forceStatus.set("TDG.MR.REPORT", td.statusOf("TDX_OPERAND_BUSY", "RTMR"));
        return {};
      },
      tdcallRan: true,
    },
    {
      name: "TDG.MR.REPORT fails otherwise",
      errno: "EIO",
      setup: ({ td }) => {
        td.forceStatus.set("TDG.MR.REPORT", td.statusOf("TDX_INVALID_REPORTMACSTRUCT"));
        return {};
      },
      tdcallRan: true,
    },
    {
      name: "a signal while waiting for the lock",
      errno: "EINTR",
      setup: ({ p }) => {
        p.signalPending = true;
        return {};
      },
      tdcallRan: false,
    },
  ];
  for (const row of rows) {
    await t.step(`${row.errno}: ${row.name}`, () => {
      const ctx = bootFake();
      const { td, p } = ctx;
      const fd = td.drive(p.open(DEV, "rw"));
      assert.ok(fd.ok);
      const s = row.setup(ctx);
      const arg = s.arg ?? p.memory.map(REQ_SIZE);
      const before = td.count("TDG.MR.REPORT");
      const r = td.drive(p.ioctl(fd.value!, s.request ?? GET_REPORT0, arg));
      assert.deepEqual(r, { ok: false, errno: row.errno });
      assert.equal(td.count("TDG.MR.REPORT") - before, row.tdcallRan ? 1 : 0);
      // The spec lists every errno this test provokes for the ioctl or the device node.
      const listed = [
        ...spec.ioctl("TDX_CMD_GET_REPORT0").errors,
        ...spec.guestInterface("dev.tdx_guest").errors!,
      ].map((e) => e.errno);
      assert.ok(listed.includes(row.errno));
    });
  }
});

Deno.test("/dev/tdx_guest has no read or write handler: EINVAL", () => {
  const { td, p } = bootFake();
  const fd = td.drive(p.open(DEV, "rw"));
  assert.ok(fd.ok);
  assert.deepEqual(td.drive(p.read(fd.value!, 16)), { ok: false, errno: "EINVAL" });
  assert.deepEqual(td.drive(p.write(fd.value!, new Uint8Array(4))), {
    ok: false,
    errno: "EINVAL",
  });
});

Deno.test("/dev/tdx_guest is absent when the driver failed to load: ENOENT", () => {
  // The host refuses MapGPA, so the quote buffer cannot be made shared and init fails.
  const { td, kernel, p } = bootFake({
    prepare: (td) => {
      td.host = (call, t) =>
        t.answer(
          call,
          call.name === "MapGPA" ? "TDG.VP.VMCALL_INVALID_OPERAND" : "TDG.VP.VMCALL_SUCCESS",
        );
    },
  });
  assert.equal(kernel.driverError, "ENOMEM");
  assert.deepEqual(td.drive(p.open(DEV, "rw")), { ok: false, errno: "ENOENT" });
});
