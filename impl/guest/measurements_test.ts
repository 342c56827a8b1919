import { strict as assert } from "node:assert";
import { sha384 } from "@noble/hashes/sha2.js";
import { theSpec } from "../spec/mod.ts";
import { bootFake } from "./testing/boot_fake.ts";

const spec = theSpec();
const path = (item: string) => spec.guestInterface(item).path;
const RTMR2 = path("tdx_guest.rtmr2");
const data = (seed: number, n = 48) =>
  Uint8Array.from({ length: n }, (_, i) => (seed * 7 + i) & 0xFF);

Deno.test("measurement files: the eight registers under the spec's paths", () => {
  const { kernel } = bootFake();
  assert.deepEqual(kernel.measurements!.files.map((f) => f.path.split("/").pop()), [
    "rtmr0:sha384",
    "rtmr1:sha384",
    "rtmr2:sha384",
    "rtmr3:sha384",
    "mrtd:sha384",
    "mrconfigid",
    "mrowner",
    "mrownerconfig",
  ]);
});

Deno.test("RTMR write extends, the next read refreshes once and shows the new value", () => {
  const { td, p } = bootFake();
  assert.deepEqual(td.drive(p.readFile(RTMR2)), { ok: true, value: new Uint8Array(48) });
  const reportsBefore = td.count("TDG.MR.REPORT");
  assert.deepEqual(td.drive(p.writeFile(RTMR2, data(1))), { ok: true, value: 48 });
  assert.equal(td.count("TDG.MR.RTMR.EXTEND"), 1);
  const expected = sha384(new Uint8Array([...new Uint8Array(48), ...data(1)]));
  assert.deepEqual(td.drive(p.readFile(RTMR2)), { ok: true, value: expected });
  assert.equal(td.count("TDG.MR.REPORT"), reportsBefore + 1);
  // In sync now: another read does not run TDG.MR.REPORT again.
  assert.deepEqual(td.drive(p.readFile(path("tdx_guest.rtmr2"))), { ok: true, value: expected });
  assert.equal(td.count("TDG.MR.REPORT"), reportsBefore + 1);
  // The class link reaches the same file.
  const viaClass = RTMR2.replace("/sys/devices/virtual/misc/", "/sys/class/misc/");
  assert.deepEqual(td.drive(p.readFile(viaClass)), { ok: true, value: expected });
});

Deno.test("non-RTMR registers read from the last report; MRTD is not refreshed by reads", () => {
  const { td, p } = bootFake();
  assert.deepEqual(td.drive(p.readFile(path("tdx_guest.mrtd"))), { ok: true, value: td.mrtd });
  assert.deepEqual(td.drive(p.readFile(path("tdx_guest.mrowner"))), {
    ok: true,
    value: new Uint8Array(48).fill(2),
  });
  const before = td.count("TDG.MR.REPORT");
  td.drive(p.writeFile(path("tdx_guest.rtmr0"), data(3)));
  td.drive(p.readFile(path("tdx_guest.mrtd")));
  assert.equal(td.count("TDG.MR.REPORT"), before);
});

Deno.test("sysfs clipping: reads past the end are empty, partial reads work", () => {
  const { td, p } = bootFake();
  const fd = td.drive(p.open(path("tdx_guest.mrtd"), "r"));
  assert.ok(fd.ok);
  assert.deepEqual(td.drive(p.pread(fd.value!, 100, 40)), { ok: true, value: td.mrtd.slice(40) });
  assert.deepEqual(td.drive(p.pread(fd.value!, 10, 48)), { ok: true, value: new Uint8Array(0) });
  assert.deepEqual(td.drive(p.pread(fd.value!, 0, 0)), { ok: true, value: new Uint8Array(0) });
});

Deno.test("a write of more than 48 bytes is clipped to 48 and extends with them", () => {
  const { td, p } = bootFake();
  const long = data(5, 64);
  assert.deepEqual(td.drive(p.writeFile(RTMR2, long)), { ok: true, value: 48 });
  assert.deepEqual(
    td.rtmr[2],
    sha384(new Uint8Array([...new Uint8Array(48), ...long.slice(0, 48)])),
  );
});

Deno.test("an empty write does nothing and returns 0", () => {
  const { td, p } = bootFake();
  assert.deepEqual(td.drive(p.writeFile(RTMR2, new Uint8Array(0))), { ok: true, value: 0 });
  assert.equal(td.count("TDG.MR.RTMR.EXTEND"), 0);
});

