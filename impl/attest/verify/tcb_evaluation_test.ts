// The TCB status algorithm on real quotes and collateral, with the collateral's JSON
// edited to reach each branch of Intel's rules (the signature is not involved here).
import assert from "node:assert/strict";
import { type EcdsaQuote, parseEcdsaQuote } from "./quote_parse.ts";
import { parseQeIdentity, parseTcbInfo, type QeIdentity, type TcbInfo } from "./collateral_json.ts";
import { checkPckChain } from "./pck_chain.ts";
import { intelSgxRoot } from "./trust_root.ts";
import { evaluateTcb } from "./tcb_evaluation.ts";
import { collateralFile, quoteFile } from "./fixtures_table.ts";
import type { SgxExtensions } from "./sgx_extensions.ts";
import { convergeWithModule, convergeWithQe } from "./tcb_status.ts";

const root = await intelSgxRoot();

async function load(quoteName: string, collateralName: string) {
  const q = parseEcdsaQuote(Deno.readFileSync(quoteFile(quoteName)));
  assert.ok(q.ok);
  const chain = await checkPckChain(q.value.pckChainPem, root);
  assert.ok(chain.sgx?.ok);
  const col = JSON.parse(
    new TextDecoder().decode(Deno.readFileSync(collateralFile(collateralName))),
  );
  return {
    quote: q.value,
    pck: chain.sgx.value,
    tcbJson: JSON.parse(col.tcb_info),
    qeJson: JSON.parse(col.qe_identity),
  };
}

function run(quote: EcdsaQuote, pck: SgxExtensions, tcbJson: unknown, qeJson: unknown) {
  const tcb = parseTcbInfo(JSON.stringify(tcbJson));
  const qe = parseQeIdentity(JSON.stringify(qeJson));
  assert.ok(tcb.ok && qe.ok);
  return evaluateTcb(quote, pck, tcb.value as TcbInfo, qe.value as QeIdentity);
}

// deno-lint-ignore no-explicit-any
type Json = any;
const V4 = ["dcapqvl_tdx_quote.dat", "dcapqvl_tdx_quote_collateral.json"] as const;

Deno.test("the real pair is UpToDate through TDX level, TDX_01 module identity and QE identity", async () => {
  const { quote, pck, tcbJson, qeJson } = await load(...V4);
  const r = run(quote, pck, tcbJson, qeJson);
  assert.deepEqual(r.reasons, []);
  assert.equal(r.evaluation?.status, "UpToDate");
  assert.equal(r.evaluation?.tdxModule?.id, "TDX_01");
  assert.equal(r.evaluation?.qe.status, "UpToDate");
});

Deno.test("the first TCB level the platform reaches gives the status and advisories", async () => {
  const { quote, pck, tcbJson, qeJson } = await load(...V4);
  const t: Json = structuredClone(tcbJson);
  // A newer level the platform does not reach (SEAMLDR ACM SVN 9), then the real levels.
  const newer = structuredClone(t.tcbLevels[0]);
  newer.tcb.sgxtcbcomponents[7].svn = 9;
  t.tcbLevels[0].tcbStatus = "SWHardeningNeeded";
  t.tcbLevels[0].advisoryIDs = ["INTEL-SA-00615"];
  t.tcbLevels.unshift(newer);
  const r = run(quote, pck, t, qeJson);
  assert.equal(r.evaluation?.status, "SWHardeningNeeded");
  assert.deepEqual(r.evaluation?.advisoryIds, ["INTEL-SA-00615"]);
});

Deno.test("an out-of-date QE pulls the status down; a revoked one revokes", async () => {
  const { quote, pck, tcbJson, qeJson } = await load(...V4);
  const qe: Json = structuredClone(qeJson);
  qe.tcbLevels = [
    { tcb: { isvsvn: 8 }, tcbDate: "2025-01-01T00:00:00Z", tcbStatus: "UpToDate" },
    {
      tcb: { isvsvn: 6 },
      tcbDate: "2024-01-01T00:00:00Z",
      tcbStatus: "OutOfDate",
      advisoryIDs: ["INTEL-SA-1"],
    },
  ];
  for (
    const [level, want] of [
      ["UpToDate", "OutOfDate"],
      ["SWHardeningNeeded", "OutOfDate"],
      ["ConfigurationNeeded", "OutOfDateConfigurationNeeded"],
      ["ConfigurationAndSWHardeningNeeded", "OutOfDateConfigurationNeeded"],
      ["OutOfDate", "OutOfDate"],
    ]
  ) {
    const t: Json = structuredClone(tcbJson);
    t.tcbLevels[0].tcbStatus = level;
    const r = run(quote, pck, t, qe);
    assert.equal(r.evaluation?.status, want, level);
    assert.equal(r.evaluation?.qe.status, "OutOfDate");
    assert.deepEqual(r.evaluation?.advisoryIds, ["INTEL-SA-1"]);
  }
  qe.tcbLevels[1].tcbStatus = "Revoked";
  assert.equal(run(quote, pck, tcbJson, qe).evaluation?.status, "Revoked");
  // Below every QE level: not supported.
  qe.tcbLevels = [{ tcb: { isvsvn: 9 }, tcbDate: "2025-01-01T00:00:00Z", tcbStatus: "UpToDate" }];
  const r = run(quote, pck, tcbJson, qe);
  assert.equal(r.evaluation, undefined);
  assert.deepEqual(r.reasons.map((x) => x.field), ["qe_report.isv_svn"]);
});

