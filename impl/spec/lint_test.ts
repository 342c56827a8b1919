import { strict as assert } from "node:assert";
import { checkSpec } from "./mod.ts";
import { main as specCli } from "../../tools/spec_cli.ts";

/** A scratch spec tree with the given files (paths relative to the spec root). */
function scratch(files: Record<string, string>): string {
  const root = Deno.makeTempDirSync({ prefix: "spec-lint-" }) + "/";
  for (const [path, text] of Object.entries(files)) {
    const full = root + path;
    Deno.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(full, text);
  }
  return root;
}

const SRC =
  `sources:\n  - repo: intel/tdx-module\n    path: include/auto_gen/tdx_error_codes_defs.h\n`;

const status = (name: string, value: string) =>
  `kind: status\nname: ${name}\nnamespace: tdx\nvalue: "${value}"\nstability: stable\ndescription: A status.\n${SRC}`;

Deno.test("the repository's spec passes every check", () => {
  const { diagnostics } = checkSpec();
  assert.deepEqual(diagnostics, []);
});

Deno.test("a schema error names file, line, column, pointer and what was expected", () => {
  const root = scratch({
    "status/tdx_success.yaml": status("TDX_SUCCESS", "0x0").replace(
      "namespace: tdx",
      "namespace: tdz",
    ),
  });
  const { diagnostics } = checkSpec(root);
  assert.equal(diagnostics.length, 1);
  const d = diagnostics[0];
  assert.equal(d.file, "status/tdx_success.yaml");
  assert.equal(d.pointer, "/namespace");
  assert.equal(d.line, 3);
  assert.equal(d.col, 12);
  assert.match(d.message, /expected one of "tdx", "tdvmcall"/);
});

Deno.test("an unquoted 64-bit hex value is rejected with a hint", () => {
  const root = scratch({
    "status/tdx_x.yaml": status("TDX_X", "0xC000010000000000").replace(
      '"0xC000010000000000"',
      "0xC000010000000000",
    ),
  });
  const { diagnostics } = checkSpec(root);
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0].pointer, "/value");
  assert.match(diagnostics[0].message, /quoted strings/);
});

Deno.test("YAML syntax errors and duplicate keys carry their position", () => {
  const root = scratch({ "status/tdx_a.yaml": "kind: status\nname: A\nname: B\n" });
  const { diagnostics } = checkSpec(root);
  assert.equal(diagnostics[0].file, "status/tdx_a.yaml");
  assert.equal(diagnostics[0].line, 3);
});

Deno.test("duplicate numbers, wrong file names and unknown references are reported", () => {
  const root = scratch({
    "status/tdx_a.yaml": status("TDX_A", "0x8000000000000000"),
    "status/tdx_b.yaml": status("TDX_B", "0x8000000000000000"),
    "status/wrong_name.yaml": status("TDX_C", "0x1"),
    "struct/s.yaml":
      `kind: struct\nname: S\nsize: 8\nstability: stable\ndescription: A struct.\n${SRC}` +
      `fields:\n  - name: a\n    offset: 0\n    type: u32\n  - name: b\n    offset: 4\n    type: struct\n    struct: NOPE\n    size: 4\n`,
  });
  const messages = checkSpec(root).diagnostics.map((d) => `${d.file} ${d.pointer} ${d.message}`);
  assert.ok(
    messages.some((m) => m.startsWith("status/tdx_b.yaml") && m.includes("duplicate status value")),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => m.includes("belongs in spec/status/tdx_c.yaml")),
    messages.join("\n"),
  );
  assert.ok(messages.some((m) => m.includes('unknown struct "NOPE"')), messages.join("\n"));
});

Deno.test("layout arithmetic: gaps, overlaps and wrong totals are caught", () => {
  const root = scratch({
    "struct/s.yaml":
      `kind: struct\nname: S\nsize: 16\nstability: stable\ndescription: A struct.\n${SRC}` +
      `fields:\n  - name: a\n    offset: 0\n    type: u32\n  - name: b\n    offset: 6\n    type: u64\n`,
    "bitfield/b.yaml":
      `kind: bitfield\nname: B\nwidth: 64\nstability: stable\ndescription: Bits.\n${SRC}` +
      `fields:\n  - name: x\n    bits: [0, 7]\n  - name: y\n    bits: [4, 9]\n  - name: z\n    bits: [60, 64]\n`,
  });
  const messages = checkSpec(root).diagnostics.map((d) => `${d.pointer} ${d.message}`);
  assert.ok(
    messages.includes("/fields/1/offset expected offset 4 (fields are contiguous), got 6"),
    messages.join("\n"),
  );
  assert.ok(
    messages.includes("/size fields add up to 14 bytes, but size is 16"),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => m.startsWith("/fields/1/bits bits [4, 9] overlap x")),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => m.startsWith("/fields/2/bits bit 64 is outside")),
    messages.join("\n"),
  );
});

Deno.test("ioctl numbers must match their _IOC encoding", () => {
  const root = scratch({
    "ioctl/kvm_x.yaml":
      `kind: ioctl\nname: KVM_X\nnumber: "0xAE02"\nfd: /dev/kvm\ndir: none\ntype: "0xAE"\nnr: "0x1"\n` +
      `arg_size: 0\nargument:\n  type: none\n  description: none\nerrors: []\nstability: stable\ndescription: An ioctl.\n` +
      `sources:\n  - repo: torvalds/linux\n    path: include/uapi/linux/kvm.h\n`,
  });
  const messages = checkSpec(root).diagnostics.map((d) => `${d.pointer} ${d.message}`);
  assert.deepEqual(messages, ["/number _IOC(none, 0xAE, 0x1, 0) is 0xAE01, not 0xAE02"]);
});

Deno.test("deno task spec exits 2 on a bad tree and prints file:line:col", () => {
  const root = scratch({
    "status/tdx_a.yaml": status("TDX_A", "0x0").replace("stability: stable\n", ""),
  });
  const errors: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    assert.equal(specCli(["--root", root]), 2);
  } finally {
    console.error = orig;
  }
  assert.match(
    errors[0],
    /^spec\/status\/tdx_a\.yaml:1:1 \/: missing required property "stability"$/,
  );
  assert.equal(specCli(["--bogus"]), 2);
});
