// A content hash of the spec (items and schemas), so that vectors and reports can
// say exactly which spec they were made from.
import { createHash } from "node:crypto";
import { loadSchemas } from "./schema_validator.ts";

export function specHash(files: { file: string; bytes: Uint8Array }[]): string {
  const h = createHash("sha256");
  const schemaFiles = loadSchemas().map(({ file, schema }) => ({
    file,
    bytes: new TextEncoder().encode(JSON.stringify(schema)),
  }));
  for (
    const { file, bytes } of [...files, ...schemaFiles].sort((a, b) => a.file < b.file ? -1 : 1)
  ) {
    h.update(file);
    h.update(new Uint8Array([0]));
    h.update(bytes);
    h.update(new Uint8Array([0]));
  }
  return `sha256:${h.digest("hex")}`;
}
