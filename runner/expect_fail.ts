// Expected-failure lists: one vector id or glob per line, "#" starts a comment
// (the reason). A listed vector that passes is an unexpected pass.

export interface ExpectFailEntry {
  pattern: string;
  reason: string;
  line: number;
  regex: RegExp;
}

export function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${esc}$`);
}

export function parseExpectFail(text: string): { entries: ExpectFailEntry[]; errors: string[] } {
  const entries: ExpectFailEntry[] = [];
  const errors: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const hash = raw.indexOf("#");
    const pattern = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    const reason = hash >= 0 ? raw.slice(hash + 1).trim() : "";
    if (!pattern) return;
    if (!/^[a-z0-9_.*?-]+$/.test(pattern)) {
      errors.push(`line ${i + 1}: "${pattern}" is not a vector id or glob`);
      return;
    }
    entries.push({ pattern, reason, line: i + 1, regex: globToRegExp(pattern) });
  });
  return { entries, errors };
}

export function expectedToFail(
  entries: ExpectFailEntry[],
  id: string,
): ExpectFailEntry | undefined {
  return entries.find((e) => e.regex.test(id));
}
