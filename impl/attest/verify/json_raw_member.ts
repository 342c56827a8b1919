// The exact text of one member of a top-level JSON object. Intel signs the bytes of the
// "tcbInfo" / "enclaveIdentity" object as they appear in the PCS response, so the
// signature must be checked over that text, not over a re-serialization.

/** Index just past the JSON string starting at `i` (which holds '"'), or -1. */
function skipString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === "\\") j++;
    else if (c === '"') return j + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at `i`, or -1 (the text is known to parse). */
function skipValue(text: string, i: number): number {
  if (text[i] === '"') return skipString(text, i);
  if (text[i] !== "{" && text[i] !== "[") {
    const m = /^[^,}\]\s]+/.exec(text.slice(i, i + 64));
    return m ? i + m[0].length : -1;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === '"') {
      j = skipString(text, j) - 1;
      if (j < 0) return -1;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}

const WS = /\s/;

/** The raw text of top-level member `name` of the JSON object text, or undefined. */
export function rawJsonMember(text: string, name: string): string | undefined {
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  let i = 0;
  const ws = () => {
    while (i < text.length && WS.test(text[i])) i++;
  };
  ws();
  if (text[i] !== "{") return undefined;
  i++;
  for (;;) {
    ws();
    if (text[i] !== '"') return undefined;
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return undefined;
    const key = JSON.parse(text.slice(i, keyEnd));
    i = keyEnd;
    ws();
    if (text[i] !== ":") return undefined;
    i++;
    ws();
    const end = skipValue(text, i);
    if (end < 0) return undefined;
    if (key === name) return text.slice(i, end);
    i = end;
    ws();
    if (text[i] !== ",") return undefined;
    i++;
  }
}
