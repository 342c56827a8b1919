import { theSpec } from "../../spec/mod.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { parseTdvf } from "../tdvf.ts";
import { independentMrtd } from "./independent_mrtd.ts";
for (const f of Deno.args) {
  const img = Deno.readFileSync(f);
  const r = parseTdvf(theSpec(), img);
  if (!r.ok) throw new Error(r.error.message);
  console.log(f, bytesToHex(independentMrtd(theSpec(), img, r.value.sections)));
}
