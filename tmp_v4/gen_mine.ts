import { parse as parseYaml } from "yaml";
import { checkSpec } from "../impl/spec/mod.ts";
import { GeneratorContext } from "../tools/vectors/generator_context.ts";
import { GENERATORS } from "../tools/vectors_cli.ts";
import { vectorProblems } from "../runner/vectors_io.ts";
const { spec, hash } = checkSpec();
const fixtures = new Map();
const out: Record<string, unknown> = {};
for (const name of Deno.args) {
  const t = performance.now();
  const doc = parseYaml(Deno.readTextFileSync(`scenarios/${name}`)) as Record<string, unknown>;
  const vs = await GENERATORS[String(doc.generator)](new GeneratorContext(spec, hash, `scenarios/${name}`, fixtures), doc);
  for (const v of vs) { const p = vectorProblems(v); if (p.length) console.log(v.id, p); out[v.id] = v; }
  console.log(name, vs.length, "vectors", Math.round(performance.now() - t), "ms");
}
Deno.writeTextFileSync("tmp_v4/out.json", JSON.stringify({ vectors: out, fixtures: Object.fromEntries(fixtures) }, null, 1));
