import { strict as assert } from "node:assert";
import { theSpec } from "../impl/spec/mod.ts";
import { coverage, renderCoverage } from "./coverage.ts";
import type { Vector } from "./vector_types.ts";
import { main } from "./conformance.ts";

function vector(covers: Vector["covers"]): Vector {
  return { covers } as Vector;
}

Deno.test("coverage: a (leaf, status) pair needs both in one vector", () => {
  const spec = theSpec();
  const rows = coverage(spec, [
    vector([{ kind: "seamcall", name: "TDH.SYS.INIT" }, { kind: "status", name: "TDX_SUCCESS" }]),
    vector([{ kind: "seamcall", name: "TDH.SYS.LP.INIT" }]),
    vector([{ kind: "status", name: "TDX_SYS_BUSY" }]),
  ]);
  const row = (k: string) => rows.find((r) => r.kind === k)!;
  assert.equal(row("seamcall").covered, 2);
  assert.ok(!row("seamcall").uncovered.includes("TDH.SYS.INIT"));
  const pairs = row("leaf status");
  assert.ok(!pairs.uncovered.includes("TDH.SYS.INIT|TDX_SUCCESS"));
  assert.ok(pairs.uncovered.includes("TDH.SYS.LP.INIT|TDX_SUCCESS"));
  assert.ok(pairs.uncovered.includes("TDH.SYS.INIT|TDX_SYS_BUSY"));
  assert.equal(pairs.covered, 1);
  // Leaves the reference does not model are counted apart.
  const apart = row("leaf status (leaf not modelled)");
  const unmodelled = [...spec.seamcalls.values()].filter((l) => l.implemented === false);
  assert.ok(unmodelled.length > 0);
  assert.ok(apart.uncovered.some((p) => p.startsWith(`${unmodelled[0].name}|`)));
});

Deno.test("coverage: the printed list is cut, coverage.json holds all of it", async () => {
  const rows = coverage(theSpec(), []);
  const text = renderCoverage(rows, 3);
  assert.match(text, /\.\.\. and \d+ more/);
  const dir = Deno.makeTempDirSync({ prefix: "coverage-" });
  const log = console.log;
  console.log = () => {};
  try {
    assert.equal(await main(["--coverage", "--report-dir", dir]), 0);
  } finally {
    console.log = log;
  }
  const json = JSON.parse(Deno.readTextFileSync(`${dir}/coverage.json`));
  assert.match(json.spec_hash, /^sha256:/);
  const structs = json.rows.find((r: { kind: string }) => r.kind === "struct");
  assert.equal(structs.covered + structs.uncovered.length, structs.total);
});

Deno.test("coverage: a status that names its leaf pairs with that leaf only", () => {
  const rows = coverage(theSpec(), [
    vector([
      { kind: "seamcall", name: "TDH.SYS.INIT" },
      { kind: "seamcall", name: "TDH.SYS.LP.INIT" },
      { kind: "status", name: "TDX_SYS_BUSY", leaf: "TDH.SYS.LP.INIT" },
    ]),
  ]);
  const pairs = rows.find((r) => r.kind === "leaf status")!;
  assert.ok(!pairs.uncovered.includes("TDH.SYS.LP.INIT|TDX_SYS_BUSY"));
  assert.ok(pairs.uncovered.includes("TDH.SYS.INIT|TDX_SYS_BUSY"));
});