Deno.test("the TDX module identity's status converges with the TDX level's", async () => {
  const { quote, pck, tcbJson, qeJson } = await load(...V4);
  const t: Json = structuredClone(tcbJson);
  const id = t.tdxModuleIdentities.find((m: Json) => m.id === "TDX_01");
  id.tcbLevels = [
    { tcb: { isvsvn: 7 }, tcbDate: "2025-01-01T00:00:00Z", tcbStatus: "UpToDate" },
    {
      tcb: { isvsvn: 2 },
      tcbDate: "2024-01-01T00:00:00Z",
      tcbStatus: "OutOfDate",
      advisoryIDs: ["INTEL-SA-2"],
    },
  ];
  let r = run(quote, pck, t, qeJson);
  assert.equal(r.evaluation?.status, "OutOfDate");
  assert.deepEqual(r.evaluation?.tdxModule, {
    id: "TDX_01",
    status: "OutOfDate",
    advisoryIds: ["INTEL-SA-2"],
  });
  id.tcbLevels[1].tcbStatus = "Revoked";
  assert.equal(run(quote, pck, t, qeJson).evaluation?.status, "Revoked");
  // The module SVN (6) below every module level: not supported.
  id.tcbLevels = [{ tcb: { isvsvn: 7 }, tcbDate: "2025-01-01T00:00:00Z", tcbStatus: "UpToDate" }];
  r = run(quote, pck, t, qeJson);
  assert.deepEqual(r.reasons.map((x) => [x.check, x.field]), [[
    "tdx_module",
    "body.tee_tcb_svn[0]",
  ]]);
  // No identity for the module's major version.
  t.tdxModuleIdentities = t.tdxModuleIdentities.filter((m: Json) => m.id !== "TDX_01");
  r = run(quote, pck, t, qeJson);
  assert.deepEqual(r.reasons.map((x) => [x.check, x.expected]), [["tdx_module", "TDX_01"]]);
});

Deno.test("platform and module identity mismatches are reasons", async () => {
  const { quote, pck, tcbJson, qeJson } = await load(...V4);
  const cases: [string, (t: Json, q: Json) => void, string, string][] = [
    ["fmspc", (t) => (t.fmspc = "00806F050000"), "tcb_info", "tcbInfo.fmspc"],
    ["pceId", (t) => (t.pceId = "0100"), "tcb_info", "tcbInfo.pceId"],
    ["id", (t) => (t.id = "SGX"), "tcb_info", "tcbInfo.id"],
    [
      "module signer",
      (t) => (t.tdxModuleIdentities[1].mrsigner = "11".repeat(48)),
      "tdx_module",
      "body.mr_signer_seam",
    ],
    [
      "module attributes",
      (t) => (t.tdxModuleIdentities[1].attributes = "0100000000000000"),
      "tdx_module",
      "body.seam_attributes",
    ],
    ["QE signer", (_, q) => (q.mrsigner = "00".repeat(32)), "qe_identity", "qe_report.mr_signer"],
    ["QE product", (_, q) => (q.isvprodid = 1), "qe_identity", "qe_report.isv_prod_id"],
    [
      "QE miscselect",
      (_, q) => (q.miscselect = "01000000"),
      "qe_identity",
      "qe_report.misc_select",
    ],
    [
      "QE attributes",
      (_, q) => (q.attributes = "13000000000000000000000000000000"),
      "qe_identity",
      "qe_report.attributes",
    ],
    ["QE id", (_, q) => (q.id = "QE"), "qe_identity", "enclaveIdentity.id"],
  ];
  for (const [what, edit, check, field] of cases) {
    const t: Json = structuredClone(tcbJson);
    const q: Json = structuredClone(qeJson);
    edit(t, q);
    const r = run(quote, pck, t, q);
    assert.equal(r.evaluation, undefined, what);
    assert.deepEqual(r.reasons.map((x) => [x.check, x.field]), [[check, field]], what);
  }
});

