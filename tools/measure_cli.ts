// deno task measure IMAGE [--json]: the MRTD a TD built from a TDVF image gets. The
// image is parsed, the launcher builds the TD through KVM and the TDX module (every
// section added with TDH.MEM.PAGE.ADD, MR_EXTEND sections measured with TDH.MR.EXTEND),
// and the guest reads the value back from its measurements/mrtd:sha384 file.
import { theSpec } from "../impl/spec/mod.ts";
import { bytesToHex } from "../impl/spec/hex.ts";
import type { TdvfFirmware } from "../impl/vmm/tdvf.ts";
import { runTdSession } from "../impl/platform/td_stack.ts";
import { EXIT_BAD_INPUT, EXIT_FAILED, hex64, InputError, loadFirmware } from "./td_tool_common.ts";

const USAGE = "usage: deno task measure IMAGE [--json]\n" +
  "  prints the MRTD (96 hex digits) of a TD built from the TDVF image, and its sections";

export function sectionRows(fw: TdvfFirmware) {
  return fw.sections.map((s) => ({
    index: s.index,
    type: s.typeName,
    attributes: s.attributeNames,
    data_offset: hex64(s.dataOffset),
    raw_data_size: hex64(s.rawDataSize),
    memory_address: hex64(s.memoryAddress),
    memory_data_size: hex64(s.memoryDataSize),
    pages: Number(s.memoryDataSize / 4096n),
    measured: s.measured,
  }));
}

export function main(args: string[]): number {
  let json = false;
  const files: string[] = [];
  for (const a of args) {
    if (a === "--json") json = true;
    else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      return 0;
    } else if (a.startsWith("-")) {
      console.error(`unknown option ${a}\n${USAGE}`);
      return EXIT_BAD_INPUT;
    } else files.push(a);
  }
  if (files.length !== 1) {
    console.error(`expected one firmware image\n${USAGE}`);
    return EXIT_BAD_INPUT;
  }
  const spec = theSpec();
  let fw: TdvfFirmware;
  try {
    fw = loadFirmware(spec, files[0]);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    console.error(e.message);
    return EXIT_BAD_INPUT;
  }
  let mrtd: Uint8Array | undefined;
  let readError: string | undefined;
  const session = runTdSession(fw, function* (p) {
    const r = yield* p.readFile(spec.guestInterface("tdx_guest.mrtd").path);
    if (r.ok) mrtd = r.value;
    else readError = r.errno;
  });
  if (!session.ok) {
    console.error(`${files[0]}: ${session.error.step}: ${session.error.message}`);
    return EXIT_FAILED;
  }
  if (!mrtd) {
    console.error(`${files[0]}: the guest could not read its MRTD (${readError})`);
    return EXIT_FAILED;
  }
  const rows = sectionRows(fw);
  if (json) {
    console.log(JSON.stringify(
      {
        firmware: files[0],
        size: fw.image.length,
        metadata_offset: hex64(fw.metadataOffset),
        descriptor_offset: hex64(fw.descriptorOffset),
        metadata_version: fw.version,
        sections: rows,
        mrtd: bytesToHex(mrtd),
      },
      null,
      2,
    ));
    return 0;
  }
  console.log(`firmware  ${files[0]} (${fw.image.length} bytes)`);
  console.log(
    `metadata  version ${fw.version} at image offset ${hex64(fw.descriptorOffset)} ` +
      `(${hex64(fw.metadataOffset)} from the end), ${rows.length} sections`,
  );
  console.log("  #  type       image offset  image size  guest address       guest size  measured");
  for (const r of rows) {
    console.log(
      `  ${String(r.index).padEnd(2)} ${r.type.padEnd(10)} ${r.data_offset.padEnd(13)} ` +
        `${r.raw_data_size.padEnd(11)} ${r.memory_address.padEnd(19)} ` +
        `${r.memory_data_size.padEnd(11)} ${r.measured ? "MR_EXTEND" : "-"}`,
    );
  }
  console.log(`MRTD      ${bytesToHex(mrtd)}`);
  return 0;
}

if (import.meta.main) Deno.exit(main(Deno.args));
