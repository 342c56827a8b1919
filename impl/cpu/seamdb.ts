// The CPU's SEAM database (SEAMDB): one entry per TDX module build the SEAM loader
// installed since the database was last cleared, each identified by its index and a
// nonce the CPU chose. The SEAMOPS leaves that use it: SEAMDB_CLEAR and SEAMDB_INSERT
// (the SEAM loader's, on install), SEAMDB_GETREF (TDH.SYS.INIT samples the newest entry;
// TDH.MNG.CREATE copies it into the TDR) and SEAMDB_REPORT (TDG.MR.REPORT names the TD's
// entry; the CPU refuses an index or nonce the database does not hold).
//
// Entries carry only their nonce here: the measurements a real entry keeps are not
// modelled, the module supplies the report's TCB parts itself (impl/module/report.ts).
import { createHash } from "node:crypto";

/** A reference to one entry, as GETREF returns it and a TDR keeps it. */
export interface SeamdbRef {
  index: bigint;
  /** 256-bit nonce. */
  nonce: bigint;
}

/** How a SEAMOPS SEAMDB leaf ended (the names of the public source's SEAMOPS results). */
export type SeamopsResult = "SEAMOPS_SUCCESS" | "SEAMOPS_DATABASE_ERROR";

export class SeamDatabase {
  private entries: bigint[] = [];
  /** Entries ever inserted: a nonce is never reused, even after the database is cleared. */
  private inserted = 0n;

  /** SEAMDB_CLEAR: forgets every entry. */
  clear(): void {
    this.entries = [];
  }

  /** SEAMDB_INSERT: a new entry for the build being installed. */
  insert(): SeamdbRef {
    // A real CPU draws the nonce from its RNG; the model derives it from a counter of its
    // own so that the RDRAND sequence (and every vector built on it) stays as it was.
    const digest = createHash("sha256").update("tdx-conformance seamdb nonce")
      .update(this.inserted.toString()).digest("hex");
    this.inserted += 1n;
    const nonce = BigInt(`0x${digest}`);
    this.entries.push(nonce);
    return { index: BigInt(this.entries.length - 1), nonce };
  }

  /** SEAMDB_GETREF: the newest entry and the number of entries. */
  getref(): { result: "SEAMOPS_SUCCESS"; ref: SeamdbRef; size: bigint } | {
    result: "SEAMOPS_DATABASE_ERROR";
  } {
    const last = this.entries.length - 1;
    if (last < 0) return { result: "SEAMOPS_DATABASE_ERROR" };
    return {
      result: "SEAMOPS_SUCCESS",
      ref: { index: BigInt(last), nonce: this.entries[last] },
      size: BigInt(this.entries.length),
    };
  }

  /** SEAMDB_REPORT's check of the entry it reports for: held, with this nonce. */
  report(ref: SeamdbRef): SeamopsResult {
    const i = ref.index;
    const held = i >= 0n && i < BigInt(this.entries.length) &&
      this.entries[Number(i)] === ref.nonce;
    return held ? "SEAMOPS_SUCCESS" : "SEAMOPS_DATABASE_ERROR";
  }

  get size(): number {
    return this.entries.length;
  }
}