Deno.test("TEE_TCB_SVN below every matching level is not supported", async () => {
  const { quote, pck, tcbJson, qeJson } = await load(...V4);
  const t: Json = structuredClone(tcbJson);
  for (const l of t.tcbLevels) l.tcb.tdxtcbcomponents[2].svn = 9;
  const r = run(quote, pck, t, qeJson);
  assert.deepEqual(r.reasons.map((x) => [x.check, x.field]), [["tcb_level", "body.tee_tcb_svn"]]);
  // With a module major version, TEE_TCB_SVN bytes 0 and 1 are left to the module identity.
  const u: Json = structuredClone(tcbJson);
  for (const l of u.tcbLevels) l.tcb.tdxtcbcomponents[0].svn = 99;
  assert.equal(run(quote, pck, u, qeJson).evaluation?.status, "UpToDate");
});

Deno.test("a TDX 1.5 body whose TEE_TCB_SVN2 reaches the latest level is advised to relaunch", async () => {
  const { quote, pck, tcbJson, qeJson } = await load(
    "gotdx_quote_v5_sample.dat",
    "dcapqvl_tdx_quote_outdated_collateral.json",
  );
  assert.equal(run(quote, pck, tcbJson, qeJson).evaluation?.status, "UpToDate");
  // TEE_TCB_SVN 0B.01.04 reaches only an OutOfDate level; its module SVN 11 an OutOfDate
  // module level; TEE_TCB_SVN2 0D.01.05 reaches the latest of both.
  const t: Json = structuredClone(tcbJson);
  t.tcbLevels[0].tcb.tdxtcbcomponents[2].svn = 5;
  t.tcbLevels[1] = structuredClone(t.tcbLevels[0]);
  t.tcbLevels[1].tcb.tdxtcbcomponents[2].svn = 4;
  t.tcbLevels[1].tcbStatus = "OutOfDate";
  const id = t.tdxModuleIdentities.find((m: Json) => m.id === "TDX_01");
  id.tcbLevels = [
    { tcb: { isvsvn: 12 }, tcbDate: "2025-01-01T00:00:00Z", tcbStatus: "UpToDate" },
    { tcb: { isvsvn: 4 }, tcbDate: "2024-01-01T00:00:00Z", tcbStatus: "OutOfDate" },
  ];
  const q2 = {
    ...quote,
    body: { ...quote.body, tee_tcb_svn2: (quote.body.tee_tcb_svn2 as Uint8Array).slice() },
  };
  (q2.body.tee_tcb_svn2 as Uint8Array)[2] = 5;
  assert.equal(run(q2, pck, t, qeJson).evaluation?.status, "TDRelaunchAdvised");
  t.tcbLevels[1].tcbStatus = "OutOfDateConfigurationNeeded";
  assert.equal(run(q2, pck, t, qeJson).evaluation?.status, "TDRelaunchAdvisedConfigurationNeeded");
  // Without the newer TEE_TCB_SVN2 there is nothing to relaunch into.
  t.tcbLevels[1].tcbStatus = "OutOfDate";
  assert.equal(run(quote, pck, t, qeJson).evaluation?.status, "OutOfDate");
});

Deno.test("status convergence follows Intel's tables", () => {
  assert.equal(convergeWithModule("UpToDate", "OutOfDate"), "OutOfDate");
  assert.equal(
    convergeWithModule("ConfigurationNeeded", "OutOfDate"),
    "OutOfDateConfigurationNeeded",
  );
  assert.equal(
    convergeWithModule("OutOfDateConfigurationNeeded", "OutOfDate"),
    "OutOfDateConfigurationNeeded",
  );
  assert.equal(convergeWithModule("SWHardeningNeeded", "UpToDate"), "SWHardeningNeeded");
  assert.equal(convergeWithModule("UpToDate", "Revoked"), "Revoked");
  assert.equal(convergeWithQe("TDRelaunchAdvised", "OutOfDate"), "TDRelaunchAdvised");
  assert.equal(
    convergeWithQe("ConfigurationAndSWHardeningNeeded", "OutOfDate"),
    "OutOfDateConfigurationNeeded",
  );
  assert.equal(convergeWithQe("OutOfDate", "Revoked"), "Revoked");
});
