// Set-ups for the migration vectors (scenarios/module_migration.yaml), built through
// SEAMCALLs: a running Migration TD ($tdr, $vcpu; its guest makes the tdcall steps that
// hand over migration keys with TDG.SERVTD.WR), bound (slot 0, type MIGTD, attributes 0)
// to a migratable source TD and to a destination TD created for import:
//   $page90  the source's TDR (migratable, one vCPU, finalized: RUNNABLE, no stream yet);
//            $page58 its vCPU's TDVPR
//   $page91..$page94 the source's TD_UUID words  $page95 the source's binding handle
//   $page80  the destination's TDR (keys configured, TDCS added: UNINITIALIZED, no stream)
//   $page81..$page84 its TD_UUID words           $page85 its binding handle
//   $page86  MBMD_HPA_AND_SIZE of an immutable-state bundle sealed under MIGRATION_TEST_KEY
//            (the key the scenario's Migration TD writes to the destination's MIG_DEC_KEY),
//            $page87 its PAGE_LIST_INFO (LAST_ENTRY 1: the SYS list, then the TD list of a
//            TD built like the source), $page88 the MBMD's address, $page89 the list's;
//   $page60.. the same four for a TD list with a reserved header bit, $page64.. one that
//            claims a sequence it lacks, $page68.. one naming a global field id, $page72..
//            an empty one, $page76.. the source's with NUM_VCPUS 0;
//   $page56 / $page57 MBMD_HPA_AND_SIZE and address of an epoch token sealed under the test
//            key for the destination after the immutable state (epoch 1, TOTAL_MB 2),
//            $page52 / $page53 the same for the out-of-order epoch;
//   $page40..$page43 (operand, list info, MBMD and list addresses) a mutable TD-state bundle
//            for the destination after the immutable state (bundle 1, epoch 0) holding the
//            source's TD list, $page44..$page47 one holding an empty list;
//   $page100..$page103 the same four for the source vCPU's state (bundle 2: its lists, then
//            empty ones), $page104 / $page105 the out-of-order epoch token after it;
//   $page120.. a TD-state bundle of two pages (the list, then an empty one), $page124..,
//            $page128.., $page132.. TD-state bundles with a reserved header bit, a missing
//            sequence, a global field id; $page136.., $page140.., $page144.., $page148..
//            vCPU bundles with no fields, a reserved header bit, a missing sequence, a TD
//            field id; $page152.. the vCPU state again as bundle 3 (a second vCPU);
//   $page300.. memory bundles for the destination after the immutable state (stream 0,
//            bundle 1, epoch 0) of MIGRATE entries for $gpa0 and $gpa1 into new pages, six
//            symbols each (GPA_LIST_INFO, MBMD_HPA_AND_SIZE, migration buffer list, MAC
//            lists 0 and 1, new-page list): $page300 sealed as sent, $page306 with a
//            buffer changed in transit, $page312 sealed under another key, $page318 with
//            MB_COUNTER 0, $page324 whose first new page is the destination's TDR,
//            $page330 whose first entry has a reserved bit, $page336 a CANCEL of GPA 0x10000000;
//   $page360.. bundle 2 of epoch 0 with a REMIGRATE of $gpa0, $page366.. one with a CANCEL
//            of it; $page372 / $page373 the epoch-1 token after the immutable state and one
//            memory bundle (TOTAL_MB 3); epoch 1's bundle 1 as $page374.. (a REMIGRATE of $gpa0
//            as pending) or $page380.. (a CANCEL of $gpa0), and its bundle 2, $page386.. (a
//            MIGRATE of $gpa0 again);
//   $page200..$page203 an immutable-state bundle like $page86's whose source has
//            EXPORT_COUNT at its maximum (MAX_EXPORT_COUNT export sessions already started).
// - mig-pair: the above;
// - mig-pair-nonmigratable: the source without ATTRIBUTES.MIGRATABLE;
// - mig-pair-pages: mig-pair whose source had two pages added before TDH.MR.FINALIZE
//   ($gpa0, $gpa1: MAPPED; $gpa2, in the same 2 MiB range, FREE).
import type { Platform } from "../../impl/module/testing/fixture.ts";
import { addPage, type CreatedTd, finalizeTd } from "../../impl/module/testing/td_fixture.ts";
import { uuidWord } from "../../impl/module/servtd.ts";
import {
  EXPORT_GPAS,
  mdListPage,
  migratableAttributes,
  sealedEpochToken,
  sealedImmutableBundle,
  sealedTdStateBundle,
  sealedVpBundle,
} from "../../impl/module/migration/migration_fixture.ts";
import {
  dumpImmutablePage,
  dumpPage,
  TD_MUTABLE,
  VP_MUTABLE,
} from "../../impl/module/migration/md_lists.ts";
import { migLimit, migLimitN } from "../../impl/module/migration/limits.ts";
import { catalog } from "../../impl/module/metadata.ts";
import {
  type MemBundleOptions,
  type MemEntry,
  sealedMemBundle,
} from "../../impl/module/migration/mem_import_fixture.ts";

