// deno task spec [--json]: lints spec/ (schemas, cross-references, layouts, unique
// numbers); with --json prints the whole spec as one normalized document.
import { checkSpec, formatDiagnostic } from "../impl/spec/mod.ts";
import { normalizeSpec } from "../impl/spec/normalize.ts";

const USAGE = "usage: deno task spec [--json] [--root DIR]\n" +
  "  lints spec/ (or DIR, a spec tree of the same shape); --json prints the normalized document";

export function main(args: string[]): number {
  let json = false;
  let root: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--json") json = true;
    else if (a === "--root" && i + 1 < args.length) root = args[++i].replace(/\/?$/, "/");
    else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      return 0;
    } else {
      console.error(`unknown argument ${a}\n${USAGE}`);
      return 2;
    }
  }
  let checked;
  try {
    checked = checkSpec(root);
  } catch (e) {
    console.error(`cannot read the spec at ${root ?? "spec/"}: ${(e as Error).message}`);
    return 2;
  }
  const { spec, diagnostics, hash } = checked;
  if (diagnostics.length) {
    for (const d of diagnostics) console.error(formatDiagnostic(d));
    console.error(`${diagnostics.length} problem(s) in spec/`);
    return 2;
  }
  if (json) {
    const doc = normalizeSpec(spec.located, {
      spec_hash: hash,
      generator: "tools/spec_cli.ts --json",
    });
    console.log(JSON.stringify(doc, null, 2));
    return 0;
  }
  const counts = [
    `${spec.tdcalls.size} TDCALL`,
    `${spec.seamcalls.size} SEAMCALL`,
    `${spec.tdvmcalls.size} TDVMCALL`,
    `${spec.statuses.size} status`,
    `${spec.structs.size} struct`,
    `${spec.metadata.size} metadata`,
    `${spec.bitfields.size} bitfield`,
    `${spec.enums.size} enum`,
    `${spec.ioctls.size} ioctl`,
    `${spec.kvmTdxCommands.size} KVM_TDX`,
    `${spec.guestInterfaces.size} guest interface`,
  ];
  console.log(`spec/ is clean: ${counts.join(", ")} items (${hash})`);
  return 0;
}

if (import.meta.main) Deno.exit(main(Deno.args));
