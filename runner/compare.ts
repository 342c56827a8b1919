// Compares an implementation's step result with the vector's expectation and names
// the first difference. Expectations are partial: every key the vector gives must be
// present and equal; keys it does not give are not judged. `any_of` lists acceptable
// alternatives where the spec leaves the outcome implementation-defined.

export interface Difference {
  path: string;
  expected: unknown;
  actual: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function firstDifference(
  expected: unknown,
  actual: unknown,
  path = "",
): Difference | undefined {
  if (isObject(expected) && Array.isArray(expected.any_of)) {
    let first: Difference | undefined;
    for (const alt of expected.any_of) {
      const d = firstDifference(alt, actual, path);
      if (!d) return undefined;
      first ??= d;
    }
    return first;
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return { path: path || "/", expected, actual };
    for (const [k, v] of Object.entries(expected)) {
      if (k === "why") continue;
      const d = firstDifference(v, actual[k], `${path}/${k}`);
      if (d) return d;
    }
    return undefined;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return { path: path || "/", expected, actual };
    }
    for (let i = 0; i < expected.length; i++) {
      const d = firstDifference(expected[i], actual[i], `${path}/${i}`);
      if (d) return d;
    }
    return undefined;
  }
  return expected === actual ? undefined : { path: path || "/", expected, actual };
}
