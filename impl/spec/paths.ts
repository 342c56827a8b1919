// Where the spec lives in this repository.

export function specRoot(): string {
  return new URL("../../spec/", import.meta.url).pathname;
}
