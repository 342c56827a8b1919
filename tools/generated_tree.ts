// Writing and comparing a generated tree of text files (docs/, vectors/).

export interface TreeDifference {
  path: string;
  problem: "missing" | "differs" | "not generated";
}

function listFiles(dir: string, rel = ""): string[] {
  let out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir + rel)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  for (const e of entries) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out = out.concat(listFiles(dir, p));
    else if (e.isFile) out.push(p);
  }
  return out;
}

export function compareTree(
  dir: string,
  expected: Map<string, string>,
  keep: (p: string) => boolean = () => false,
): TreeDifference[] {
  const diff: TreeDifference[] = [];
  for (const [path, text] of expected) {
    let actual: string;
    try {
      actual = Deno.readTextFileSync(dir + path);
    } catch {
      diff.push({ path, problem: "missing" });
      continue;
    }
    if (actual !== text) diff.push({ path, problem: "differs" });
  }
  for (const p of listFiles(dir)) {
    if (!expected.has(p) && !keep(p)) diff.push({ path: p, problem: "not generated" });
  }
  return diff.sort((a, b) => a.path.localeCompare(b.path));
}

/** Writes every file that changed (each atomically) and removes files no longer generated. */
export function writeTree(
  dir: string,
  files: Map<string, string>,
  keep: (p: string) => boolean = () => false,
) {
  let written = 0;
  let removed = 0;
  for (const [path, text] of files) {
    const full = dir + path;
    let current: string | undefined;
    try {
      current = Deno.readTextFileSync(full);
    } catch { /* new file */ }
    if (current === text) continue;
    Deno.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    const tmp = `${full}.tmp-${Deno.pid}`;
    Deno.writeTextFileSync(tmp, text);
    Deno.renameSync(tmp, full);
    written++;
  }
  for (const p of listFiles(dir)) {
    if (!files.has(p) && !keep(p)) {
      Deno.removeSync(dir + p);
      removed++;
    }
  }
  return { written, removed };
}
