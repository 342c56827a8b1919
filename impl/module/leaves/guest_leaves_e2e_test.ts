// The guest leaves in a TD built by real SEAMCALLs (TDH.MNG.*, TDH.MEM.PAGE.ADD/AUG,
// TDH.MR.FINALIZE) and run by TDH.VP.ENTER: the guest program measures, accepts a page,
// makes and verifies a report, then exits to the host with TDG.VP.VMCALL.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { encodeBits } from "../../spec/bits.ts";
import { tdcallByName } from "../../cpu/leaf_call.ts";
import { Platform } from "../testing/fixture.ts";
import { MemoryTd } from "../testing/memory_fixture.ts";
import { createVcpu, finalizeTd } from "../testing/td_fixture.ts";
import { entryAt } from "../sept.ts";

Deno.test("a TD built with SEAMCALLs runs the guest leaves and exits with TDG.VP.VMCALL", () => {
  const p = new Platform();
  const m = new MemoryTd(p);
  const spec = p.spec;
  const DATA = 0x1000_0000n;
  const ACCEPTED = 0x1000_1000n;
  const extend = Uint8Array.from({ length: 48 }, (_, i) => 0x40 + i);
  const image = new Uint8Array(4096);
  image.set(extend, 0x40);
  m.pageAdd(DATA, image);
  const tdvpr = createVcpu(p, m.created);
  finalizeTd(p, m.created);
  m.aug(ACCEPTED);
  assert.equal(entryAt(m.td, 0, ACCEPTED).state, "PENDING");

  const gal = encodeBits(spec.bitfield("GPA_AND_LEVEL").fields, {
    level: 0n,
    gpa: ACCEPTED >> 12n,
  });
  const control = encodeBits(
    spec.tdcall("TDG.VP.VMCALL").inputs.find((r) => r.name === "control")!.fields!,
    { GPR_SELECT: 1n << 11n },
  );
  const seen: Record<string, string | undefined> = {};
  const name = (s: bigint) =>
    [...spec.statuses.values()].find((x) => x.namespace === "tdx" && BigInt(x.value) === s)?.name;
  p.cpu.attachGuestProgram(m.tdr, function* (port) {
    const call = (leaf: string, inputs: Record<string, bigint | number> = {}) => {
      const r = tdcallByName(spec, port, leaf, inputs);
      seen[leaf] = name(r.status);
      return r;
    };
    call("TDG.VP.INFO");
    call("TDG.MR.RTMR.EXTEND", { extend_data_gpa: DATA + 0x40n, index: 2 });
    call("TDG.MEM.PAGE.ACCEPT", { gpa_and_level: gal });
    call("TDG.MR.REPORT", { tdreport_gpa: ACCEPTED, reportdata_gpa: DATA, subtype: 0 });
    call("TDG.MR.VERIFYREPORT", { reportmacstruct_gpa: ACCEPTED });
    call("TDG.VP.VMCALL", { control });
    assert.equal(port.exitRequested, true);
    yield;
  });
  const handle = encodeBits(
    spec.seamcall("TDH.VP.ENTER").inputs.find((r) => r.name === "vcpu_handle_and_flags")!.fields!,
    { tdvpr_pa: tdvpr >> 12n },
  );
  const entered = p.seamcall("TDH.VP.ENTER", { vcpu_handle_and_flags: handle });
  assert.equal(entered.name, "TDX_SUCCESS");
  assert.equal(entered.detail, spec.enumValue("VMX_EXIT_REASON", "TDCALL"));
  assert.deepEqual(seen, {
    "TDG.VP.INFO": "TDX_SUCCESS",
    "TDG.MR.RTMR.EXTEND": "TDX_SUCCESS",
    "TDG.MEM.PAGE.ACCEPT": "TDX_SUCCESS",
    "TDG.MR.REPORT": "TDX_SUCCESS",
    "TDG.MR.VERIFYREPORT": "TDX_SUCCESS",
    "TDG.VP.VMCALL": "TDX_SUCCESS",
  });
  const want = createHash("sha384").update(new Uint8Array(48)).update(extend).digest();
  assert.deepEqual(m.td.rtmr[2], new Uint8Array(want));
  assert.equal(entryAt(m.td, 0, ACCEPTED).state, "MAPPED");
});
