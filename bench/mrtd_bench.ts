// MRTD of the Debian OVMF image (fixtures/realdata/firmware) computed by the whole
// reference stack, as `deno task measure` does it: the platform brought up, KVM opened,
// the launcher building the TD (TDH.MEM.PAGE.ADD of every TDVF section page, TDH.MR.EXTEND
// of every 256-byte chunk of the MR_EXTEND sections), TDH.MR.FINALIZE, and the guest
// reading measurements/mrtd:sha384. Beside it, in the same run, `openssl dgst -sha384`
// over exactly the bytes the module absorbs into MRTD (the 128-byte MEM.PAGE.ADD records
// and 384-byte MR.EXTEND records, in the launcher's order, whose digest must equal the
// MRTD) and over the whole image file, and the in-process SHA-384 throughput of node:crypto
// and @noble/hashes over the same record stream.
// Run: deno task bench (needs --allow-run=openssl for the openssl figures; without it, or
// without openssl, they are skipped with a message).
import { createHash } from "node:crypto";
import { sha384 } from "@noble/hashes/sha2.js";
import { theSpec } from "../impl/spec/mod.ts";
import { bytesToHex } from "../impl/spec/hex.ts";
import { type TdvfFirmware } from "../impl/vmm/tdvf.ts";
import { parseTdvf } from "../impl/vmm/tdvf.ts";
import { extendRecord, pageAddRecord } from "../impl/module/mrtd.ts";
import { bringUpHost, runTdSession } from "../impl/platform/td_stack.ts";
import { mib } from "./support/td_bench_support.ts";

const IMAGE = new URL(
  "../fixtures/realdata/firmware/OVMF-debian-2022.11-6+deb12u2.fd",
  import.meta.url,
);
const spec = theSpec();
const image = Deno.readFileSync(IMAGE);
const parsed = parseTdvf(spec, image);
if (!parsed.ok) throw new Error(`the OVMF image does not parse: ${parsed.error.message}`);
const fw = parsed.value;

/**
 * The bytes MRTD's SHA-384 absorbs, in order: per TDVF section (metadata order) and per
 * page, the MEM.PAGE.ADD record, then for an MR_EXTEND section the 16 MR.EXTEND records
 * of the page's 256-byte chunks, holding the bytes the launcher put there (the section's
 * image bytes from its data offset).
 */
function mrtdRecordStream(fw: TdvfFirmware): { stream: Uint8Array; extended: number } {
  const chunkSize = spec.seamcall("TDH.MR.EXTEND").memory_operands!
    .find((m) => m.name === "chunk")!.size;
  const parts: Uint8Array[] = [];
  let extended = 0;
  for (const s of fw.sections) {
    const size = Number(s.memoryDataSize);
    const content = new Uint8Array(size);
    if (s.rawDataSize > 0) content.set(fw.image.subarray(s.dataOffset, s.dataOffset + size));
    for (let off = 0; off < size; off += 4096) {
      const gpa = s.memoryAddress + BigInt(off);
      parts.push(pageAddRecord(spec, gpa));
      if (!s.measured) continue;
      for (let c = off; c < off + 4096; c += chunkSize) {
        parts.push(
          extendRecord(spec, s.memoryAddress + BigInt(c), content.subarray(c, c + chunkSize)),
        );
        extended += chunkSize;
      }
    }
  }
  const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    stream.set(p, at);
    at += p.length;
  }
  return { stream, extended };
}

/** MRTD as the guest of a TD built by the whole stack reads it. */
function stackMrtd(): Uint8Array {
  let mrtd: Uint8Array | undefined;
  const session = runTdSession(fw, function* (port) {
    const r = yield* port.readFile(spec.guestInterface("tdx_guest.mrtd").path);
    if (r.ok) mrtd = r.value;
  });
  if (!session.ok) throw new Error(`${session.error.step}: ${session.error.message}`);
  if (!mrtd) throw new Error("the guest could not read its MRTD");
  return mrtd;
}

