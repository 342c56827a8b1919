// The test DICE PKI that stands in for Intel's behind the DCP DICE Global Root CA: a root
// CA, a platform CA (Intel's product sub-CA), the platform's DeviceID certificate (DICE
// layer 0) and, per TDX module identity, the quoting alias certificate (layer 1) whose key
// signs quotes. All keys are P-384 from the seed; the layer certificates carry a TCG
// DiceTcbInfo extension (FWID = SHA-384 measurement, SVN, layer). The alias key is derived
// from the seed and the module's measurement (MRSEAM, TEE_TCB_SVN) and a generation, as a
// DICE layer key is from its parent's secret and the layer's measurement, so a module
// update or a key renewal (TDH.QUOTE.INIT) gives a new key. Provisional: no real chain was
// available; the layering is the hypothesis of dice-quote.md section 5. Names say "test".
import type { Spec } from "../../spec/mod.ts";
import { StructCodec } from "../../spec/codec.ts";
import { bytesToHex } from "../../spec/hex.ts";
import { deriveBytes, deriveKey, type SigningKey } from "../quote/seed_keys.ts";
import { ext, issueCertificate, type IssuedCert, KEY_USAGE } from "../quote/test_pki.ts";
import type { TestName } from "../quote/x509_names.ts";
import { derToPem } from "../quote/pem.ts";
import { tcgDiceOid } from "./dice_oids.ts";
import { encodeTcbInfo, type TcbInfo } from "./tcb_info_encode.ts";

const ORG = { O: "TDX Conformance Suite (test keys, not Intel)", L: "Test", ST: "Test", C: "ZZ" };
const NAMES = {
  root: { CN: "TDX Conformance Test DICE Root CA", ...ORG },
  platformCa: { CN: "TDX Conformance Test DICE Platform CA", ...ORG },
  deviceId: { CN: "TDX Conformance Test DICE DeviceID", ...ORG },
  alias: { CN: "TDX Conformance Test TDX Module Quoting Key", ...ORG },
};
const VENDOR = "TDX Conformance Suite (test)";
const HASH = "SHA-384";

/** What the TDX module layer is measured by: TEE_TCB_INFO's MRSEAM and TEE_TCB_SVN. */
export interface ModuleIdentity {
  mrSeam: Uint8Array;
  teeTcbSvn: Uint8Array;
  /** Bumped by each key renewal (TDH.QUOTE.INIT); 0 for the first key. */
  generation?: number;
}

export interface DicePki {
  root: IssuedCert;
  platformCa: IssuedCert;
  deviceId: IssuedCert;
  /** The quoting alias certificate and key of a module identity (made once, then kept). */
  alias(module: ModuleIdentity): IssuedCert;
}

function issued(key: SigningKey, subject: TestName, der: Uint8Array): IssuedCert {
  return { key, subject, der, pem: derToPem(der) };
}

function tcbInfoExtension(t: TcbInfo) {
  return ext(tcgDiceOid("TCB_INFO"), false, encodeTcbInfo(t).slice().buffer);
}

export function makeDicePki(spec: Spec, seed: Uint8Array): DicePki {
  const codec = new StructCodec(spec);
  const keys = {
    root: deriveKey(seed, "dice root ca", "P-384"),
    platformCa: deriveKey(seed, "dice platform ca", "P-384"),
    deviceId: deriveKey(seed, "dice device id", "P-384"),
  };
  const root = issued(
    keys.root,
    NAMES.root,
    issueCertificate({
      seed,
      label: "dice root",
      subject: NAMES.root,
      subjectKey: keys.root,
      issuer: NAMES.root,
      issuerKey: keys.root,
      pathLen: null,
    }),
  );
  const platformCa = issued(
    keys.platformCa,
    NAMES.platformCa,
    issueCertificate({
      seed,
      label: "dice platform ca",
      subject: NAMES.platformCa,
      subjectKey: keys.platformCa,
      issuer: NAMES.root,
      issuerKey: keys.root,
      pathLen: null,
    }),
  );
  // Layer 0: the platform's first mutable code, measured by the hardware.
  const deviceId = issued(
    keys.deviceId,
    NAMES.deviceId,
    issueCertificate({
      seed,
      label: "dice device id",
      subject: NAMES.deviceId,
      subjectKey: keys.deviceId,
      issuer: NAMES.platformCa,
      issuerKey: keys.platformCa,
      pathLen: null,
      extra: [tcbInfoExtension({
        vendor: VENDOR,
        model: "platform firmware (test)",
        svn: 1,
        layer: 0,
        fwids: [{ hash: HASH, digest: deriveBytes(seed, "dice platform firmware", 48) }],
      })],
    }),
  );

  const aliases = new Map<string, IssuedCert>();
  function alias(m: ModuleIdentity): IssuedCert {
    const id = `${bytesToHex(m.mrSeam)}:${bytesToHex(m.teeTcbSvn)}:${m.generation ?? 0}`;
    const known = aliases.get(id);
    if (known) return known;
    const key = deriveKey(seed, `dice quoting alias:${id}`, "P-384");
    const svn = codec.decode("TEE_TCB_SVN", m.teeTcbSvn).value;
    const cert = issued(
      key,
      NAMES.alias,
      issueCertificate({
        seed,
        label: `dice quoting alias:${id}`,
        subject: NAMES.alias,
        subjectKey: key,
        issuer: NAMES.deviceId,
        issuerKey: keys.deviceId,
        keyUsage: [KEY_USAGE.digitalSignature],
        extra: [tcbInfoExtension({
          vendor: VENDOR,
          model: "TDX module (test)",
          version: `${svn.tdx_module_major_version}.${svn.tdx_module_svn}`,
          svn: svn.tdx_module_svn as number,
          layer: 1,
          fwids: [{ hash: HASH, digest: m.mrSeam }],
          vendorInfo: m.teeTcbSvn,
        })],
      }),
    );
    aliases.set(id, cert);
    return cert;
  }

  return { root, platformCa, deviceId, alias };
}
