// Verification collateral for quotes of the test platform, in the JSON shape of
// fixtures/realdata/collateral/dcapqvl_*_collateral.json (Intel PCS v4 data as dcap-qvl
// passes it): TDX TCB info and TD QE identity, each signed by the test TCB signing key
// (raw r || s in hex over the exact JSON text), their issuer chains, and the root and
// PCK CRLs (DER in hex). A verifier given the test root accepts the generated quotes
// with it, with TCB status UpToDate.
import type { Spec } from "../../spec/mod.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { fieldSize } from "../spec_facts.ts";
import { signRaw } from "./ecdsa_p256.ts";
import type { QuoteGenerator } from "./quote_generate.ts";

export interface Collateral {
  pck_crl_issuer_chain: string;
  root_ca_crl: string;
  pck_crl: string;
  tcb_info_issuer_chain: string;
  tcb_info: string;
  tcb_info_signature: string;
  qe_identity_issuer_chain: string;
  qe_identity: string;
  qe_identity_signature: string;
}

export interface CollateralOptions {
  /** TEE_TCB_SVN of the TDX module the quotes will report (default all zero). */
  teeTcbSvn?: Uint8Array;
  /** MRSIGNERSEAM of that module (default zero, Intel's module). */
  mrSignerSeam?: Uint8Array;
  /** SEAM attributes of that module (default 0). */
  seamAttributes?: bigint;
  issueDate?: string;
  nextUpdate?: string;
  tcbDate?: string;
  tcbEvaluationDataNumber?: number;
}

const DEFAULTS = {
  issueDate: "2025-01-01T00:00:00Z",
  nextUpdate: "2049-12-31T00:00:00Z",
  tcbDate: "2025-01-01T00:00:00Z",
  tcbEvaluationDataNumber: 17,
};

const upper = (b: Uint8Array) => bytesToHex(b).toUpperCase();
const svns = (values: ArrayLike<number>) => Array.from(values, (svn) => ({ svn }));

function attributesHex(v: bigint, bytes: number): string {
  const b = new Uint8Array(bytes);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return upper(b);
}

export function makeCollateral(
  spec: Spec,
  gen: QuoteGenerator,
  opts: CollateralOptions = {},
): Collateral {
  const o = { ...DEFAULTS, ...opts };
  const pck = gen.platform.pck;
  const qe = gen.platform.qe;
  const tdxTcb = opts.teeTcbSvn ??
    new Uint8Array(fieldSize(spec, "TD_QUOTE_BODY_1_0", "tee_tcb_svn"));
  const mrSigner = opts.mrSignerSeam ??
    new Uint8Array(fieldSize(spec, "TD_QUOTE_BODY_1_0", "mr_signer_seam"));
  const attrSize = fieldSize(spec, "TD_QUOTE_BODY_1_0", "seam_attributes");
  const module = {
    mrsigner: upper(mrSigner),
    attributes: attributesHex(opts.seamAttributes ?? 0n, attrSize),
    attributesMask: "FF".repeat(attrSize),
  };
  // With a module major version (TEE_TCB_SVN[1]) above zero, verifiers match the
  // module's minor SVN (TEE_TCB_SVN[0]) against the TDX_<major> module identity.
  const major = tdxTcb[1];
  const tcbInfo = {
    id: "TDX",
    version: 3,
    issueDate: o.issueDate,
    nextUpdate: o.nextUpdate,
    fmspc: upper(pck.fmspc),
    pceId: upper(pck.pceId),
    tcbType: 0,
    tcbEvaluationDataNumber: o.tcbEvaluationDataNumber,
    tdxModule: module,
    tdxModuleIdentities: major === 0 ? [] : [{
      id: `TDX_${String(major).padStart(2, "0")}`,
      ...module,
      tcbLevels: [{ tcb: { isvsvn: tdxTcb[0] }, tcbDate: o.tcbDate, tcbStatus: "UpToDate" }],
    }],
    tcbLevels: [{
      tcb: {
        sgxtcbcomponents: svns(pck.tcbComponents),
        pcesvn: pck.pceSvn,
        tdxtcbcomponents: svns(tdxTcb),
      },
      tcbDate: o.tcbDate,
      tcbStatus: "UpToDate",
    }],
  };
  // QE identity: the QE's MISCSELECT and ATTRIBUTES under the masks Intel's TD QE
  // identity uses (all of MISCSELECT; FLAGS but bit 2, no XFRM), its MRSIGNER, ISVPRODID
  // and one level at its ISVSVN.
  const attributesMask = new Uint8Array(qe.attributes.length / 2).fill(0xff);
  attributesMask[0] = 0xfb;
  const qeIdentity = {
    id: "TD_QE",
    version: 2,
    issueDate: o.issueDate,
    nextUpdate: o.nextUpdate,
    tcbEvaluationDataNumber: o.tcbEvaluationDataNumber,
    miscselect: qe.miscSelect.toString(16).toUpperCase().padStart(8, "0"),
    miscselectMask: "FFFFFFFF",
    attributes: upper(
      Uint8Array.from(
        qe.attributes,
        (b, i) => i < attributesMask.length ? b & attributesMask[i] : 0,
      ),
    ),
    attributesMask: upper(attributesMask) +
      "00".repeat(qe.attributes.length - attributesMask.length),
    mrsigner: upper(qe.mrSigner),
    isvprodid: qe.isvProdId,
    tcbLevels: [{ tcb: { isvsvn: qe.isvSvn }, tcbDate: o.tcbDate, tcbStatus: "UpToDate" }],
  };
  const tcbText = JSON.stringify(tcbInfo);
  const qeText = JSON.stringify(qeIdentity);
  const encoder = new TextEncoder();
  const signingChain = gen.pki.tcbSigning.pem + gen.pki.root.pem;
  return {
    pck_crl_issuer_chain: gen.pki.platformCa.pem + gen.pki.root.pem,
    root_ca_crl: bytesToHex(gen.pki.rootCrl),
    pck_crl: bytesToHex(gen.pki.pckCrl),
    tcb_info_issuer_chain: signingChain,
    tcb_info: tcbText,
    tcb_info_signature: bytesToHex(signRaw(gen.pki.tcbSigning.key, encoder.encode(tcbText))),
    qe_identity_issuer_chain: signingChain,
    qe_identity: qeText,
    qe_identity_signature: bytesToHex(signRaw(gen.pki.tcbSigning.key, encoder.encode(qeText))),
  };
}
