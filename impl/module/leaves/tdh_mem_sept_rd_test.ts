import { strict as assert } from "node:assert";
import { encodeBits } from "../../spec/bits.ts";
import { lockKey } from "../locks.ts";
import { entryAt, setL2Leaf } from "../sept.ts";
import {
  assertReported,
  GPA,
  type LeafCall,
  type MemoryTd,
  statusTests,
  tdGateRows,
} from "../testing/memory_fixture.ts";

const LEAF = "TDH.MEM.SEPT.RD";

function rd(m: MemoryTd, over: Partial<Record<string, bigint>> = {}): LeafCall {
  return { inputs: { gpa_and_level: m.gal(GPA, 3), tdr_and_flags: m.tdr, ...over } };
}

statusTests(LEAF, [
  {
    status: "TDX_SUCCESS",
    why: "a FREE entry of the root page",
    setup: (m) => rd(m),
    then: (m, r) => assertReported(m, r, 3, "FREE"),
  },
  {
    status: "TDX_SUCCESS",
    why: "a MAPPED 4 KiB leaf: permissions, WB, IPAT, PS, HPA, SVE",
    setup: (m) => {
      const pa = m.pageAdd(GPA);
      (m as MemoryTd & { pa?: bigint }).pa = pa;
      return rd(m, { gpa_and_level: m.gal(GPA, 0) });
    },
    then: (m, r) => {
      assertReported(m, r, 0, "MAPPED");
      const pa = (m as MemoryTd & { pa?: bigint }).pa!;
      const f = m.spec.bitfield("SEPT_ENTRY").fields;
      assert.equal(
        r.out.sept_entry,
        encodeBits(f, {
          r: 1n,
          w: 1n,
          x: 1n,
          mt: m.spec.enumValue("ept_memory_type", "WB"),
          ipat: 1n,
          ps: 1n,
          hpa: pa >> 12n,
          sve: 1n,
        }),
      );
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "a non-leaf entry shows its permissions only",
    setup: (m) => {
      m.tables(GPA, 2);
      return rd(m);
    },
    then: (m, r) => {
      assertReported(m, r, 3, "NL_MAPPED");
      assert.equal(r.out.sept_entry, 7n);
    },
  },
  {
    status: "TDX_SUCCESS",
    why: "5-level Secure EPT (GPAW 52): a level-4 entry",
    td: { gpaw52: true },
    setup: (m) => rd(m, { gpa_and_level: m.gal(0n, 4) }),
    then: (m, r) => assertReported(m, r, 4, "FREE"),
  },
  {
    status: "TDX_SUCCESS",
    why: "debug TD with an L2 VM: R8 has VM 1's attributes of an aliased leaf",
    td: { debug: true, numL2Vms: 1 },
    setup: (m) => {
      m.pageAdd(GPA);
      m.l2Tables(GPA, 0, 1);
      const attrs = encodeBits(m.spec.bitfield("GPA_ATTR_SINGLE_VM").fields, {
        r: 1n,
        xs: 1n,
        valid: 1n,
      });
      setL2Leaf(m.spec, m.td, 1, GPA, 0, attrs);
      return rd(m, { gpa_and_level: m.gal(GPA, 0), tdr_and_flags: m.tdr | 1n });
    },
    then: (m, r) => {
      const attrs = entryAt(m.td, 0, GPA, 1).attributes;
      assert.equal(r.out.l2_attributes, attrs << 16n);
    },
  },
  ...tdGateRows({
    tdrInput: "tdr_and_flags",
    tdrOperand: "RDX",
    inputs: (m, tdr) => rd(m, { tdr_and_flags: tdr }),
  }),
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RDX",
    why: "RDX bit 0 (read L2 attributes) for a TD that is not a debug TD",
    setup: (m) => rd(m, { tdr_and_flags: m.tdr | 1n }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "level 4 with a 4-level Secure EPT",
    setup: (m) => rd(m, { gpa_and_level: m.gal(0n, 4) }),
  },
  {
    status: "TDX_OPERAND_INVALID",
    operand: "RCX",
    why: "a shared GPA",
    setup: (m) => rd(m, { gpa_and_level: m.gal(1n << 47n, 0) }),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "SEPT_TREE",
    why: "the SEPT tree is held exclusively",
    setup: (m) => {
      m.hold(lockKey.septTree(m.tdr));
      return rd(m);
    },
  },
  {
    status: "TDX_EPT_WALK_FAILED",
    operand: "RCX",
    why: "level 0 under a 2 MiB leaf: RCX/RDX show the leaf",
    setup: (m) => {
      m.aug(GPA, 1);
      return rd(m, { gpa_and_level: m.gal(GPA, 0) });
    },
    then: (m, r) => assertReported(m, r, 1, "PENDING"),
  },
  {
    status: "TDX_OPERAND_BUSY",
    operand: "RCX",
    why: "the entry is locked",
    setup: (m) => {
      m.holdSeptEntry(GPA, 3);
      return rd(m);
    },
    then: (m, r) => assertReported(m, r, 3, "FREE"),
  },
]);
