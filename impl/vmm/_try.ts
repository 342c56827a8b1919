import { theSpec } from "../spec/mod.ts";
import { parseTdvf } from "./tdvf.ts";
for (const f of Deno.args) {
  const r = parseTdvf(theSpec(), Deno.readFileSync(f));
  if (!r.ok) { console.log(r.error); continue; }
  const { image: _i, ...rest } = r.value;
  console.log(f, { ...rest, sections: undefined });
  for (const s of r.value.sections) console.log(s.index, s.typeName, s.dataOffset.toString(16), s.rawDataSize.toString(16), s.memoryAddress.toString(16), s.memoryDataSize.toString(16), s.attributeNames);
}
