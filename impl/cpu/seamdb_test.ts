import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { Cpu, type SeamModule } from "./cpu.ts";
import { SeamDatabase } from "./seamdb.ts";

Deno.test("SEAMDB: an empty database has no reference", () => {
  assert.deepEqual(new SeamDatabase().getref(), { result: "SEAMOPS_DATABASE_ERROR" });
});

Deno.test("SEAMDB: GETREF names the newest entry; REPORT accepts every held entry", () => {
  const db = new SeamDatabase();
  const first = db.insert();
  const second = db.insert();
  assert.deepEqual([first.index, second.index], [0n, 1n]);
  assert.notEqual(first.nonce, second.nonce);
  assert.deepEqual(db.getref(), { result: "SEAMOPS_SUCCESS", ref: second, size: 2n });
  // A TD created under the first build still reports after the update.
  assert.equal(db.report(first), "SEAMOPS_SUCCESS");
  assert.equal(db.report(second), "SEAMOPS_SUCCESS");
});

Deno.test("SEAMDB: REPORT refuses an index or nonce the database does not hold", () => {
  const db = new SeamDatabase();
  const ref = db.insert();
  assert.equal(db.report({ index: 1n, nonce: ref.nonce }), "SEAMOPS_DATABASE_ERROR");
  assert.equal(db.report({ index: 0n, nonce: ref.nonce ^ 1n }), "SEAMOPS_DATABASE_ERROR");
  assert.equal(db.report({ index: -1n, nonce: ref.nonce }), "SEAMOPS_DATABASE_ERROR");
});

Deno.test("SEAMDB: after CLEAR the old references fail, even at a reused index", () => {
  const db = new SeamDatabase();
  const old = db.insert();
  db.clear();
  assert.equal(db.report(old), "SEAMOPS_DATABASE_ERROR");
  const fresh = db.insert();
  assert.equal(fresh.index, old.index);
  assert.equal(db.report(old), "SEAMOPS_DATABASE_ERROR");
  assert.equal(db.report(fresh), "SEAMOPS_SUCCESS");
});

Deno.test("SEAMDB: the SEAM loader inserts an entry for each module it installs", () => {
  const cpu = new Cpu(theSpec());
  const m: SeamModule = { seamcall() {}, tdcall() {} };
  assert.equal(cpu.seamdb.size, 0);
  cpu.loadModule(m);
  cpu.loadModule(undefined);
  cpu.loadModule(m);
  assert.equal(cpu.seamdb.size, 2);
});
