import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { expectStatus } from "../testing/expect_status.ts";

const STAGES: [string, (p: Platform) => void][] = [
  ["before TDH.SYS.INIT", () => {}],
  ["while initialising", (p) => p.initLps()],
  ["when ready", (p) => p.readyPlatform()],
  ["after TDH.SYS.SHUTDOWN", (p) => {
    p.readyPlatform();
    assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
  }],
];

for (const [name, stage] of STAGES) {
  Deno.test(`TDH.SYS.LP.SHUTDOWN: ${name} -> TDX_SUCCESS`, () => {
    const p = new Platform();
    stage(p);
    const before = p.module.state.platform.sysState;
    expectStatus(p.seamcall("TDH.SYS.LP.SHUTDOWN", {}, { lp: 2 }), { name: "TDX_SUCCESS" });
    assert.equal(p.module.state.platform.sysState, before);
  });
}

Deno.test("TDH.SYS.LP.SHUTDOWN: RAX reserved bits -> TDX_OPERAND_INVALID (RAX)", () => {
  const p = new Platform();
  expectStatus(p.seamcallRaw("TDH.SYS.LP.SHUTDOWN", {}, { raxExtra: 1n << 63n }), {
    name: "TDX_OPERAND_INVALID",
    operand: "RAX",
  });
  expectStatus(p.seamcallRaw("TDH.SYS.LP.SHUTDOWN", {}, { version: 1 }), {
    name: "TDX_OPERAND_INVALID",
    operand: "RAX",
  });
});
