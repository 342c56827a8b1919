// deno task qgs [--tcp PORT] [--unix PATH] [--seed HEX] [--quote-version 4|5] [--body 1.0|1.5]
//   [--max-connections N] [--root-out FILE] [--collateral-out FILE]
// Runs the test Quote Generation Service on 127.0.0.1 and/or a Unix socket until
// SIGINT or SIGTERM, then closes gracefully. Quotes are signed by a test PKI drawn from
// the seed; --root-out writes its root certificate and --collateral-out matching
// collateral (dcap-qvl JSON shape) for a verifier. Exit 2 on bad arguments.
import { parseArgs } from "node:util";
import { theSpec } from "../impl/spec/mod.ts";
import { bytesToHex, hexToBytes } from "../impl/spec/hex.ts";
import { makeQuoteGenerator } from "../impl/attest/quote/quote_generate.ts";
import { makeCollateral } from "../impl/attest/quote/collateral.ts";
import { startQgs } from "../impl/attest/qgs/server.ts";

const USAGE =
  "usage: deno task qgs [--tcp PORT] [--unix PATH] [--seed HEX] [--quote-version 4|5]\n" +
  "  [--body 1.0|1.5] [--max-connections N] [--root-out FILE] [--collateral-out FILE]\n" +
  "  serves GET_QUOTE (and platform info, collateral) on 127.0.0.1:PORT (0 = any free port;\n" +
  "  the default when no --unix is given) and/or a Unix socket, until SIGINT/SIGTERM";

export interface Io {
  out(line: string): void;
  err(line: string): void;
}
const consoleIo: Io = { out: (l) => console.log(l), err: (l) => console.error(l) };

function signals(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
}

function integer(text: string, name: string, min: number, max: number): number | string {
  const n = Number(text);
  return /^\d+$/.test(text) && n >= min && n <= max
    ? n
    : `--${name} must be an integer from ${min} to ${max}, got "${text}"`;
}

/** Runs until `stop` settles (SIGINT/SIGTERM by default); `ready` hears the addresses. */
export async function main(
  args: string[],
  io: Io = consoleIo,
  stop?: Promise<void>,
  ready?: (addr: { tcp?: { hostname: string; port: number }; unix?: string }) => void,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        tcp: { type: "string" },
        unix: { type: "string" },
        seed: { type: "string" },
        "quote-version": { type: "string" },
        body: { type: "string" },
        "max-connections": { type: "string" },
        "root-out": { type: "string" },
        "collateral-out": { type: "string" },
        help: { type: "boolean" },
      },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    io.out(USAGE);
    return 0;
  }
  const problems: string[] = [];
  const port = v.tcp === undefined ? (v.unix ? undefined : 0) : integer(v.tcp, "tcp", 0, 65535);
  const version = integer(v["quote-version"] ?? "4", "quote-version", 4, 5);
  const maxConnections = integer(v["max-connections"] ?? "16", "max-connections", 1, 4096);
  let seed: Uint8Array = new Uint8Array(32);
  if (v.seed !== undefined) {
    try {
      seed = hexToBytes(v.seed);
      if (seed.length === 0) problems.push("--seed must not be empty");
    } catch {
      problems.push(`--seed must be hex digits, got "${v.seed}"`);
    }
  }
  if (v.body !== undefined && v.body !== "1.0" && v.body !== "1.5") {
    problems.push(`--body must be 1.0 or 1.5, got "${v.body}"`);
  }
  for (const x of [port, version, maxConnections]) if (typeof x === "string") problems.push(x);
  if (version === 4 && v.body === "1.5") problems.push("--body 1.5 needs --quote-version 5");
  if (problems.length) {
    io.err(`${problems.join("\n")}\n${USAGE}`);
    return 2;
  }
  const spec = theSpec();
  const generator = makeQuoteGenerator(spec, seed);
  try {
    if (v["root-out"]) Deno.writeTextFileSync(v["root-out"], generator.pki.root.pem);
    if (v["collateral-out"]) {
      Deno.writeTextFileSync(
        v["collateral-out"],
        JSON.stringify(makeCollateral(spec, generator), null, 2),
      );
    }
  } catch (e) {
    io.err(`cannot write ${v["root-out"] ?? v["collateral-out"]}: ${(e as Error).message}`);
    return 2;
  }
  let qgs;
  try {
    qgs = startQgs(spec, {
      generator,
      tcp: typeof port === "number" ? { port } : undefined,
      unix: v.unix,
      maxConnections: maxConnections as number,
      quote: { version: version as number, body: v.body as "1.0" | "1.5" | undefined },
    });
  } catch (e) {
    io.err(`cannot listen: ${(e as Error).message}`);
    return 2;
  }
  if (qgs.tcp) io.out(`QGS listening on ${qgs.tcp.hostname}:${qgs.tcp.port}`);
  if (qgs.unix) io.out(`QGS listening on unix:${qgs.unix}`);
  io.out(`test PKI seed ${bytesToHex(seed)}; quote version ${version}`);
  ready?.({ tcp: qgs.tcp, unix: qgs.unix });
  await (stop ?? signals());
  await qgs.close();
  const s = qgs.stats();
  io.out(`QGS closed after ${s.accepted} connection(s)`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
