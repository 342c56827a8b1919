// Temporary (helper V2): (leaf, status, operand) entries of the spec reached by steps.
import { checkSpec } from "../impl/spec/mod.ts";
import type { Vector } from "../runner/vector_types.ts";
const { spec } = checkSpec();
const seen = new Set<string>();
for (const e of Deno.readDirSync("vectors/module")) {
  const v: Vector = JSON.parse(Deno.readTextFileSync(`vectors/module/${e.name}`));
  if (!/^module\.(tdh-mem-|mem-lifecycle)/.test(v.id)) continue;
  for (const s of v.steps) {
    if (s.op !== "seamcall" || !s.input.leaf) continue;
    const st = s.expect.status as { name: string; operand?: string };
    seen.add(`${s.input.leaf}|${st.name}|${st.operand ?? "-"}`);
  }
}
const leaves = ["TDH.MEM.SEPT.ADD", "TDH.MEM.SEPT.RD", "TDH.MEM.SEPT.REMOVE", "TDH.MEM.PAGE.ADD",
  "TDH.MEM.PAGE.AUG", "TDH.MEM.PAGE.REMOVE", "TDH.MEM.PAGE.RELOCATE", "TDH.MEM.PAGE.DEMOTE",
  "TDH.MEM.PAGE.PROMOTE", "TDH.MEM.RANGE.BLOCK", "TDH.MEM.RANGE.UNBLOCK", "TDH.MEM.TRACK",
  "TDH.MEM.RD", "TDH.MEM.WR"];
let tot = 0, cov = 0;
for (const l of leaves) {
  const entries = [...new Set(spec.seamcall(l).statuses.map((s) => `${s.status}|${s.operand ?? "-"}`))];
  const miss = entries.filter((k) => !seen.has(`${l}|${k}`));
  tot += entries.length; cov += entries.length - miss.length;
  console.log(`${l}: ${entries.length - miss.length}/${entries.length} missing: ${miss.join(", ")}`);
}
console.log(`total ${cov}/${tot}`);