export type MigrationSetup = "mig-pair" | "mig-pair-nonmigratable" | "mig-pair-pages";

interface SetupSymbols {
  td?: CreatedTd;
  vcpu?: bigint;
  pages: Map<string, bigint>;
  gpas?: bigint[];
}

/** The 256-bit key the scenario's Migration TD writes as the destination's MIG_DEC_KEY. */
export const MIGRATION_TEST_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x11 * (i % 15 + 1));

const U64 = 0xFFFF_FFFF_FFFF_FFFFn;

function bind(p: Platform, target: bigint, migtd: bigint): void {
  const r = p.seamcall("TDH.SERVTD.BIND", {
    tdr_pa: target,
    servtd_tdr_pa: migtd,
    servtd_slot: 0,
    servtd_type: p.spec.enumValue("SERVTD_TYPE", "MIGTD"),
    servtd_attr: 0,
  });
  if (r.name !== "TDX_SUCCESS") throw new Error(`set-up: TDH.SERVTD.BIND answered ${r.name}`);
}

function pair(p: Platform, sym: SetupSymbols, migratable: boolean, pages = false): void {
  const migtd = p.createTd();
  sym.td = migtd;
  sym.vcpu = p.createVcpu(migtd);
  finalizeTd(p, migtd);
  const attributes = migratable ? migratableAttributes(p.spec) : undefined;
  // A new binding is only possible before TDH.MR.FINALIZE (it is part of SERVTD_HASH).
  const source = p.createTd({ stage: "initialized", attributes });
  bind(p, source.tdr, migtd.tdr);
  if (pages) {
    addPage(p, source, EXPORT_GPAS[0], new Uint8Array(4096).fill(1));
    addPage(p, source, EXPORT_GPAS[1], new Uint8Array(4096).fill(2));
    sym.gpas = [...EXPORT_GPAS];
  }
  sym.pages.set("58", p.createVcpu(source));
  finalizeTd(p, source);
  const destination = p.createTd({ stage: "tdcs" });
  bind(p, destination.tdr, migtd.tdr);

  const state = p.module.state;
  const uuid0 = uuidWord(state.tds.get(migtd.tdr)!.uuid, 0);
  const set = (n: number, v: bigint) => sym.pages.set(String(n), v & U64);
  const symbols = (base: number, td: CreatedTd) => {
    set(base, td.tdr);
    const uuid = state.tds.get(td.tdr)!.uuid;
    for (let i = 0; i < 4; i++) set(base + 1 + i, uuidWord(uuid, i));
    set(base + 5, td.tdr + uuid0);
  };
  symbols(90, source);
  symbols(80, destination);

  // What a source built like this one exports, sealed under the test key; then bundles a
  // misbehaving source could send, each sealed (its MAC verifies) but with a bad TD list.
  const src = state.tds.get(source.tdr)!;
  const md = { spec: p.spec, cpu: p.cpu, state, td: src };
  const sys = dumpImmutablePage(md, "global", 0).page;
  const sealAt = (n: number, td: Uint8Array) => {
    const inputs = sealedImmutableBundle(p, destination.tdr, MIGRATION_TEST_KEY, [sys, td]);
    const mbmd = BigInt(inputs.mbmd_hpa_and_size);
    const list = BigInt(inputs.page_list_info);
    set(n, mbmd);
    set(n + 1, list);
    set(n + 2, mbmd & ((1n << 52n) - 1n));
    set(n + 3, list & ((1n << 52n) - 1n) & ~0xFFFn);
  };
  sealAt(86, dumpImmutablePage(md, "td", 0).page);
  sealAt(60, mdListPage([], { reserved: 1 }));
  sealAt(64, mdListPage([], { sequences: 1 }));
  sealAt(68, mdListPage([0x0000000200000000n, 1n], { sequences: 1 }));
  sealAt(72, mdListPage());
  // The source's NUM_VCPUS as 0: the destination's cross-check refuses it.
  const numVcpus = src.numVcpus;
  src.numVcpus = 0;
  sealAt(76, dumpImmutablePage(md, "td", 0).page);
  src.numVcpus = numVcpus;
  // EXPORT_COUNT travels with the immutable state: a destination that imports this one
  // can never be exported again.
  const exportCount = catalog(p.spec).field("td", "EXPORT_COUNT").baseId;
  const count = src.fields.get(exportCount);
  src.fields.set(exportCount, migLimit(p.spec, "MAX_EXPORT_COUNT"));
  sealAt(200, dumpImmutablePage(md, "td", 0).page);
  if (count === undefined) src.fields.delete(exportCount);
  else src.fields.set(exportCount, count);
  // Epoch tokens for the destination once it imported the immutable state (MIG_EPOCH 0,
  // one bundle): the first in-order epoch, and the start of the out-of-order phase.
  const token = (n: number, epoch: number, totalMb = 2n, ivCounter?: bigint) => {
    const t = sealedEpochToken(p, MIGRATION_TEST_KEY, { epoch, totalMb, ivCounter });
    set(n, t.operand);
    set(n + 1, t.pa);
  };
  token(56, 1);
  token(52, 0xFFFF_FFFF);
  // Mutable TD-state bundles for the destination after the immutable state (the stream's
  // bundle 1 of epoch 0): the source's TD list, and an empty list.
  const tdState = (n: number, page: Uint8Array | Uint8Array[]) => {
    const b = sealedTdStateBundle(
      p,
      MIGRATION_TEST_KEY,
      page instanceof Uint8Array ? [page] : page,
    );
    set(n, b.mbmd.operand);
    set(n + 1, b.info);
    set(n + 2, b.mbmd.pa);
    set(n + 3, b.info & ((1n << 52n) - 1n) & ~0xFFFn);
  };
  tdState(40, dumpPage(md, TD_MUTABLE, 0).page);
  tdState(44, mdListPage());
  tdState(120, [dumpPage(md, TD_MUTABLE, 0).page, mdListPage()]);
  tdState(124, mdListPage([], { reserved: 1 }));
  tdState(128, mdListPage([], { sequences: 1 }));
  tdState(132, mdListPage([0x0000000200000000n, 1n], { sequences: 1 }));
  // The source vCPU's state (bundle 2 of epoch 0: its lists, then empty ones up to the
  // pages an import needs), and the out-of-order epoch token that follows it (TOTAL_MB 4).
  const vcpu = state.vcpus.get(sym.pages.get("58")!)!;
  const vpLists = [dumpPage({ ...md, vcpu }, VP_MUTABLE, 0).page];
  while (vpLists.length < migLimitN(p.spec, "MIN_VP_STATE_IMPORT_PAGES")) {
    vpLists.push(mdListPage());
  }
  const vpBundle = (n: number, lists: Uint8Array[], mbCounter = 2) => {
    const vp = sealedVpBundle(p, MIGRATION_TEST_KEY, lists, { mb_counter: mbCounter });
    set(n, vp.mbmd.operand);
    set(n + 1, vp.info);
    set(n + 2, vp.mbmd.pa);
    set(n + 3, vp.info & ((1n << 52n) - 1n) & ~0xFFFn);
  };
  vpBundle(100, vpLists);
  const empty = vpLists.slice(1);
  vpBundle(136, [mdListPage(), ...empty]);
  vpBundle(140, [mdListPage([], { reserved: 1 }), ...empty]);
  vpBundle(144, [mdListPage([], { sequences: 1 }), ...empty]);
  vpBundle(148, [mdListPage([0x9010000300000000n, 1n], { sequences: 1 }), ...empty]);
  // The same state as the TD's second vCPU (bundle 3): one more than the TD has.
  vpBundle(152, vpLists, 3);
  const last = sealedEpochToken(p, MIGRATION_TEST_KEY, {
    epoch: 0xFFFF_FFFF,
    totalMb: 4n,
    ivCounter: 12n,
  });
  set(104, last.operand);
  set(105, last.pa);

  // Memory bundles for the destination (TDH.IMPORT.MEM), and ones a faulty source or a
  // tampering host could deliver.
  const memBundle = (
    n: number,
    entries: MemEntry[],
    o: MemBundleOptions & { key?: Uint8Array } = {},
    change?: (b: ReturnType<typeof sealedMemBundle>) => void,
  ) => {
    const b = sealedMemBundle(p, destination.tdr, o.key ?? MIGRATION_TEST_KEY, entries, {
      newPages: true,
      ...o,
    });
    change?.(b);
    const i = b.inputs;
    [i.gpa_list_info, i.mbmd_hpa_and_size, i.mig_buff_list_pa, i.mac_list_0_pa, i.mac_list_1_pa]
      .forEach((v, k) => set(n + k, BigInt(v)));
    set(n + 5, b.newPageList!);
  };
  const two: MemEntry[] = EXPORT_GPAS.slice(0, 2).map((gpa) => ({ gpa }));
  const u64At = (pa: bigint, v: bigint) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, v, true);
    p.cpu.memory.write(pa, bytes);
  };
  memBundle(300, two);
  memBundle(306, two, {}, (b) => {
    const x = p.cpu.memory.read(b.buffers[1], 1);
    p.cpu.memory.write(b.buffers[1], Uint8Array.of(x[0] ^ 1));
  });
  memBundle(312, two, { key: new Uint8Array(32).fill(7) });
  memBundle(318, two, { mbCounter: 0 });
  memBundle(324, two, {}, (b) => u64At(b.newPageList!, destination.tdr));
  memBundle(330, [{ gpa: EXPORT_GPAS[0], raw: { reserved_6_3: 1n } }]);
  memBundle(336, [{ gpa: EXPORT_GPAS[0], operation: "CANCEL" }]);
  // What follows $page300 on the same stream: more of epoch 0, then epoch 1.
  const gpa0 = (operation: string, pending = false): MemEntry[] => [
    { gpa: EXPORT_GPAS[0], operation, pending },
  ];
  memBundle(360, gpa0("REMIGRATE"), { mbCounter: 2, iv: 200n });
  memBundle(366, gpa0("CANCEL"), { mbCounter: 2, iv: 200n });
  token(372, 1, 3n, 300n);
  memBundle(374, gpa0("REMIGRATE", true), { epoch: 1, mbCounter: 1, iv: 400n });
  memBundle(380, gpa0("CANCEL"), { epoch: 1, mbCounter: 1, iv: 400n });
  memBundle(386, gpa0("MIGRATE"), { epoch: 1, mbCounter: 2, iv: 500n });
}

export const MIGRATION_SETUPS: Record<
  MigrationSetup,
  (p: Platform, sym: SetupSymbols) => void
> = {
  "mig-pair": (p, sym) => pair(p, sym, true),
  "mig-pair-nonmigratable": (p, sym) => pair(p, sym, false),
  "mig-pair-pages": (p, sym) => pair(p, sym, true, true),
};
