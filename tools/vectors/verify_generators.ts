// attest.verify vectors: real quotes with and without their collateral, the debug TD,
// SGX quotes, damaged quotes (bit flips in signed regions, truncations, expired
// chains), and quotes the suite generates from a seed with a test PKI and collateral.
import { runVerifyStep } from "../../runner/layers/attest_layer.ts";
import type { Covered, Vector } from "../../runner/vector_types.ts";
import type { GeneratorContext } from "./generator_context.ts";
import { bytesToHex, hexToBytes } from "../../impl/spec/hex.ts";
import { makeQuoteGenerator } from "../../impl/attest/quote/quote_generate.ts";
import { makeCollateral } from "../../impl/attest/quote/collateral.ts";
import { makeDiceQuoteGenerator } from "../../impl/attest/dice/dice_quote_generate.ts";
import { sampleTdreport } from "../../impl/attest/quote/tdreport_sample.ts";
import { encodeBits } from "../../impl/spec/bits.ts";

interface VerifyCase {
  id: string;
  title: string;
  input: Record<string, unknown>;
  /** What the scenario asserts of the reference's answer (verdict, tcb_status, rejected_by.check). */
  pins: Record<string, unknown>;
  tags?: string[];
  covers?: Covered[];
}

interface GeneratedCase {
  id: string;
  title: string;
  seed: string;
  /** 4 or 5 for ECDSA quotes; "dice" for a DICE quote from the module's Quoting extension. */
  version: number | "dice";
  /** Bits to flip in the generated quote (offsets from the end for DICE, where the signature sits). */
  flip?: { offset: number; xor: string }[];
  truncate?: number;
  body?: "1.0" | "1.5";
  at: string;
  /** Give the test collateral (a TCB status is computed). */
  collateral?: boolean;
  pins: Record<string, unknown>;
}

const QUOTE_COVERS: Covered[] = [
  { kind: "struct", name: "QUOTE_HEADER" },
  { kind: "struct", name: "QUOTE_SIGNATURE_DATA" },
  { kind: "struct", name: "QE_REPORT_CERTIFICATION_DATA" },
  { kind: "struct", name: "SGX_REPORT_BODY" },
];

function get(o: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>(
    (x, k) => (x as Record<string, unknown> | undefined)?.[k],
    o,
  );
}

async function one(ctx: GeneratorContext, c: VerifyCase, source?: string): Promise<Vector> {
  const actual = await runVerifyStep(c.input);
  for (const [k, v] of Object.entries(c.pins)) {
    if (JSON.stringify(get(actual, k)) !== JSON.stringify(v)) {
      throw new Error(
        `${c.id}: the reference gives ${k} = ${JSON.stringify(get(actual, k))}, the scenario pins ${
          JSON.stringify(v)
        }`,
      );
    }
  }
  const body = c.input.version === 5 || String(c.input.quote ?? "").includes("v5")
    ? "TD_QUOTE_BODY_1_5"
    : "TD_QUOTE_BODY_1_0";
  return ctx.vector({
    id: c.id,
    title: c.title,
    layer: "attest",
    covers: c.covers ?? [...QUOTE_COVERS, { kind: "struct", name: body }],
    tags: c.tags ?? [],
    scenarioCase: c.id,
    ...(source ? { source } : {}),
    steps: [{ op: "attest.verify", input: c.input, expect: actual }],
  });
}

export async function attestVerify(
  ctx: GeneratorContext,
  params: Record<string, unknown>,
): Promise<Vector[]> {
  const out: Vector[] = [];
  for (const c of (params.cases ?? []) as VerifyCase[]) {
    const files = [c.input.quote, ...((c.input.collateral ?? []) as string[])].filter(Boolean);
    out.push(await one(ctx, c, `${files.join(", ")} (fixtures/realdata/PROVENANCE.md)`));
  }
  for (const g of (params.generated ?? []) as GeneratedCase[]) {
    const seed = hexToBytes(g.seed);
    // A production-like TD (no debug, SEPT_VE_DISABLE) on a module whose TCB the collateral knows.
    const teeTcbSvn = Uint8Array.of(3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const tdreport = sampleTdreport(ctx.spec, 1, {
      tdInfo: {
        attributes: encodeBits(ctx.spec.bitfield("TD_ATTRIBUTES").fields, { SEPT_VE_DISABLE: 1n }),
        servtd_hash: new Uint8Array(48),
      },
      teeTcbInfo: { tee_tcb_svn: teeTcbSvn, mr_signer_seam: new Uint8Array(48), attributes: 0n },
    });
    let quote: Uint8Array;
    let rootPem: string;
    let collateral: string | undefined;
    if (g.version === "dice") {
      const dice = makeDiceQuoteGenerator(ctx.spec, seed);
      const q = dice.generate(tdreport);
      if (!q.ok) throw new Error(`${g.id}: generation failed: ${q.error.message}`);
      quote = q.value;
      rootPem = dice.pki.root.pem;
    } else {
      const gen = makeQuoteGenerator(ctx.spec, seed);
      const q = gen.generate(tdreport, { version: g.version, body: g.body });
      if (!q.ok) throw new Error(`${g.id}: generation failed: ${q.error.message}`);
      quote = q.value;
      rootPem = gen.pki.root.pem;
      if (g.collateral) collateral = JSON.stringify(makeCollateral(ctx.spec, gen, { teeTcbSvn }));
    }
    const input: Record<string, unknown> = {
      quote_hex: bytesToHex(quote),
      root_pem: rootPem,
      at: g.at,
    };
    if (collateral) input.collateral_text = [collateral];
    if (g.flip) {
      input.quote_patch = g.flip.map((f) => ({
        offset: f.offset < 0 ? quote.length + f.offset : f.offset,
        xor: f.xor,
      }));
    }
    if (g.truncate !== undefined) input.quote_truncate = g.truncate;
    const dice = g.version === "dice";
    const covers: Covered[] | undefined = dice
      ? [
        "DICE_QUOTE_COSE_SIGN1",
        "DICE_QUOTE_PROTECTED_HEADER",
        "DICE_QUOTE_UNPROTECTED_HEADER",
        "DICE_QUOTE_SIG_STRUCTURE",
        "DICE_QUOTE_CLAIMS",
        "DICE_QUOTE_SUBMODULES",
        "DICE_QUOTE_SUBMODULE_EVIDENCE",
        "DICE_QUOTE_CONCISE_EVIDENCE",
        "DICE_QUOTE_EV_TRIPLES",
        "DICE_QUOTE_EVIDENCE_TRIPLE",
        "DICE_QUOTE_ENVIRONMENT",
        "DICE_QUOTE_CLASS",
        "DICE_QUOTE_MEASUREMENT_MAP",
        "DICE_QUOTE_MEASUREMENT_VALUES",
      ]
        .map((name) => ({ kind: "struct" as const, name }))
      : undefined;
    const tags = [
      "generated",
      ...(dice ? ["dice", "provisional"] : []),
      ...(g.flip || g.truncate !== undefined ? ["negative"] : []),
    ];
    out.push(await one(ctx, { id: g.id, title: g.title, input, pins: g.pins, tags, covers }));
  }
  return out;
}
