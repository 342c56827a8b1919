// deno task verify QUOTE [--root PEM] [--collateral FILE]... [--at TIME]
//   [--expect KEY=HEX,...] [--allow-debug] [--json]
// Verifies a TD quote (ECDSA-P256, v4 or v5) to the Intel SGX Root CA and, with collateral,
// computes its TCB status; or a DICE quote (TDX Quoting extension) to the DCP DICE Global
// Root CA. Exit 0 when verified, 1 when verification fails, 2 on bad usage or an
// unreadable input file.
import { parseArgs } from "node:util";
import {
  addCollateralFile,
  type Collateral,
  emptyCollateral,
  expectableKeys,
  parseExpectations,
  renderHuman,
  renderJson,
  type TrustAnchor,
  trustAnchorFromBytes,
  verifyQuote,
} from "../impl/attest/verify/mod.ts";

export const USAGE = `usage: deno task verify QUOTE [options]
  QUOTE                 a TD quote file (binary, or hex text)
  --root PEM            trust anchor, P-256 or P-384 (default: impl/attest/roots/
                        intel_sgx_root_ca.pem for ECDSA quotes, dcp_dice_global_root_ca.pem
                        for DICE quotes)
  --collateral FILE     repeatable: dcap-qvl collateral JSON, Intel PCS tcbInfo / enclaveIdentity
                        responses, PEM issuer chain (Intel SGX TCB Signing), DER or PEM CRLs
  --at TIME             verification time, ISO 8601 (default: now)
  --expect K=V,...      required body values (hex), e.g. mrtd=..,rtmr0=..,report_data=..;
                        also tcb_status=UpToDate
  --allow-debug         accept a debug TD
  --json                print JSON instead of a table
exit status: 0 verified, 1 verification failed, 2 bad usage or unreadable input`;

class UsageError extends Error {}

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new UsageError(`${what} ${path}: cannot read (${(e as Error).message})`);
  }
}

/** A quote file may hold hex text (as several public test vectors do) instead of bytes. */
function quoteBytes(raw: Uint8Array): Uint8Array {
  if (raw.length < 2 || raw.length > 1 << 24) return raw;
  const text = new TextDecoder().decode(raw).trim();
  if (!/^(0x)?[0-9a-fA-F\s]+$/.test(text)) return raw;
  const hex = text.replace(/^0x/, "").replace(/\s+/g, "");
  if (hex.length % 2) return raw;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

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
        root: { type: "string" },
        collateral: { type: "string", multiple: true },
        at: { type: "string" },
        expect: { type: "string", multiple: true },
        "allow-debug": { type: "boolean" },
        json: { type: "boolean" },
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
  try {
    if (positionals.length !== 1) throw new UsageError("give exactly one QUOTE file");
    const quotePath = positionals[0];
    let at = new Date();
    if (values.at !== undefined) {
      at = new Date(values.at);
      if (isNaN(at.getTime())) throw new UsageError(`--at: "${values.at}" is not a date/time`);
    }
    const expect = [];
    for (const e of values.expect ?? []) {
      const parsedExp = parseExpectations(e);
      if (typeof parsedExp === "string") throw new UsageError(parsedExp);
      expect.push(...parsedExp);
    }
    const known = expectableKeys();
    const squash = (s: string) => s.replace(/_/g, "").toLowerCase();
    for (const e of expect) {
      if (!known.some((k) => squash(k) === squash(e.key))) {
        throw new UsageError(`--expect: unknown field "${e.key}" (known: ${known.join(", ")})`);
      }
    }
    // Without --root each format uses its own root (Intel SGX Root CA, DCP DICE Global Root CA).
    let root: TrustAnchor | undefined;
    if (values.root !== undefined) {
      const r = await trustAnchorFromBytes(await readInput(values.root, "--root"));
      if (typeof r === "string") throw new UsageError(`--root ${values.root}: ${r}`);
      root = r;
    }
    let collateral: Collateral | undefined;
    for (const path of values.collateral ?? []) {
      collateral ??= emptyCollateral();
      const loaded = addCollateralFile(collateral, path, await readInput(path, "--collateral"));
      if (!loaded.ok) throw new UsageError(`--collateral ${loaded.error}`);
    }
    const bytes = quoteBytes(await readInput(quotePath, "quote"));
    const result = await verifyQuote(bytes, {
      root,
      collateral,
      at,
      allowDebug: values["allow-debug"] === true,
      expect,
    });
    const text = values.json ? renderJson(quotePath, result) : renderHuman(quotePath, result);
    out(text.replace(/\n$/, ""));
    return result.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
