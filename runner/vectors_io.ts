// Reading vectors from vectors/: every file validated against the published schema;
// a bad file is reported by path and JSON pointer, never silently dropped.
import Ajv2020Module from "ajv/2020";
import type { Vector } from "./vector_types.ts";
import { globToRegExp } from "./expect_fail.ts";

type Validate = ((d: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string }[] | null;
};
const Ajv2020 =
  ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as new (
    o: unknown,
  ) => { compile(s: unknown): Validate };

export const VECTORS_DIR = new URL("../vectors/", import.meta.url).pathname;
let validate: Validate | undefined;

export function vectorProblems(v: unknown): string[] {
  validate ??= new Ajv2020({ allErrors: true, strict: false }).compile(
    JSON.parse(Deno.readTextFileSync(`${VECTORS_DIR}schema/vector.schema.json`)),
  );
  if (validate(v)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message}`);
}

export function listVectorFiles(dir = VECTORS_DIR): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(dir + rel)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory && e.name !== "schema") walk(p);
      else if (e.isFile && e.name.endsWith(".json")) out.push(p);
    }
  };
  walk("");
  return out.sort();
}

export function loadVectors(dir = VECTORS_DIR): { vectors: Vector[]; errors: string[] } {
  const vectors: Vector[] = [];
  const errors: string[] = [];
  const ids = new Map<string, string>();
  for (const file of listVectorFiles(dir)) {
    let v: unknown;
    try {
      v = JSON.parse(Deno.readTextFileSync(dir + file));
    } catch (e) {
      errors.push(`vectors/${file}: not JSON: ${(e as Error).message}`);
      continue;
    }
    const problems = vectorProblems(v);
    if (problems.length) {
      errors.push(...problems.slice(0, 5).map((p) => `vectors/${file}: ${p}`));
      continue;
    }
    const vec = v as Vector;
    const prev = ids.get(vec.id);
    if (prev) errors.push(`vectors/${file}: id ${vec.id} is already used by vectors/${prev}`);
    ids.set(vec.id, file);
    vectors.push(vec);
  }
  return { vectors, errors };
}

export function selectVectors(vectors: Vector[], filter?: string, tags?: string[]): Vector[] {
  const re = filter ? globToRegExp(filter) : undefined;
  return vectors.filter((v) =>
    (!re || re.test(v.id)) && (!tags?.length || tags.some((t) => v.tags.includes(t)))
  );
}
