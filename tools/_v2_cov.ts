// Temporary (helper V2): (leaf, status) coverage for the TDH.MEM.* leaves.
import { checkSpec } from "../impl/spec/mod.ts";
import type { Vector } from "../runner/vector_types.ts";
const { spec } = checkSpec();
const vectors: Vector[] = [];
for (const e of Deno.readDirSync("vectors/module")) {
  vectors.push(JSON.parse(Deno.readTextFileSync(`vectors/module/${e.name}`)));
}
const leaves = ["TDH.MEM.SEPT.ADD", "TDH.MEM.SEPT.RD", "TDH.MEM.SEPT.REMOVE", "TDH.MEM.PAGE.ADD",
  "TDH.MEM.PAGE.AUG", "TDH.MEM.PAGE.REMOVE", "TDH.MEM.PAGE.RELOCATE", "TDH.MEM.PAGE.DEMOTE",
  "TDH.MEM.PAGE.PROMOTE", "TDH.MEM.RANGE.BLOCK", "TDH.MEM.RANGE.UNBLOCK", "TDH.MEM.TRACK",
  "TDH.MEM.RD", "TDH.MEM.WR"];
const pairs = new Set<string>();
const mine = Deno.args[0] === "mine";
for (const v of vectors) {
  if (mine && !/^module\.(tdh-mem-|mem-lifecycle)/.test(v.id)) continue;
  const ls = v.covers.filter((c) => c.kind === "seamcall");
  const ss = v.covers.filter((c) => c.kind === "status");
  for (const l of ls) for (const s of ss) pairs.add(`${l.name}|${s.name}`);
}
let tot = 0, cov = 0;
for (const l of leaves) {
  const names = [...new Set(spec.seamcall(l).statuses.map((s) => s.status))];
  const miss = names.filter((n) => !pairs.has(`${l}|${n}`));
  tot += names.length; cov += names.length - miss.length;
  console.log(`${l}: ${names.length - miss.length}/${names.length}  missing: ${miss.join(", ")}`);
}
console.log(`total ${cov}/${tot}`);
const count = vectors.filter((v) => /^module\.(tdh-mem-|mem-lifecycle)/.test(v.id)).length;
console.log(`vectors: ${count}`);
