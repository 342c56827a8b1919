// Checks on the TD itself rather than on the evidence chain: a debug TD (TD_ATTRIBUTES
// DEBUG, from the spec bitfield) is refused unless allowed, and --expect compares body
// fields with the values the caller requires.
import type { DecodedStruct } from "../../spec/codec.ts";
import { extractBits } from "../../spec/bits.ts";
import { bytesToHex, hexToBytes } from "../../spec/hex.ts";
import { theSpec } from "../../spec/mod.ts";
import { equalBytes } from "./byte_ops.ts";
import { quoteLayout } from "./quote_layout.ts";
import { type Reason, reason } from "./reason.ts";

export function isDebugTd(body: DecodedStruct): boolean {
  return extractBits(body.td_attributes as bigint, quoteLayout().tdAttributesDebugBits) !== 0n;
}

export function debugReasons(body: DecodedStruct, allowDebug: boolean): Reason[] {
  if (!isDebugTd(body) || allowDebug) return [];
  return [
    reason(
      "debug",
      "the TD is a debug TD (TD_ATTRIBUTES.DEBUG is set); its state is not protected",
      {
        field: "body.td_attributes.DEBUG",
        expected: "0",
        actual: "1",
      },
    ),
  ];
}

/** Field names compare without underscores and case, so mrtd finds mr_td and MRTD too. */
const squash = (s: string) => s.replace(/_/g, "").toLowerCase();

/** Expectation keys that are not body fields. */
export const EXTRA_EXPECT_KEYS = ["tcb_status"] as const;

export interface Expectation {
  key: string;
  value: string;
}

/** Parses "k=v,k=v"; an error string names the bad part. */
export function parseExpectations(text: string): Expectation[] | string {
  const out: Expectation[] = [];
  for (const part of text.split(",")) {
    const t = part.trim();
    if (!t) continue;
    const eq = t.indexOf("=");
    if (eq <= 0) return `--expect: "${t}" is not KEY=VALUE`;
    out.push({ key: t.slice(0, eq).trim(), value: t.slice(eq + 1).trim() });
  }
  return out;
}

/** Checks that every key names a field of the body struct (or an extra key). */
export function unknownExpectKeys(exps: Expectation[], bodyStruct: string): string[] {
  const names = theSpec().struct(bodyStruct).fields.map((f) => squash(f.name));
  return exps
    .filter((e) =>
      !names.includes(squash(e.key)) &&
      !(EXTRA_EXPECT_KEYS as readonly string[]).includes(e.key)
    )
    .map((e) => e.key);
}

/** Every field name an --expect key may use, over both TD body layouts. */
export function expectableKeys(): string[] {
  const s = theSpec();
  const names = new Set<string>();
  for (const b of ["TD_QUOTE_BODY_1_0", "TD_QUOTE_BODY_1_5"]) {
    for (const f of s.struct(b).fields) if (f.type !== "reserved") names.add(f.name);
  }
  return [...names, ...EXTRA_EXPECT_KEYS];
}

export function expectReasons(
  exps: Expectation[],
  bodyStruct: string,
  body: DecodedStruct,
  tcbStatus: string | undefined,
): Reason[] {
  const out: Reason[] = [];
  const fields = theSpec().struct(bodyStruct).fields;
  for (const e of exps) {
    if (e.key === "tcb_status") {
      if (tcbStatus !== e.value) {
        out.push(
          reason(
            "expect",
            tcbStatus === undefined ? "no TCB status without collateral" : "TCB status differs",
            { field: "tcb_status", expected: e.value, actual: tcbStatus ?? "none" },
          ),
        );
      }
      continue;
    }
    const f = fields.find((x) => squash(x.name) === squash(e.key));
    if (!f) {
      out.push(reason("expect", `the ${bodyStruct} body has no field ${e.key}`, { field: e.key }));
      continue;
    }
    const actual = body[f.name];
    if (actual instanceof Uint8Array) {
      let want: Uint8Array | undefined;
      try {
        want = hexToBytes(e.value);
      } catch {
        want = undefined;
      }
      if (!want || !equalBytes(want, actual)) {
        out.push(reason("expect", `${f.name} differs`, {
          field: `body.${f.name}`,
          expected: e.value,
          actual: bytesToHex(actual),
        }));
      }
    } else {
      let want: bigint | undefined;
      try {
        want = BigInt(/^[0-9a-fA-F]+$/.test(e.value) ? `0x${e.value}` : e.value);
      } catch {
        want = undefined;
      }
      const have = BigInt(actual as number | bigint);
      if (want !== have) {
        out.push(reason("expect", `${f.name} differs`, {
          field: `body.${f.name}`,
          expected: e.value,
          actual: `0x${have.toString(16)}`,
        }));
      }
    }
  }
  return out;
}
