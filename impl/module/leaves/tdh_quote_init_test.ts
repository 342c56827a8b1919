import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { type Expected, expectStatus } from "../testing/expect_status.ts";
import { parseHex } from "../../spec/hex.ts";
import {
  addExtensionMemory,
  initExtensions,
  quoteAddOn,
  readGlobal,
} from "../testing/extension_steps.ts";

interface Row {
  name: string;
  before?: (p: Platform) => void;
  raxExtra?: bigint;
  want: Expected;
}

const extReady = (p: Platform) => {
  p.readyPlatform({ addOnFeatures: quoteAddOn(p) });
  addExtensionMemory(p);
  initExtensions(p);
};

const ROWS: Row[] = [
  { name: "success", want: { name: "TDX_SUCCESS" } },
  {
    name: "interrupt pending",
    before: (p) => {
      extReady(p);
      p.cpu.pendHostInterrupt(0, true);
    },
    want: { name: "TDX_INTERRUPTED_RESUMABLE" },
  },
  {
    name: "RAX reserved bits",
    raxExtra: 1n << 60n,
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module without the Quoting extension",
    before: (p) => {
      const prof = p.module.state.profile;
      prof.features0 = prof.features0.filter((f) => f !== "QUOTE");
      p.readyPlatform();
    },
    want: { name: "TDX_OPERAND_INVALID", operand: "RAX" },
  },
  {
    name: "module shut down",
    before: (p) => {
      extReady(p);
      assert.equal(p.seamcall("TDH.SYS.SHUTDOWN", { handoff_version: 0n }).name, "TDX_SUCCESS");
    },
    want: { name: "TDX_SYS_SHUTDOWN" },
  },
  { name: "module not ready", before: (p) => p.initLps(), want: { name: "TDX_SYS_NOT_READY" } },
  {
    name: "Quoting not selected as an add-on",
    before: (p) => p.readyPlatform(),
    want: { name: "TDX_SYS_STATE_INCORRECT" },
  },
  {
    name: "extensions not initialised",
    before: (p) => {
      p.readyPlatform({ addOnFeatures: quoteAddOn(p) });
      addExtensionMemory(p);
    },
    want: { name: "TDX_SYS_STATE_INCORRECT" },
  },
];

for (const row of ROWS) {
  Deno.test(`TDH.QUOTE.INIT: ${row.name} -> ${row.want.name}`, () => {
    const p = new Platform();
    (row.before ?? extReady)(p);
    const r = p.seamcallRaw("TDH.QUOTE.INIT", {}, { raxExtra: row.raxExtra });
    expectStatus(r, row.want, row.name);
    assert.equal(
      p.module.state.platform.extensions.quoteInitialized,
      row.want.name === "TDX_SUCCESS",
    );
  });
}

Deno.test("MAX_QUOTE_SIZE is readable once TDH.QUOTE.INIT completed, and keys can be renewed", () => {
  const p = new Platform();
  extReady(p);
  const id = parseHex(p.spec.metadataField("global", "MAX_QUOTE_SIZE").field_id);
  expectStatus(p.seamcall("TDH.SYS.RD", { field_id: id }), {
    name: "TDX_METADATA_FIELD_NOT_READABLE",
  });
  p.cpu.pendHostInterrupt(0, true);
  expectStatus(p.seamcall("TDH.QUOTE.INIT"), { name: "TDX_INTERRUPTED_RESUMABLE" });
  p.cpu.pendHostInterrupt(0, false);
  expectStatus(p.seamcall("TDH.QUOTE.INIT"), { name: "TDX_SUCCESS" });
  assert.equal(
    readGlobal(p, "MAX_QUOTE_SIZE"),
    BigInt(p.module.state.profile.extensions.maxQuoteSize),
  );
  // Calling it again renews the keys.
  expectStatus(p.seamcall("TDH.QUOTE.INIT"), { name: "TDX_SUCCESS" });
});
