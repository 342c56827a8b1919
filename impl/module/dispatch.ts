// The module's front door: decodes RAX by the spec's leaf layout, finds the leaf by
// number in the spec, applies the dispatcher's gates (reserved bits, version, platform
// state) and runs the leaf's handler. An unknown, unsupported or unmodelled leaf
// answers TDX_OPERAND_INVALID with operand RAX, as the module does for a leaf it lacks.
import type { LeafItem, Spec } from "../spec/mod.ts";
import { decodeBits } from "../spec/bits.ts";
import type { Cpu, LogicalProcessor } from "../cpu/cpu.ts";
import type { Registers } from "../cpu/registers.ts";
import { type Completion, completion } from "./completion.ts";
import { LeafContext, type LeafHandler } from "./leaf_context.ts";
import type { ModuleState } from "./state.ts";

export interface DecodedLeaf {
  leaf: LeafItem | undefined;
  number: number;
  version: number;
  reservedSet: boolean;
}

export class LeafTable {
  private readonly byNumber = new Map<number, LeafItem>();
  constructor(readonly spec: Spec, readonly kind: "seamcall" | "tdcall") {
    const items = kind === "seamcall" ? spec.seamcalls : spec.tdcalls;
    for (const leaf of items.values()) this.byNumber.set(leaf.leaf, leaf);
  }

  decode(rax: bigint): DecodedLeaf {
    const layout =
      this.spec.bitfield(this.kind === "seamcall" ? "SEAMCALL_LEAF" : "TDCALL_LEAF").fields;
    const { fields, undefinedBits } = decodeBits(layout, rax);
    const leafField = layout.find((f) => f.bits[0] === 0)!;
    const versionField = layout.find((f) => f.bits[0] === 16)!;
    let reservedSet = undefinedBits !== 0n;
    for (const f of layout) if (f.reserved && fields[f.name] !== 0n) reservedSet = true;
    const number = Number(fields[leafField.name]);
    return {
      leaf: this.byNumber.get(number),
      number,
      version: Number(fields[versionField.name]),
      reservedSet,
    };
  }
}

export function dispatch(
  spec: Spec,
  table: LeafTable,
  handlers: ReadonlyMap<string, LeafHandler>,
  cpu: Cpu,
  lp: LogicalProcessor,
  state: ModuleState,
  regs: Registers,
): Completion {
  const d = table.decode(regs.RAX);
  const invalid = () => completion(spec, "TDX_OPERAND_INVALID", "RAX");
  if (d.reservedSet) return invalid();
  // As tdx_vmm_dispatcher.c: a version above 0 is refused at once unless the leaf has
  // several versions (an unknown leaf number has none). Multi-version leaves and unknown
  // leaf numbers meet the module-state gates first; only then is the version checked
  // (by the handler in the module) or the missing leaf found (the leaf switch's default).
  if (d.version > 0 && (d.leaf?.version ?? 0) === 0) return invalid();
  if (table.kind === "seamcall") {
    const sys = state.platform.sysState;
    if (sys === "SYS_SHUTDOWN" && !d.leaf?.dispatch?.during_shutdown) {
      return completion(spec, "TDX_SYS_SHUTDOWN");
    }
    if (sys !== "SYS_READY" && !d.leaf?.dispatch?.before_sys_ready) {
      return completion(spec, "TDX_SYS_NOT_READY");
    }
  }
  if (!d.leaf) return invalid();
  if (d.version > d.leaf.version) return invalid();
  const handler = handlers.get(d.leaf.name);
  if (!handler || d.leaf.implemented === false) return invalid();
  const ctx = new LeafContext(spec, cpu, lp, state, d.leaf, d.version, regs);
  try {
    return handler(ctx);
  } finally {
    ctx.releaseLocks();
  }
}
