// deno task dice-quote OUT [--tdreport FILE] [--seed TEXT] [--root-out PEM] [--x5chain] [--bare]
// Writes a DICE TD quote (TDX Quoting extension layout, signed with the suite's test DICE
// keys, not Intel's) for a TDREPORT - a made-up one unless --tdreport is given - and,
// with --root-out, the test DICE root to verify it with:
//   deno task verify OUT --root ROOT.pem
// Exit 0 when written, 2 on bad usage or an unusable input file.
import { parseArgs } from "node:util";
import { theSpec } from "../impl/spec/mod.ts";
import { makeDiceQuoteGenerator } from "../impl/attest/dice/dice_quote_generate.ts";
import { sampleTdreport } from "../impl/attest/quote/tdreport_sample.ts";

export const USAGE = `usage: deno task dice-quote OUT [options]
  OUT               where to write the quote (binary CBOR)
  --tdreport FILE   a 1024-byte TDREPORT_STRUCT (default: a made-up one from the seed)
  --seed TEXT       seed of every test key and made-up value (default: "tdx-conformance")
  --root-out PEM    also write the test DICE root certificate (PEM)
  --x5chain         certificates under x5chain (label 33) instead of x5bag (32)
  --bare            no CWT tag 61 around the COSE_Sign1
exit status: 0 written, 2 bad usage or unusable input`;

export async function main(
  args: string[],
  out = console.log,
  err = console.error,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        tdreport: { type: "string" },
        seed: { type: "string" },
        "root-out": { type: "string" },
        x5chain: { type: "boolean" },
        bare: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    err(`give exactly one OUT file\n${USAGE}`);
    return 2;
  }
  const spec = theSpec();
  const seedText = values.seed ?? "tdx-conformance";
  const gen = makeDiceQuoteGenerator(spec, new TextEncoder().encode(seedText));
  let report: Uint8Array;
  if (values.tdreport !== undefined) {
    try {
      report = await Deno.readFile(values.tdreport);
    } catch (e) {
      err(`--tdreport ${values.tdreport}: cannot read (${(e as Error).message})`);
      return 2;
    }
  } else {
    report = sampleTdreport(
      spec,
      [...seedText].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7),
    );
  }
  const q = gen.generate(report, {
    certLabel: values.x5chain ? "x5chain" : "x5bag",
    bare: values.bare === true,
  });
  if (!q.ok) {
    err(`--tdreport ${values.tdreport ?? "(made up)"}: ${q.error.field}: ${q.error.message}`);
    return 2;
  }
  await Deno.writeFile(positionals[0], q.value);
  out(`wrote ${positionals[0]} (${q.value.length} bytes, DICE quote signed with test keys)`);
  if (values["root-out"] !== undefined) {
    await Deno.writeTextFile(values["root-out"], gen.pki.root.pem);
    out(`wrote ${values["root-out"]} (test DICE root CA)`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