Deno.test("measurement file errors", async (t) => {
  type Ctx = ReturnType<typeof bootFake>;
  const rows: { name: string; errno: string; run: (c: Ctx) => unknown; item?: string }[] = [
    {
      name: "write shorter than 48 bytes",
      errno: "EINVAL",
      run: ({ td, p }) => td.drive(p.writeFile(RTMR2, data(1, 47))),
    },
    {
      name: "write not at offset 0",
      errno: "EINVAL",
      run: ({ td, p }) => {
        const fd = td.drive(p.open(RTMR2, "w"));
        return td.drive(p.pwrite(fd.ok ? fd.value : -1, data(1, 47), 1));
      },
    },
    {
      name: "write at or past the end of the file",
      errno: "EFBIG",
      run: ({ td, p }) => {
        const fd = td.drive(p.open(RTMR2, "w"));
        return td.drive(p.pwrite(fd.ok ? fd.value : -1, data(1), 48));
      },
    },
    {
      name: "TDG.MR.RTMR.EXTEND returns TDX_OPERAND_INVALID",
      errno: "ENXIO",
      run: ({ td, p }) => {
        td.forceStatus.set("TDG.MR.RTMR.EXTEND", td.statusOf("TDX_OPERAND_INVALID", "RDX"));
        return td.drive(p.writeFile(RTMR2, data(1)));
      },
    },
    {
      name: "TDG.MR.RTMR.EXTEND returns TDX_OPERAND_BUSY",
      errno: "EBUSY",
      run: ({ td, p }) => {
        td.forceStatus.set("TDG.MR.RTMR.EXTEND", td.statusOf("TDX_OPERAND_BUSY", "RTMR"));
        return td.drive(p.writeFile(RTMR2, data(1)));
      },
    },
    {
      name: "TDG.MR.RTMR.EXTEND fails otherwise",
      errno: "EIO",
      run: ({ td, p }) => {
        td.forceStatus.set("TDG.MR.RTMR.EXTEND", td.statusOf("TDX_OPERAND_ADDR_RANGE_ERROR"));
        return td.drive(p.writeFile(RTMR2, data(1)));
      },
    },
    {
      name: "refreshing read: TDG.MR.REPORT returns TDX_OPERAND_BUSY",
      errno: "EBUSY",
      run: ({ td, p }) => {
        td.drive(p.writeFile(RTMR2, data(1)));
        td.forceStatus.set("TDG.MR.REPORT", td.statusOf("TDX_OPERAND_BUSY", "RTMR"));
        return td.drive(p.readFile(RTMR2));
      },
    },
    {
      name: "refreshing read: TDG.MR.REPORT returns TDX_OPERAND_INVALID",
      errno: "ENXIO",
      run: ({ td, p }) => {
        td.drive(p.writeFile(RTMR2, data(1)));
        td.forceStatus.set("TDG.MR.REPORT", td.statusOf("TDX_OPERAND_INVALID", "RDX"));
        return td.drive(p.readFile(RTMR2));
      },
    },
    {
      name: "a signal while waiting for the lock (write)",
      errno: "EINTR",
      run: ({ td, p }) => {
        const fd = td.drive(p.open(RTMR2, "w"));
        p.signalPending = true;
        return td.drive(p.write(fd.ok ? fd.value : -1, data(1)));
      },
    },
    {
      name: "a signal while waiting for the lock (read)",
      errno: "EINTR",
      item: "tdx_guest.mrtd",
      run: ({ td, p }) => {
        const fd = td.drive(p.open(path("tdx_guest.mrtd"), "r"));
        p.signalPending = true;
        return td.drive(p.read(fd.ok ? fd.value : -1, 48));
      },
    },
    {
      name: "opening a read-only register for writing",
      errno: "EACCES",
      item: "tdx_guest.mrtd",
      run: ({ td, p }) => td.drive(p.writeFile(path("tdx_guest.mrtd"), data(1))),
    },
  ];
  for (const row of rows) {
    await t.step(`${row.errno}: ${row.name}`, () => {
      const c = bootFake();
      assert.deepEqual(row.run(c), { ok: false, errno: row.errno });
      const listed = spec.guestInterface(row.item ?? "tdx_guest.rtmr2").errors!.map((e) => e.errno);
      assert.ok(listed.includes(row.errno), `${row.errno} is not in the spec item`);
    });
  }
});
