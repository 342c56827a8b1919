import { strict as assert } from "node:assert";
import { Platform } from "../testing/fixture.ts";
import { catalog } from "../metadata.ts";
import { uuidWord } from "../servtd.ts";
import { importTd, runnableMigratableTd, startImport } from "./migration_fixture.ts";

Deno.test("an import keeps the destination's old TD_UUID as PRE_IMPORT_UUID", () => {
  const p = new Platform();
  p.readyPlatform();
  const src = runnableMigratableTd(p);
  const dst = importTd(p);
  const td = p.module.state.tds.get(dst.tdr)!;
  const before = [0, 1, 2, 3].map((i) => uuidWord(td.uuid, i));
  startImport(p, src.tdr, dst.tdr);
  const srcUuid = p.module.state.tds.get(src.tdr)!.uuid;
  const cat = catalog(p.spec);
  const pre = cat.field("td", "PRE_IMPORT_UUID");
  for (let i = 0; i < 4; i++) {
    assert.equal(td.fields.get(cat.elementId(pre, i)), before[i]);
    assert.equal(uuidWord(td.uuid, i), uuidWord(srcUuid, i));
  }
});
