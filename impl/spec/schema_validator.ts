// Validates spec items against the JSON Schemas in spec/schema/ (draft 2020-12).
import Ajv2020Module from "ajv/2020";
import type { Diagnostic, Located } from "./types.ts";
import { specRoot } from "./paths.ts";

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}
type ValidateFn = ((data: unknown) => boolean) & { errors?: AjvError[] | null };
interface AjvLike {
  addSchema(schema: unknown): void;
  getSchema(id: string): ValidateFn | undefined;
}
type AjvCtor = new (opts: Record<string, unknown>) => AjvLike;

const Ajv2020 = ((Ajv2020Module as unknown as { default?: AjvCtor }).default ??
  Ajv2020Module) as unknown as AjvCtor;

let cached: AjvLike | undefined;

/** All schema files of spec/schema, parsed. */
export function loadSchemas(): { file: string; schema: Record<string, unknown> }[] {
  const dir = `${specRoot()}schema/`;
  return [...Deno.readDirSync(dir)]
    .filter((e) => e.isFile && e.name.endsWith(".schema.json"))
    .map((e) => e.name)
    .sort()
    .map((name) => ({
      file: `schema/${name}`,
      schema: JSON.parse(Deno.readTextFileSync(dir + name)),
    }));
}

function ajv(): AjvLike {
  if (cached) return cached;
  const a = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  for (const { schema } of loadSchemas()) a.addSchema(schema);
  cached = a;
  return a;
}

export function validatorFor(schemaId: string): ValidateFn {
  const v = ajv().getSchema(schemaId);
  if (!v) throw new Error(`no schema with $id ${schemaId} in spec/schema/`);
  return v;
}

function describe(e: AjvError): { pointer: string; message: string } {
  const p = e.params;
  switch (e.keyword) {
    case "required":
      return {
        pointer: e.instancePath,
        message: `missing required property "${p.missingProperty}"`,
      };
    case "additionalProperties":
    case "unevaluatedProperties": {
      const prop = String(p.additionalProperty ?? p.unevaluatedProperty);
      return {
        pointer: `${e.instancePath}/${prop}`,
        message: `unknown property "${prop}" (not in the schema)`,
      };
    }
    case "enum":
      return {
        pointer: e.instancePath,
        message: `expected one of ${
          (p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")
        }`,
      };
    case "const":
      return { pointer: e.instancePath, message: `expected ${JSON.stringify(p.allowedValue)}` };
    case "pattern":
      return {
        pointer: e.instancePath,
        message: `expected a string matching ${p.pattern}` +
          (String(p.pattern).startsWith("^0x")
            ? ' (hex values are quoted strings like "0x1F")'
            : ""),
      };
    case "type":
      return {
        pointer: e.instancePath,
        message: `expected ${p.type}` +
          (p.type === "string" ? ' (hex values are quoted strings like "0x1F")' : ""),
      };
    default:
      return { pointer: e.instancePath, message: `expected: ${e.message ?? e.keyword}` };
  }
}

export function validateItem(located: Located, schemaId: string): Diagnostic[] {
  const validate = validatorFor(schemaId);
  if (validate(located.item)) return [];
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const err of validate.errors ?? []) {
    // "if/then" and "oneOf" summaries repeat a more precise error reported beside them.
    if (err.keyword === "if" || err.keyword === "oneOf" || err.keyword === "allOf") continue;
    const { pointer, message } = describe(err);
    const key = `${pointer} ${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ file: located.file, ...located.position(pointer), pointer, message });
  }
  return out;
}
