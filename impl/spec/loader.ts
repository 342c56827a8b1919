// Reads every YAML item under spec/, validates it against its kind's schema and
// returns the items with their positions. Reading never throws on bad input:
// problems come back as diagnostics naming file, line, column and JSON pointer.
import { type KindInfo, KINDS } from "./kinds.ts";
import { parseYaml } from "./yaml_document.ts";
import { validateItem } from "./schema_validator.ts";
import type { Diagnostic, Item, Located } from "./types.ts";
import { specRoot } from "./paths.ts";

export interface LoadResult {
  root: string;
  items: Located[];
  diagnostics: Diagnostic[];
  /** Every file read, relative to root, with its bytes (for the spec hash). */
  files: { file: string; bytes: Uint8Array }[];
}

function walk(dir: string, rel: string, out: string[]) {
  for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    const path = `${dir}${entry.name}`;
    const relPath = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory) walk(`${path}/`, relPath, out);
    else if (entry.isFile) out.push(relPath);
  }
}

export function loadSpec(root: string = specRoot()): LoadResult {
  const items: Located[] = [];
  const diagnostics: Diagnostic[] = [];
  const files: { file: string; bytes: Uint8Array }[] = [];
  for (const kind of KINDS) {
    const dir = `${root}${kind.folder}/`;
    let names: string[] = [];
    try {
      walk(dir, kind.folder, names);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    names = names.filter((n) => !n.endsWith("/.gitkeep") && !n.endsWith(".gitkeep"));
    for (const file of names) {
      const bytes = Deno.readFileSync(`${root}${file}`);
      files.push({ file, bytes });
      if (!file.endsWith(".yaml")) {
        diagnostics.push({
          file,
          line: 1,
          col: 1,
          pointer: "",
          message: "only .yaml files belong in spec item folders",
        });
        continue;
      }
      loadOne(kind, file, new TextDecoder().decode(bytes), items, diagnostics);
    }
  }
  return { root, items, diagnostics, files };
}

function loadOne(
  kind: KindInfo,
  file: string,
  text: string,
  items: Located[],
  diagnostics: Diagnostic[],
) {
  const parsed = parseYaml(file, text);
  if (parsed.errors.length) {
    diagnostics.push(...parsed.errors);
    return;
  }
  const value = parsed.value;
  const located: Located = { item: value as Item, file, position: parsed.position };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    diagnostics.push({ file, line: 1, col: 1, pointer: "", message: "expected a YAML mapping" });
    return;
  }
  const declared = (value as { kind?: unknown }).kind;
  if (declared !== kind.kind) {
    diagnostics.push({
      file,
      ...parsed.position("/kind"),
      pointer: "/kind",
      message: `expected kind "${kind.kind}" for a file in spec/${kind.folder}/`,
    });
    return;
  }
  const errors = validateItem(located, kind.schemaId);
  diagnostics.push(...errors);
  if (errors.length === 0) items.push(located);
}
