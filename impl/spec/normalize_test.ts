import { strict as assert } from "node:assert";
import Ajv2020Module from "ajv/2020";
import { checkSpec } from "./mod.ts";
import { DOCUMENT_SCHEMA_ID, normalizeSpec } from "./normalize.ts";
import { loadSchemas } from "./schema_validator.ts";

type Ajv = {
  addSchema(s: unknown): void;
  getSchema(id: string): ((d: unknown) => boolean) & { errors?: unknown };
};
const Ajv2020 =
  ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as new (
    o: unknown,
  ) => Ajv;

const { spec, hash } = checkSpec();
const doc = normalizeSpec(spec.located, { spec_hash: hash, generator: "test" }) as Record<
  string,
  unknown[]
>;

Deno.test("spec --json validates against its published schema", () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  for (const { schema } of loadSchemas()) ajv.addSchema(schema);
  const validate = ajv.getSchema(DOCUMENT_SCHEMA_ID)!;
  assert.ok(
    validate(JSON.parse(JSON.stringify(doc))),
    JSON.stringify(validate.errors)?.slice(0, 500),
  );
});

Deno.test("spec --json holds the TDX 1.5 surface the suite promises", () => {
  const names = (k: string) => new Set((doc[k] as { name: string }[]).map((x) => x.name));
  assert.equal(doc.tdcall.length, 21);
  // 69 leaves of TDX module 1.5 plus the 2026 extension and Quoting leaves.
  const base = (doc.seamcall as { name: string; stability: string }[]).filter((l) =>
    !["TDH.EXT.INIT", "TDH.EXT.MEM.ADD", "TDH.QUOTE.GET", "TDH.QUOTE.INIT"].includes(l.name)
  );
  assert.equal(base.length, 69);
  for (
    const n of [
      "GetTdVmCallInfo",
      "MapGPA",
      "GetQuote",
      "ReportFatalError",
      "SetupEventNotifyInterrupt",
      "Service",
    ]
  ) {
    assert.ok(names("tdvmcall").has(n), n);
  }
  assert.ok(doc.status.length >= 150);
  assert.ok(doc.structs.length >= 25);
  assert.ok(doc.metadata.length >= 60);
  assert.ok(doc.ioctls.length >= 10);
  for (const k of ["tdcall", "seamcall", "tdvmcall", "status", "structs", "metadata", "ioctls"]) {
    for (const item of doc[k] as { sources: unknown[] }[]) assert.ok(item.sources.length > 0);
  }
});

Deno.test("numbers in spec --json use the documented encodings", () => {
  const s = (doc.status as { name: string; value: string }[]).find((x) =>
    x.name === "TDX_OPERAND_INVALID"
  )!;
  assert.equal(s.value, "0xC000010000000000");
  const l = (doc.tdcall as { name: string; leaf: number }[]).find((x) =>
    x.name === "TDG.MR.REPORT"
  )!;
  assert.equal(l.leaf, 4);
  const i = (doc.ioctls as { name: string; number: string }[]).find((x) =>
    x.name === "KVM_CREATE_VM"
  )!;
  assert.equal(i.number, "0x0000AE01");
  const st = (doc.structs as {
    name: string;
    size: number;
    fields: { name: string; offset: number; size: number }[];
  }[])
    .find((x) => x.name === "TDREPORT_STRUCT")!;
  assert.equal(st.size, 1024);
  assert.deepEqual(st.fields.map((f) => [f.offset, f.size]), [[0, 256], [256, 239], [495, 17], [
    512,
    512,
  ]]);
});
