// The made-up SGX/TDX platform the test PKI certifies: what its PCK certificate says
// (FMSPC, TCB, PPID, ...) and who its quoting enclave is. The shape mirrors a real
// Sapphire Rapids platform in fixtures/realdata (a Platform CA leaf with instance ID
// and configuration, a TD QE with ISVPRODID 2); identities that would name a real
// machine or enclave (PPID, instance ID, MRENCLAVE, MRSIGNER) are drawn from the seed.
import type { Spec } from "../../spec/mod.ts";
import { hexToBytes } from "../../spec/hex.ts";
import { enumNumber, fieldSize } from "../spec_facts.ts";
import { deriveBytes } from "./seed_keys.ts";
import type { PckExtension } from "./pck_extension.ts";

export interface TestQuotingEnclave {
  cpuSvn: Uint8Array;
  miscSelect: number;
  /** SGX ATTRIBUTES: FLAGS then XFRM, 8 bytes each. */
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  /** QE authentication data, hashed with the attestation key into the QE report. */
  authData: Uint8Array;
}

export interface TestPlatform {
  pck: PckExtension;
  qe: TestQuotingEnclave;
}

export function testPlatform(spec: Spec, seed: Uint8Array): TestPlatform {
  const tcbComponents = [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
  const cpuSvn = Uint8Array.from(tcbComponents);
  const authSize = 32;
  return {
    pck: {
      ppid: deriveBytes(seed, "ppid", 16),
      tcbComponents,
      pceSvn: 13,
      cpuSvn,
      pceId: new Uint8Array(2),
      fmspc: hexToBytes("90c06f000000"),
      sgxType: enumNumber(spec, "SGX_TYPE", "SCALABLE"),
      platformInstanceId: deriveBytes(seed, "platform instance id", 16),
      configuration: { dynamicPlatform: true, cachedKeys: true, smtEnabled: true },
    },
    qe: {
      cpuSvn,
      miscSelect: 0,
      attributes: hexToBytes("1500000000000000e700000000000000"),
      mrEnclave: deriveBytes(
        seed,
        "qe mrenclave",
        fieldSize(spec, "SGX_REPORT_BODY", "mr_enclave"),
      ),
      mrSigner: deriveBytes(seed, "qe mrsigner", fieldSize(spec, "SGX_REPORT_BODY", "mr_signer")),
      isvProdId: 2,
      isvSvn: 4,
      authData: Uint8Array.from({ length: authSize }, (_, i) => i),
    },
  };
}
