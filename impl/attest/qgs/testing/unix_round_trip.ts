// Run as a child process by server_test.ts: Deno grants Unix sockets only by exact
// path (--allow-net=unix:PATH), which the project's test permissions cannot name in
// advance, so the Unix-socket round trip runs here with its own permissions and
// prints what it saw as JSON.
import { theSpec } from "../../../spec/mod.ts";
import { bytesToHex } from "../../../spec/hex.ts";
import { makeQuoteGenerator } from "../../quote/quote_generate.ts";
import { sampleTdreport } from "../../quote/tdreport_sample.ts";
import { startQgs } from "../server.ts";
import { getPlatformInfo, getQuote, getQuoteRaw } from "../client.ts";

const [path, seedText] = Deno.args;
const spec = theSpec();
const generator = makeQuoteGenerator(spec, new TextEncoder().encode(seedText));
const report = sampleTdreport(spec, 21);
const qgs = startQgs(spec, { generator, unix: path, maxConnections: 2 });
const quote = await getQuote(spec, { path }, report);
const raw = await getQuoteRaw({ path }, report);
const info = await getPlatformInfo(spec, { path });
const many = await Promise.all(Array.from({ length: 6 }, () => getQuote(spec, { path }, report)));
let socketExisted = false;
try {
  socketExisted = Deno.statSync(path).isSocket ?? false;
} catch { /* missing */ }
await qgs.close();
let socketRemoved = false;
try {
  Deno.statSync(path);
} catch {
  socketRemoved = true;
}
const after = await getQuote(spec, { path }, report);
console.log(JSON.stringify({
  quote: quote.ok ? bytesToHex(quote.value.quote) : quote.error,
  raw: raw.ok ? bytesToHex(raw.value) : raw.error,
  info: info.ok ? info.value.pceIsvSvn : info.error,
  many: many.every((r) => r.ok),
  maxActive: qgs.stats().maxActive,
  socketExisted,
  socketRemoved,
  afterClose: after.ok ? "answered" : after.error.kind,
}));
