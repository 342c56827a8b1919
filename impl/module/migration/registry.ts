// The migration leaf handlers, by the leaf's spec name (registered with the td leaves).
import type { LeafHandler } from "../leaf_context.ts";
import { tdhMigStreamCreate } from "../leaves/tdh_mig_stream_create.ts";
import { tdhExportStateImmutable } from "../leaves/tdh_export_state_immutable.ts";
import { tdhImportStateImmutable } from "../leaves/tdh_import_state_immutable.ts";
import { tdhExportAbort } from "../leaves/tdh_export_abort.ts";
import { tdhImportAbort } from "../leaves/tdh_import_abort.ts";
import { tdhExportPause } from "../leaves/tdh_export_pause.ts";
import { tdhExportTrack } from "../leaves/tdh_export_track.ts";
import { tdhImportTrack } from "../leaves/tdh_import_track.ts";
import { tdhExportStateTd } from "../leaves/tdh_export_state_td.ts";
import { tdhImportStateTd } from "../leaves/tdh_import_state_td.ts";
import { tdhImportCommit } from "../leaves/tdh_import_commit.ts";
import { tdhImportEnd } from "../leaves/tdh_import_end.ts";
import { tdhExportStateVp } from "../leaves/tdh_export_state_vp.ts";
import { tdhImportStateVp } from "../leaves/tdh_import_state_vp.ts";
import { tdhExportBlockw } from "../leaves/tdh_export_blockw.ts";
import { tdhExportUnblockw } from "../leaves/tdh_export_unblockw.ts";
import { tdhExportMem } from "../leaves/tdh_export_mem.ts";
import { tdhExportRestore } from "../leaves/tdh_export_restore.ts";
import { tdhImportMem } from "../leaves/tdh_import_mem.ts";

export const MIGRATION_LEAVES: [string, LeafHandler][] = [
  ["TDH.MIG.STREAM.CREATE", tdhMigStreamCreate],
  ["TDH.EXPORT.STATE.IMMUTABLE", tdhExportStateImmutable],
  ["TDH.IMPORT.STATE.IMMUTABLE", tdhImportStateImmutable],
  ["TDH.EXPORT.ABORT", tdhExportAbort],
  ["TDH.IMPORT.ABORT", tdhImportAbort],
  ["TDH.EXPORT.PAUSE", tdhExportPause],
  ["TDH.EXPORT.TRACK", tdhExportTrack],
  ["TDH.IMPORT.TRACK", tdhImportTrack],
  ["TDH.EXPORT.STATE.TD", tdhExportStateTd],
  ["TDH.IMPORT.STATE.TD", tdhImportStateTd],
  ["TDH.IMPORT.COMMIT", tdhImportCommit],
  ["TDH.IMPORT.END", tdhImportEnd],
  ["TDH.EXPORT.STATE.VP", tdhExportStateVp],
  ["TDH.IMPORT.STATE.VP", tdhImportStateVp],
  ["TDH.EXPORT.BLOCKW", tdhExportBlockw],
  ["TDH.EXPORT.UNBLOCKW", tdhExportUnblockw],
  ["TDH.EXPORT.MEM", tdhExportMem],
  ["TDH.EXPORT.RESTORE", tdhExportRestore],
  ["TDH.IMPORT.MEM", tdhImportMem],
];
