import { checkSpec } from "/work/main/impl/spec/mod.ts";
import { GeneratorContext } from "/work/main/tools/vectors/generator_context.ts";
import { moduleSequence } from "/work/main/tools/vectors/module_generators.ts";
import { parse } from "yaml";
const { spec, hash } = checkSpec();
const ctx = new GeneratorContext(spec, hash, "scenarios/x.yaml");
const doc = parse(Deno.readTextFileSync(Deno.args[0])) as Record<string, unknown>;
const vs = moduleSequence(ctx, doc);
for (const v of vs) {
  console.log("==", v.id, JSON.stringify(v.covers.map(c=>c.name)));
  for (const s of v.steps) console.log(JSON.stringify(s.input), "\n   ->", JSON.stringify(s.expect));
}
for (const f of ctx.fixtures.values()) console.log("fixture", f.id, f.steps.length);
