// One-line descriptions of event data, by event type: the UEFI structures the TCG
// firmware profile defines (variables, firmware blobs, hand-off tables, loaded images)
// are decoded with the spec's layouts; text events are shown as text; anything else
// as the start of its bytes. A summary never fails: undecodable data says so.
import type { Spec } from "../../spec/mod.ts";
import { type DecodedStruct, StructCodec } from "../../spec/codec.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { hex } from "../attest_error.ts";
import type { LoggedEvent } from "./event_log.ts";

const PREVIEW = 24;

/** A GUID in its text form, from an EFI_GUID decoded by the codec. */
export function guidText(g: DecodedStruct): string {
  const d4 = bytesToHex(g.data4 as Uint8Array);
  const h = (v: number, n: number) => v.toString(16).padStart(n, "0");
  return `${h(g.data1 as number, 8)}-${h(g.data2 as number, 4)}-${h(g.data3 as number, 4)}-` +
    `${d4.slice(0, 4)}-${d4.slice(4)}`;
}

function printable(bytes: Uint8Array): string | undefined {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end === 0) return undefined;
  const body = bytes.subarray(0, end);
  if (!body.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09)) {
    return undefined;
  }
  return new TextDecoder().decode(body).replace(/\s+/g, " ").trim();
}

function utf16(units: number[] | Uint8Array): string {
  const codes = units instanceof Uint8Array
    ? Array.from({ length: units.length >> 1 }, (_, i) => units[2 * i] | (units[2 * i + 1] << 8))
    : units;
  return String.fromCharCode(...codes.filter((c) => c !== 0));
}

function looksUtf16(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes.length % 2 || bytes.every((b) => b === 0)) return false;
  for (let i = 0; i < bytes.length; i += 2) {
    const lo = bytes[i], hi = bytes[i + 1];
    if (hi !== 0 || (lo !== 0 && (lo < 0x20 || lo >= 0x7f))) return false;
  }
  return true;
}

function preview(bytes: Uint8Array): string {
  if (bytes.length === 0) return "(no data)";
  const head = bytesToHex(bytes.subarray(0, PREVIEW));
  return `${bytes.length} bytes ${head}${bytes.length > PREVIEW ? "…" : ""}`;
}

function quoteText(s: string, max = 100): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

type Summarizer = (codec: StructCodec, data: Uint8Array) => string;

const variable: Summarizer = (codec, data) => {
  const { value: v, size } = codec.decode("UEFI_VARIABLE_DATA", data);
  const name = utf16(v.unicode_name as number[]);
  const extra = size === data.length ? "" : `, ${data.length - size} trailing bytes`;
  return `${guidText(v.variable_name as DecodedStruct)} ${quoteText(name)} ` +
    `(${(v.variable_data as Uint8Array).length} bytes of data${extra})`;
};

const blob: Summarizer = (codec, data) => {
  const v = codec.decode("UEFI_PLATFORM_FIRMWARE_BLOB", data).value;
  return `blob at ${hex(v.blob_base as bigint)}, ${hex(v.blob_length as bigint)} bytes`;
};

const blob2: Summarizer = (codec, data) => {
  const v = codec.decode("UEFI_PLATFORM_FIRMWARE_BLOB2", data).value;
  const desc = printable(v.blob_description as Uint8Array) ?? "";
  return `${quoteText(desc)} at ${hex(v.blob_base as bigint)}, ${
    hex(v.blob_length as bigint)
  } bytes`;
};

const handoff2: Summarizer = (codec, data) => {
  const v = codec.decode("UEFI_HANDOFF_TABLE_POINTERS2", data).value;
  const desc = printable(v.table_description as Uint8Array) ?? "";
  const tables = (v.table_entry as DecodedStruct[]).map((t) =>
    `${guidText(t.vendor_guid as DecodedStruct)}@${hex(t.vendor_table as bigint)}`
  );
  return `${quoteText(desc)} ${tables.length} table(s) ${tables.join(" ")}`.trim();
};

const image: Summarizer = (codec, data) => {
  const v = codec.decode("UEFI_IMAGE_LOAD_EVENT", data).value;
  return `image at ${hex(v.image_location_in_memory as bigint)}, ` +
    `${hex(v.image_length_in_memory as bigint)} bytes, ` +
    `${(v.device_path as Uint8Array).length}-byte device path`;
};

const SUMMARIZERS: Record<string, Summarizer> = {
  EV_EFI_VARIABLE_DRIVER_CONFIG: variable,
  EV_EFI_VARIABLE_BOOT: variable,
  EV_EFI_VARIABLE_BOOT2: variable,
  EV_EFI_VARIABLE_AUTHORITY: variable,
  EV_EFI_PLATFORM_FIRMWARE_BLOB: blob,
  EV_EFI_PLATFORM_FIRMWARE_BLOB2: blob2,
  EV_EFI_HANDOFF_TABLES2: handoff2,
  EV_EFI_BOOT_SERVICES_APPLICATION: image,
  EV_EFI_BOOT_SERVICES_DRIVER: image,
  EV_EFI_RUNTIME_SERVICES_DRIVER: image,
};

export function summarizeEvent(spec: Spec, event: LoggedEvent): string {
  const data = event.data;
  const summarize = event.typeName ? SUMMARIZERS[event.typeName] : undefined;
  if (summarize) {
    try {
      return summarize(new StructCodec(spec), data);
    } catch (e) {
      return `undecodable ${event.typeName} data (${(e as Error).message}); ${preview(data)}`;
    }
  }
  const text = printable(data);
  if (text !== undefined) return quoteText(text);
  if (looksUtf16(data)) return quoteText(utf16(data));
  return preview(data);
}