/** `openssl dgst -sha384 -binary` of `input` (a file path, or bytes piped to stdin). */
async function openssl(input: string | Uint8Array): Promise<Uint8Array> {
  const args = ["dgst", "-sha384", "-binary"];
  if (typeof input === "string") args.push(input);
  const child = new Deno.Command("openssl", {
    args,
    stdin: typeof input === "string" ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (typeof input !== "string") {
    const w = child.stdin.getWriter();
    await w.write(input);
    await w.close();
  }
  const out = await child.output();
  if (!out.success) throw new Error(`openssl: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

/** Why the openssl figures are skipped, or undefined when openssl can run. */
async function opensslUnavailable(): Promise<string | undefined> {
  try {
    await new Deno.Command("openssl", { args: ["version"], stdout: "null" }).output();
    return undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "openssl is not installed";
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return "no permission to run openssl (deno bench --allow-run=openssl)";
    }
    throw e;
  }
}

const { stream, extended } = mrtdRecordStream(fw);
const mrtd = stackMrtd();
const hex = bytesToHex;
if (hex(createHash("sha384").update(stream).digest()) !== hex(mrtd)) {
  throw new Error("SHA-384 of the record stream is not the MRTD the stack computed");
}
if (hex(sha384(stream)) !== hex(mrtd)) throw new Error("@noble/hashes disagrees");
const skipOpenssl = await opensslUnavailable();
if (!skipOpenssl && hex(await openssl(stream)) !== hex(mrtd)) {
  throw new Error("openssl's SHA-384 of the record stream is not the MRTD");
}
const pages = fw.sections.reduce((n, s) => n + Number(s.memoryDataSize / 4096n), 0);
console.log(
  `\nMRTD of OVMF-debian-2022.11-6+deb12u2.fd (${mib(image.length)}): ${hex(mrtd)}\n` +
    `  the stack: ${pages} pages added with TDH.MEM.PAGE.ADD, ${mib(extended)} measured ` +
    `with ${extended / 256} TDH.MR.EXTEND calls\n` +
    `  record stream hashed (MEM.PAGE.ADD + MR.EXTEND records): ${stream.length} bytes; ` +
    `node:crypto, @noble/hashes${skipOpenssl ? "" : " and openssl"} give the same MRTD`,
);
if (skipOpenssl) console.log(`  openssl figures skipped: ${skipOpenssl}`);

const GROUP = "MRTD of the Debian OVMF image";

Deno.bench({
  name:
    `reference: openssl dgst -sha384 of the MRTD record stream (${stream.length} bytes, spawn included)`,
  group: GROUP,
  baseline: true,
  ignore: skipOpenssl !== undefined,
  async fn() {
    await openssl(stream);
  },
});

Deno.bench({
  name: `reference: openssl dgst -sha384 of the whole image file (${image.length} bytes)`,
  group: GROUP,
  ignore: skipOpenssl !== undefined,
  async fn() {
    await openssl(IMAGE.pathname);
  },
});

Deno.bench({
  name: "this suite: MRTD by the whole stack (bring-up, KVM, launcher, module, guest)",
  group: GROUP,
  // A run takes about a second: the fewest iterations deno bench allows (2 + 2).
  warmup: 1,
  n: 1,
  fn() {
    stackMrtd();
  },
});

Deno.bench({
  name: "this suite: the platform bring-up alone (part of the line above)",
  group: GROUP,
  warmup: 1,
  n: 1,
  fn() {
    bringUpHost();
  },
});

const HASH_GROUP = `SHA-384 of the MRTD record stream in process (${stream.length} bytes)`;

Deno.bench({
  name: "node:crypto createHash('sha384')",
  group: HASH_GROUP,
  baseline: true,
  fn() {
    createHash("sha384").update(stream).digest();
  },
});

Deno.bench({
  name: "@noble/hashes sha384",
  group: HASH_GROUP,
  fn() {
    sha384(stream);
  },
});
