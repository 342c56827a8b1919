// Small Markdown helpers for the generated docs.

export function cell(text: unknown): string {
  if (text === undefined || text === null) return "";
  return String(text).replace(/\|/g, "\\|").replace(/\r?\n/g, " ").trim();
}

export function table(head: string[], rows: unknown[][]): string {
  if (rows.length === 0) return "_none_\n";
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ];
  return lines.join("\n") + "\n";
}

export function code(text: unknown): string {
  return "`" + String(text) + "`";
}
