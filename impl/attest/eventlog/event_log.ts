// A TDX CC event log (the CCEL log area) in the TCG2 crypto-agile format: a
// TCG_PCR_EVENT header record whose data is the TCG_EFI_SPEC_ID_EVENT, then
// TCG_PCR_EVENT2 records. A TDX log has exactly one hash bank, SHA-384, so every record
// after the header has the CC_EVENT_SHA384 shape. Logs of other TEEs (e.g. Hygon CSV,
// SM3) are refused, not replayed.
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { decoding, fail, hex, type Result } from "../attest_error.ts";
import { enumName, enumNumber, fieldSize, structSize } from "../spec_facts.ts";

export interface SpecIdEvent {
  signature: string;
  platformClass: number;
  specVersion: string;
  specErrata: number;
  uintnSize: number;
  algorithms: { algorithmId: number; name?: string; digestSize: number }[];
  vendorInfo: Uint8Array;
}

export interface LoggedEvent {
  /** Position in the log; the Spec ID header record is 0. */
  index: number;
  /** Byte offset of the record in the log area. */
  offset: number;
  /** The record's CC_MR_INDEX (1..4 = RTMR0..3). */
  mrIndex: number;
  /** CC_MR_INDEX name of mrIndex (e.g. "RTMR0"), when the spec knows it. */
  register?: string;
  eventType: number;
  /** TCG_EVENT_TYPE name, when the spec knows it. */
  typeName?: string;
  /** The SHA-384 digest the record extends (or, for EV_NO_ACTION, only logs). */
  digest: Uint8Array;
  data: Uint8Array;
}

export interface EventLog {
  /** The header record (TCG_PCR_EVENT) as decoded, without its event data. */
  header: { pcrIndex: number; eventType: number; typeName?: string; offset: number };
  specId: SpecIdEvent;
  events: LoggedEvent[];
  /** Offset in the log area just past the last record. */
  end: number;
  /** Why the walk stopped. */
  stop: "end-of-area" | "free-space";
}

const codecs = new WeakMap<Spec, StructCodec>();
function codecOf(spec: Spec): StructCodec {
  let c = codecs.get(spec);
  if (!c) codecs.set(spec, c = new StructCodec(spec));
  return c;
}

function parseSpecId(spec: Spec, data: Uint8Array, base: number): Result<SpecIdEvent> {
  const decoded = decoding(base, () => codecOf(spec).decode("TCG_EFI_SPEC_ID_EVENT", data));
  if (!decoded.ok) return decoded;
  const { value: v, size } = decoded.value;
  if (size !== data.length) {
    return fail(
      "invalid",
      "TCG_PCR_EVENT.event_size",
      `the Spec ID event takes ${size} bytes but the header record's event_size says ${data.length}`,
      base,
    );
  }
  const algorithms = (v.digest_sizes as DecodedStruct[]).map((a) => ({
    algorithmId: a.algorithm_id as number,
    name: enumName(spec, "TCG_ALG_ID", a.algorithm_id as number),
    digestSize: a.digest_size as number,
  }));
  return {
    ok: true,
    value: {
      signature: v.signature as string,
      platformClass: v.platform_class as number,
      specVersion: `${v.spec_version_major}.${v.spec_version_minor}`,
      specErrata: v.spec_errata as number,
      uintnSize: v.uintn_size as number,
      algorithms,
      vendorInfo: v.vendor_info as Uint8Array,
    },
  };
}

/** A TDX log hashes with SHA-384 only; anything else is another TEE's log. */
function checkTdxBanks(spec: Spec, specId: SpecIdEvent, base: number): Result<void> {
  const sha384 = enumNumber(spec, "TCG_ALG_ID", "SHA384");
  const digestSize = fieldSize(spec, "CC_EVENT_SHA384", "digest");
  const names = specId.algorithms.map((a) => a.name ?? hex(a.algorithmId)).join(", ");
  if (specId.algorithms.length === 0) {
    return fail("invalid", "TCG_EFI_SPEC_ID_EVENT.number_of_algorithms", "no hash algorithm", base);
  }
  if (specId.algorithms.length !== 1 || specId.algorithms[0].algorithmId !== sha384) {
    return fail(
      "not-tdx",
      "TCG_EFI_SPEC_ID_EVENT.digest_sizes",
      `the log hashes with ${names}; a TDX CC event log uses SHA384 only`,
      base,
    );
  }
  if (specId.algorithms[0].digestSize !== digestSize) {
    return fail(
      "invalid",
      "TCG_EFI_SPEC_ID_EVENT_ALGORITHM_SIZE.digest_size",
      `SHA384 is declared with ${specId.algorithms[0].digestSize}-byte digests, not ${digestSize}`,
      base,
    );
  }
  return { ok: true, value: undefined };
}

