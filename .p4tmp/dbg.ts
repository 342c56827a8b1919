import { theSpec } from "../impl/spec/mod.ts";
import { Cpu } from "../impl/cpu/cpu.ts";
import { ModuleState } from "../impl/module/state.ts";
import { mdDumpList, FIELD_ID_NA, mdNextFieldId } from "../impl/module/metadata.ts";
const spec = theSpec();
const c = { spec, cpu: new Cpu(spec), state: new ModuleState() };
let x = mdNextFieldId(c, "global", FIELD_ID_NA, { who: "guest" });
while (x !== FIELD_ID_NA) { console.log(x.toString(16)); x = mdNextFieldId(c, "global", x, { who: "guest" }); }
const r = mdDumpList(c, "global", FIELD_ID_NA, { who: "guest" });
const v = new DataView(r.list!.buffer);
console.log(r.status, v.getUint16(0, true), v.getUint16(2, true));
for (let o = 8; o < v.getUint16(0, true); o += 8) console.log(o, v.getBigUint64(o, true).toString(16));
