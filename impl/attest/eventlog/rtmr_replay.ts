// Replays a TDX event log into the RTMRs: each measured record extends its register,
// RTMR[i] = SHA-384(RTMR[i] || digest), starting from zero. EV_NO_ACTION records are
// logged only, and MRTD is built by the TDX module, never from the log.
import { createHash } from "node:crypto";
import type { Spec } from "../../spec/mod.ts";
import { parseHex } from "../../spec/hex.ts";
import { enumNumber, fieldSize } from "../spec_facts.ts";
import type { LoggedEvent } from "./event_log.ts";

/** The RTMRs as the spec's CC_MR_INDEX names them, in register order (RTMR0 first). */
export function rtmrRegisters(spec: Spec): { name: string; mrIndex: number }[] {
  return spec.enum("CC_MR_INDEX").values
    .filter((v) => v.name.startsWith("RTMR"))
    .map((v) => ({ name: v.name, mrIndex: Number(parseHex(v.value)) }))
    .sort((a, b) => a.mrIndex - b.mrIndex);
}

export function replayRtmrs(spec: Spec, events: readonly LoggedEvent[]): Uint8Array[] {
  const regs = rtmrRegisters(spec);
  const size = fieldSize(spec, "TD_QUOTE_BODY_1_0", "rtmr0");
  const noAction = enumNumber(spec, "TCG_EVENT_TYPE", "EV_NO_ACTION");
  const values = regs.map(() => new Uint8Array(size));
  for (const e of events) {
    if (e.eventType === noAction) continue;
    const slot = regs.findIndex((r) => r.mrIndex === e.mrIndex);
    if (slot < 0) continue;
    values[slot] = new Uint8Array(
      createHash("sha384").update(values[slot]).update(e.digest).digest(),
    );
  }
  return values;
}
