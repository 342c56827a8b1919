import { strict as assert } from "node:assert";
import { GuestSession } from "./guest_layer.ts";

const FIRMWARE = "fixtures/realdata/firmware/OVMF-debian-2022.11-6+deb12u2.fd";
const RTMR3 = "/sys/devices/virtual/misc/tdx_guest/measurements/rtmr3:sha384";

Deno.test("guest layer: steps before guest.boot are refused", () => {
  const s = new GuestSession();
  assert.deepEqual(s.step("guest.open", { path: "/dev/tdx_guest" }), {
    error: { class: "not-booted" },
  });
});

Deno.test("guest layer: the TD lives across steps; files are named; errnos by name", () => {
  const s = new GuestSession();
  assert.deepEqual(s.step("guest.boot", { firmware: FIRMWARE }), { status: "running" });
  assert.deepEqual(s.step("guest.open", { path: RTMR3, mode: "rw", as: "r3" }), { fd: "r3" });
  assert.deepEqual(s.step("guest.write", { fd: "r3", bytes: "00".repeat(47) }), {
    errno: "EINVAL",
  });
  assert.deepEqual(s.step("guest.write", { fd: "r3", bytes: "00".repeat(48) }), { ret: "0x30" });
  const r = s.step("guest.read", { fd: "r3", count: 48, offset: 0 });
  assert.equal(r.ret, "0x30");
  assert.notEqual(r.bytes, "00".repeat(48));
  assert.deepEqual(s.step("guest.open", { path: "/nope" }), { errno: "ENOENT" });
  const rep = s.step("guest.open", { path: "/dev/tdx_guest", mode: "rw" });
  assert.deepEqual(rep, { fd: "f1" }, "the second file opened (a failed open names nothing)");
  const ioctl = s.step("guest.ioctl", {
    fd: "f1",
    request: "TDX_CMD_GET_REPORT0",
    arg: { struct: "tdx_report_req", fields: { reportdata: `hex:${"ab".repeat(64)}` } },
  });
  const out = ioctl.out as Record<string, string>;
  assert.equal(out["tdreport.report_mac_struct.report_data"], `hex:${"ab".repeat(64)}`);
  assert.equal(out["tdreport.td_info.rtmr3"], `hex:${r.bytes}`);
});
