// The whole spec as one normalized JSON document (`deno task spec --json`), the
// form third-party tools read. Its schema is spec/schema/spec-document.schema.json.
import { KINDS } from "./kinds.ts";
import { fixedFieldSize } from "./layout.ts";
import { parseHex, toHex } from "./hex.ts";
import type { Item, Located, StructItem } from "./types.ts";

export const DOCUMENT_SCHEMA_ID = "https://tdx-conformance.dev/schema/spec-document/v1";

function hexNorm(v: string, digits = 0): string {
  return toHex(parseHex(v), digits);
}

function normalizeItem(loc: Located, structs: Map<string, StructItem>): Record<string, unknown> {
  const it = loc.item as Item;
  const base: Record<string, unknown> = { ...it, file: `spec/${loc.file}` };
  switch (it.kind) {
    case "status":
      base.value = hexNorm(it.value, 16);
      break;
    case "metadata":
      base.field_id = hexNorm(it.field_id, 16);
      break;
    case "ioctl":
      base.number = hexNorm(it.number, 8);
      break;
    case "tdvmcall":
      base.subfunction = hexNorm(it.subfunction);
      break;
    case "struct": {
      const structOf = (n: string) => structs.get(n);
      base.fields = it.fields.map((f) => ({
        ...f,
        size: f.size ?? fixedFieldSize(f, structOf) ?? null,
      }));
      break;
    }
  }
  return base;
}

export function normalizeSpec(
  located: Located[],
  meta: { spec_hash: string; generator: string },
): Record<string, unknown> {
  const structs = new Map(
    located.filter((l) => l.item.kind === "struct").map((l) => [l.item.name, l.item as StructItem]),
  );
  const doc: Record<string, unknown> = {
    $schema: DOCUMENT_SCHEMA_ID,
    generator: meta.generator,
    spec_hash: meta.spec_hash,
  };
  const counts: Record<string, number> = {};
  for (const k of KINDS) {
    const list = located
      .filter((l) => l.item.kind === k.kind)
      .sort((a, b) => a.file.localeCompare(b.file))
      .map((l) => normalizeItem(l, structs));
    doc[k.jsonKey] = list;
    counts[k.jsonKey] = list.length;
  }
  doc.counts = counts;
  return doc;
}
