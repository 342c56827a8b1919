// Vector generators for the struct layer: sample round trips, truncations, real data.
import type { Spec } from "../../impl/spec/mod.ts";
import { StructCodec } from "../../impl/spec/codec.ts";
import { SampleRng, sampleStruct } from "../../impl/spec/sample_values.ts";
import { fixedStructSize } from "../../impl/spec/layout.ts";
import { bytesToHex } from "../../impl/spec/hex.ts";
import { flatten } from "../../runner/value_format.ts";
import { runStructStep } from "../../runner/layers/struct_layer.ts";
import type { Step, Vector } from "../../runner/vector_types.ts";
import type { GeneratorContext } from "./generator_context.ts";

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "_");
}

/** Runs a step through the reference and records its result as the expectation. */
function recorded(spec: Spec, op: string, input: Record<string, unknown>): Step {
  return { op, input, expect: runStructStep(spec, { op, input, expect: {} }) };
}

export function structRoundtrip(ctx: GeneratorContext, params: Record<string, unknown>): Vector[] {
  const { spec } = ctx;
  const codec = new StructCodec(spec);
  const names = params.structs === "all"
    ? [...spec.structs.values()].filter((s) => s.encoding !== "cbor").map((s) => s.name)
    : params.structs as string[];
  const seeds = (params.seeds as number[] | undefined) ?? [1];
  const out: Vector[] = [];
  for (const name of names.sort()) {
    for (const seed of seeds) {
      const value = sampleStruct(spec, name, new SampleRng(seed));
      const bytes = codec.encode(name, value);
      const fields = flatten(value);
      out.push(ctx.vector({
        id: `struct.${slug(name)}.roundtrip-${seed}`,
        title: `${name} encodes from field values and decodes back (sample ${seed})`,
        layer: "struct",
        covers: [{ kind: "struct", name }],
        tags: ["codec", "roundtrip"],
        scenarioCase: `${name}#${seed}`,
        steps: [
          {
            op: "struct.encode",
            input: { struct: name, fields },
            expect: { bytes: bytesToHex(bytes) },
          },
          {
            op: "struct.decode",
            input: { struct: name, bytes: bytesToHex(bytes) },
            expect: { size: bytes.length, fields },
          },
        ],
      }));
    }
    const size = fixedStructSize(spec.struct(name));
    if (params.truncate && size !== undefined && size > 1) {
      const bytes = codec.encode(name, sampleStruct(spec, name, new SampleRng(seeds[0])));
      const input = { struct: name, bytes: bytesToHex(bytes.subarray(0, size - 1)) };
      out.push(ctx.vector({
        id: `struct.${slug(name)}.truncated`,
        title: `${name} one byte short is refused as truncated`,
        layer: "struct",
        covers: [{ kind: "struct", name }],
        tags: ["codec", "negative"],
        scenarioCase: `${name}#truncated`,
        steps: [{ op: "struct.decode", input, expect: { error: { class: "truncated" } } }],
      }));
    }
  }
  return out;
}

export function structDecodeFile(ctx: GeneratorContext, params: Record<string, unknown>): Vector[] {
  const cases = params.cases as {
    id: string;
    title: string;
    struct: string;
    file: string;
    offset?: number;
    length?: number;
  }[];
  return cases.map((c) => {
    const all = Deno.readFileSync(new URL(`../../${c.file}`, import.meta.url));
    const bytes = all.subarray(
      c.offset ?? 0,
      c.length !== undefined ? (c.offset ?? 0) + c.length : undefined,
    );
    const step = recorded(ctx.spec, "struct.decode", {
      struct: c.struct,
      bytes: bytesToHex(bytes),
    });
    if ("error" in step.expect) throw new Error(`${c.id}: the reference cannot decode ${c.file}`);
    return ctx.vector({
      id: c.id,
      title: c.title,
      layer: "struct",
      covers: [{ kind: "struct", name: c.struct }],
      tags: ["codec", "realdata"],
      scenarioCase: c.id,
      source: `${c.file} (fixtures/realdata/PROVENANCE.md)`,
      steps: [step],
    });
  });
}