/** Bytes after the last record: firmware leaves the rest of the area all 0xFF or all zero. */
function isFreeSpace(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0xff) || bytes.every((b) => b === 0);
}

export function parseEventLog(spec: Spec, area: Uint8Array): Result<EventLog> {
  const codec = codecOf(spec);
  const head = decoding(0, () => codec.decode("TCG_PCR_EVENT", area));
  if (!head.ok) return head;
  const h = head.value.value;
  const noAction = enumNumber(spec, "TCG_EVENT_TYPE", "EV_NO_ACTION");
  if (h.event_type !== noAction) {
    return fail(
      "invalid",
      "TCG_PCR_EVENT.event_type",
      `the first record has type ${hex(h.event_type as number)}; a crypto-agile log opens with ` +
        "EV_NO_ACTION carrying the Spec ID event",
      0,
    );
  }
  const dataOffset = structSize(spec, "TCG_PCR_EVENT");
  const specId = parseSpecId(spec, h.event as Uint8Array, dataOffset);
  if (!specId.ok) return specId;
  const banks = checkTdxBanks(spec, specId.value, dataOffset);
  if (!banks.ok) return banks;

  // A record whose index and type are both all-ones marks the end (unused area is 0xFF).
  const allOnes = 2 ** (8 * fieldSize(spec, "TCG_PCR_EVENT2", "pcr_index")) - 1;
  const recordHead = fieldSize(spec, "TCG_PCR_EVENT2", "pcr_index") +
    fieldSize(spec, "TCG_PCR_EVENT2", "event_type") +
    fieldSize(spec, "TCG_PCR_EVENT2", "digest_count");
  const events: LoggedEvent[] = [];
  let off = head.value.size;
  let stop: EventLog["stop"] = "end-of-area";
  while (off < area.length) {
    const left = area.subarray(off);
    if (left.length < recordHead) {
      if (isFreeSpace(left)) {
        stop = "free-space";
        break;
      }
      return fail(
        "truncated",
        "TCG_PCR_EVENT2",
        `${left.length} byte(s) of a record after record ${events.length} at offset ${hex(off)}`,
        off,
      );
    }
    const r = decoding(off, () => codec.decode("TCG_PCR_EVENT2", left.subarray(0, recordHead)));
    if (!r.ok) return r;
    const rec = r.value.value;
    if ((rec.pcr_index === allOnes && rec.event_type === allOnes) || rec.digest_count === 0) {
      stop = "free-space";
      break;
    }
    if (rec.digest_count !== 1) {
      return fail(
        "invalid",
        "TCG_PCR_EVENT2.digest_count",
        `record ${events.length + 1} at offset ${hex(off)} has ${rec.digest_count} digests; ` +
          "the Spec ID event declares 1 bank",
        off,
      );
    }
    const ev = decoding(off, () => codec.decode("CC_EVENT_SHA384", left));
    if (!ev.ok) {
      ev.error.message = `record ${events.length + 1}: ${ev.error.message}`;
      return ev;
    }
    const e = ev.value.value;
    const mrIndex = e.mr_index as number;
    const register = enumName(spec, "CC_MR_INDEX", mrIndex);
    const eventType = e.event_type as number;
    if (register === undefined && eventType !== noAction) {
      return fail(
        "invalid",
        "CC_EVENT_SHA384.mr_index",
        `record ${events.length + 1} at offset ${hex(off)} extends MR index ${mrIndex}, ` +
          "which is no TDX measurement register",
        off,
      );
    }
    events.push({
      index: events.length + 1,
      offset: off,
      mrIndex,
      register,
      eventType,
      typeName: enumName(spec, "TCG_EVENT_TYPE", eventType),
      digest: e.digest as Uint8Array,
      data: e.event as Uint8Array,
    });
    off += ev.value.size;
  }
  return {
    ok: true,
    value: {
      header: {
        pcrIndex: h.pcr_index as number,
        eventType: h.event_type as number,
        typeName: enumName(spec, "TCG_EVENT_TYPE", h.event_type as number),
        offset: 0,
      },
      specId: specId.value,
      events,
      end: off,
      stop,
    },
  };
}
