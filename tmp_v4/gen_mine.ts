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
if (Deno.env.get("WRITE")) {
  for (const v of Object.values(out) as { layer: string; id: string }[]) {
    Deno.mkdirSync(`vectors/${v.layer}`, { recursive: true });
    Deno.writeTextFileSync(`vectors/${v.layer}/${v.id}.json`, JSON.stringify(v, null, 2) + "\n");
  }
  for (const f of fixtures.values() as Iterable<{ id: string }>) {
    Deno.writeTextFileSync(`vectors/fixtures/${f.id}.json`, JSON.stringify(f, null, 1) + "\n");
  }
}
