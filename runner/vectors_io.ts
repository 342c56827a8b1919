// Reading vectors from vectors/: every file validated against the published schema;
// a bad file is reported by path and JSON pointer, never silently dropped.
import Ajv2020Module from "ajv/2020";
import { type Fixture, FIXTURE_SCHEMA_ID, type Vector, VECTOR_SCHEMA_ID } from "./vector_types.ts";
import { globToRegExp } from "./expect_fail.ts";

type Validate = ((d: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string }[] | null;
};
type AjvLike = { addSchema(s: unknown): void; getSchema(id: string): Validate | undefined };
const Ajv2020 =
  ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as new (
    o: unknown,
  ) => AjvLike;

export const VECTORS_DIR = new URL("../vectors/", import.meta.url).pathname;
let ajv: AjvLike | undefined;

function problems(schemaId: string, v: unknown): string[] {
  if (!ajv) {
    ajv = new Ajv2020({ allErrors: true, strict: false });
    for (const f of ["vector.schema.json", "fixture.schema.json"]) {
      ajv.addSchema(JSON.parse(Deno.readTextFileSync(`${VECTORS_DIR}schema/${f}`)));
    }
  }
  const validate = ajv.getSchema(schemaId)!;
  if (validate(v)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message}`);
}

export function vectorProblems(v: unknown): string[] {
  return problems(VECTOR_SCHEMA_ID, v);
}

export function fixtureProblems(v: unknown): string[] {
  return problems(FIXTURE_SCHEMA_ID, v);
}

/** The vector with its fixture's steps in front, as implementations run it. */
export function expandFixture(v: Vector, fixtures: Map<string, Fixture>): Vector {
  if (!v.fixture) return v;
  const f = fixtures.get(v.fixture);
  if (!f) {
    throw new RangeError(
      `vector ${v.id} names fixture ${v.fixture}, which vectors/fixtures/ lacks`,
    );
  }
  const { fixture: _, ...rest } = v;
  return { ...rest, steps: [...f.steps, ...v.steps] };
}

export function listVectorFiles(dir = VECTORS_DIR): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(dir + rel)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory && e.name !== "schema" && e.name !== "fixtures") walk(p);
      else if (e.isFile && e.name.endsWith(".json")) out.push(p);
    }
  };
  walk("");
  return out.sort();
}

export function loadFixtures(
  dir = VECTORS_DIR,
): { fixtures: Map<string, Fixture>; errors: string[] } {
  const fixtures = new Map<string, Fixture>();
  const errors: string[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(`${dir}fixtures`)];
  } catch { /* no fixtures */ }
  for (const e of entries.filter((e) => e.name.endsWith(".json"))) {
    const file = `fixtures/${e.name}`;
    try {
      const f = JSON.parse(Deno.readTextFileSync(dir + file));
      const p = fixtureProblems(f);
      if (p.length) errors.push(...p.slice(0, 5).map((x) => `vectors/${file}: ${x}`));
      else if (`${f.id}.json` !== e.name) {
        errors.push(`vectors/${file}: id ${f.id} does not match the file name`);
      } else fixtures.set(f.id, f);
    } catch (err) {
      errors.push(`vectors/${file}: not JSON: ${(err as Error).message}`);
    }
  }
  return { fixtures, errors };
}

/** Every vector, validated and with its fixture expanded. */
export function loadVectors(dir = VECTORS_DIR): { vectors: Vector[]; errors: string[] } {
  const vectors: Vector[] = [];
  const { fixtures, errors } = loadFixtures(dir);
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
    try {
      vectors.push(expandFixture(vec, fixtures));
    } catch (err) {
      errors.push(`vectors/${file}: ${(err as Error).message}`);
    }
  }
  return { vectors, errors };
}

export function selectVectors(vectors: Vector[], filter?: string, tags?: string[]): Vector[] {
  const re = filter ? globToRegExp(filter) : undefined;
  return vectors.filter((v) =>
    (!re || re.test(v.id)) && (!tags?.length || tags.some((t) => v.tags.includes(t)))
  );
}
