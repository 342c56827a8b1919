// Set-ups for scenarios/module_migration_more.yaml, built through SEAMCALLs like
// migration_setups.ts, with the source symbols numbered the same way:
// - mig-source-vcpus: a running Migration TD ($tdr, $vcpu) bound (slot 0, MIGTD) to a
//   migratable source ($page90; TD_UUID $page91..$page94, binding handle $page95) that
//   was finalized with one initialised vCPU ($page58) and two vCPUs the host created but
//   never finished: $page59 has only its TDVPR (no TDH.VP.ADDCX), $page61 has all its TDVPS
//   pages but no TDH.VP.INIT. TDH.MR.FINALIZE counts initialised vCPUs only, and vCPUs can
//   only be created before it, so such vCPUs stay that way for the TD's life.
// - mig-pair-streams-full: mig-pair (migration_setups.ts) whose source already has the
//   maximum number of migration streams, each added by TDH.MIG.STREAM.CREATE.
import type { Platform } from "../../impl/module/testing/fixture.ts";
import type { CreatedTd } from "../../impl/module/testing/td_fixture.ts";
import { finalizeTd } from "../../impl/module/testing/td_fixture.ts";
import { uuidWord } from "../../impl/module/servtd.ts";
import { migratableAttributes } from "../../impl/module/migration/migration_fixture.ts";
import { migLimitN } from "../../impl/module/migration/limits.ts";
import { MIGRATION_SETUPS } from "./migration_setups.ts";

export type MigrationMoreSetup = "mig-source-vcpus" | "mig-pair-streams-full";

interface SetupSymbols {
  td?: CreatedTd;
  vcpu?: bigint;
  pages: Map<string, bigint>;
  gpas?: bigint[];
}

const U64 = 0xFFFF_FFFF_FFFF_FFFFn;

function ok(p: Platform, leaf: string, inputs: Record<string, bigint | number>): void {
  const r = p.seamcall(leaf, inputs);
  if (r.name !== "TDX_SUCCESS") throw new Error(`set-up: ${leaf} answered ${r.name}`);
}

function sourceWithVcpus(p: Platform, sym: SetupSymbols): void {
  const migtd = p.createTd();
  sym.td = migtd;
  sym.vcpu = p.createVcpu(migtd);
  finalizeTd(p, migtd);
  const source = p.createTd({ stage: "initialized", attributes: migratableAttributes(p.spec) });
  ok(p, "TDH.SERVTD.BIND", {
    tdr_pa: source.tdr,
    servtd_tdr_pa: migtd.tdr,
    servtd_slot: 0,
    servtd_type: p.spec.enumValue("SERVTD_TYPE", "MIGTD"),
    servtd_attr: 0,
  });
  sym.pages.set("58", p.createVcpu(source));
  sym.pages.set("59", p.createVcpu(source, { tdvpsPages: 1, init: false }));
  sym.pages.set("61", p.createVcpu(source, { init: false }));
  finalizeTd(p, source);

  const state = p.module.state;
  const uuid0 = uuidWord(state.tds.get(migtd.tdr)!.uuid, 0);
  const uuid = state.tds.get(source.tdr)!.uuid;
  sym.pages.set("90", source.tdr);
  for (let i = 0; i < 4; i++) sym.pages.set(String(91 + i), uuidWord(uuid, i) & U64);
  sym.pages.set("95", (source.tdr + uuid0) & U64);
}

function streamsFull(p: Platform, sym: SetupSymbols): void {
  MIGRATION_SETUPS["mig-pair"](p, sym);
  const max = migLimitN(p.spec, "MAX_MIGS");
  for (let i = 0; i < max; i++) {
    ok(p, "TDH.MIG.STREAM.CREATE", { migsc_pa: p.allocPage(), tdr_pa: sym.pages.get("90")! });
  }
}

export const MIGRATION_MORE_SETUPS: Record<
  MigrationMoreSetup,
  (p: Platform, sym: SetupSymbols) => void
> = {
  "mig-source-vcpus": sourceWithVcpus,
  "mig-pair-streams-full": streamsFull,
};
