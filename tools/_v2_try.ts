// Temporary (helper V2): runs one scenario file's cases one by one and prints failures.
import { parse } from "yaml";
import { checkSpec } from "../impl/spec/mod.ts";
import { GeneratorContext } from "./vectors/generator_context.ts";
import { moduleSequence } from "./vectors/module_generators.ts";
const file = Deno.args[0];
const doc = parse(Deno.readTextFileSync(file)) as { cases: { id: string }[] };
const { spec, hash } = checkSpec();
const ctx = new GeneratorContext(spec, hash, file);
let bad = 0;
const show = Deno.args[1];
for (const c of doc.cases) {
  try {
    const [v] = moduleSequence(ctx, { cases: [c] });
    if (show && c.id.includes(show)) console.log(JSON.stringify(v.steps, null, 1));
  } catch (e) {
    bad++;
    console.log(`${c.id}: ${(e as Error).message}`);
  }
}
console.log(`${doc.cases.length} cases, ${bad} failed`);
