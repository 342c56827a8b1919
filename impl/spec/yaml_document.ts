// Parses one YAML file keeping source positions, so that every diagnostic can name
// file:line:column for a JSON pointer into the document.
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { Diagnostic } from "./types.ts";

export interface ParsedYaml {
  value: unknown;
  position(pointer: string): { line: number; col: number };
  errors: Diagnostic[];
}

function unescape(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

export function parseYaml(file: string, text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const errors: Diagnostic[] = [...doc.errors, ...doc.warnings].map((e) => {
    const p = at(e.pos[0]);
    return { file, ...p, pointer: "", message: e.message.split("\n")[0] };
  });

  const position = (pointer: string) => {
    let node: unknown = doc.contents;
    let best: { line: number; col: number } = { line: 1, col: 1 };
    const nodeStart = (n: unknown) => {
      const r = (n as Node | null)?.range;
      if (r) best = at(r[0]);
    };
    nodeStart(node);
    const tokens = pointer === "" ? [] : pointer.split("/").slice(1).map(unescape);
    for (const token of tokens) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === token);
        if (!pair) break;
        nodeStart(pair.key);
        node = pair.value;
        if (node) nodeStart(node);
      } else if (isSeq(node)) {
        const child = node.items[Number(token)];
        if (child === undefined) break;
        node = child;
        nodeStart(node);
      } else break;
    }
    return best;
  };

  const value = errors.length ? undefined : doc.toJS({ maxAliasCount: 0 });
  return { value, position, errors };
}
