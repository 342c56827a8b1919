// SEAMCALLs per second on a mixed host workload, one SEAMCALL per bench iteration (so the
// iter/s column reads as SEAMCALLs/s), beside the cost of an empty dispatch measured in
// the same run: a leaf number the spec does not define, which the module answers with
// TDX_OPERAND_INVALID (RAX) before any handler runs, and the CPU's SEAMCALL with no
// module loaded (VMfailInvalid), the instruction model alone.
//
// The mix cycles through eight leaves on two TDs, as a host with one TD being built and
// one running issues them: TDH.MNG.RD and TDH.MR.EXTEND on the TD being built, and on the
// running TD TDH.VP.RD, TDH.MEM.SEPT.RD and a page's TDH.MEM.PAGE.AUG → TDH.MEM.RANGE.BLOCK
// → TDH.MEM.TRACK → TDH.MEM.PAGE.REMOVE cycle. Every call must answer TDX_SUCCESS.
// Run: deno task bench (or deno bench --allow-read --allow-env bench/seamcall_mix_bench.ts).
import { Platform } from "../impl/module/testing/fixture.ts";
import { addPage } from "../impl/module/testing/td_fixture.ts";
import { Cpu } from "../impl/cpu/cpu.ts";
import { registers } from "../impl/cpu/registers.ts";
import { encodeBits } from "../impl/spec/bits.ts";
import { addSeptTables, gpaAndLevel, seamcaller } from "./support/td_bench_support.ts";

type Inputs = Record<string, bigint | number>;

const p = new Platform();
p.readyPlatform();
const spec = p.spec;
const SUCCESS = spec.statusValue("TDX_SUCCESS");
const field = (scope: "td" | "vcpu", name: string) =>
  BigInt(spec.metadataField(scope, name).field_id);

// The TD being built: one page added, its chunks measured in turn.
const building = p.createTd();
const ADDED_GPA = 0x10_0000n;
addPage(p, building, ADDED_GPA, new Uint8Array(4096).fill(0x5A));

// The running TD: one vCPU, Secure EPT pages down to level 1 over the page that cycles.
const running = p.createTd();
const vcpu = p.createVcpu(running);
p.finalizeTd(running);
const CYCLING_GPA = 0x20_0000n;
addSeptTables(p, running.tdr, [CYCLING_GPA]);
const hostPage = p.allocPage();

const step = (name: string, inputs: () => Inputs) => ({ name, call: seamcaller(p, name), inputs });
let chunk = 0n;
const MIX = [
  step("TDH.MNG.RD", () => ({ tdr_pa: building.tdr, field_id: field("td", "ATTRIBUTES") })),
  step("TDH.VP.RD", () => ({ tdvpr_pa: vcpu, field_id: field("vcpu", "VCPU_INDEX") })),
  step("TDH.MEM.SEPT.RD", () => ({
    gpa_and_level: gpaAndLevel(spec, CYCLING_GPA, 1),
    tdr_and_flags: running.tdr,
  })),
  step("TDH.MR.EXTEND", () => {
    chunk = (chunk + 256n) % 4096n;
    return { chunk_gpa: ADDED_GPA + chunk, tdr_pa: building.tdr };
  }),
  step("TDH.MEM.PAGE.AUG", () => ({
    gpa_and_level: gpaAndLevel(spec, CYCLING_GPA, 0),
    tdr_pa: running.tdr,
    target_page_pa: hostPage,
  })),
  step("TDH.MEM.RANGE.BLOCK", () => ({
    gpa_and_level: gpaAndLevel(spec, CYCLING_GPA, 0),
    tdr_pa: running.tdr,
  })),
  step("TDH.MEM.TRACK", () => ({ tdr_pa: running.tdr })),
  step("TDH.MEM.PAGE.REMOVE", () => ({
    gpa_and_level: gpaAndLevel(spec, CYCLING_GPA, 0),
    tdr_pa: running.tdr,
  })),
];

function expectSuccess(name: string, status: bigint): void {
  if (status !== SUCCESS) throw new Error(`${name}: ${p.describe(status).name}`);
}

// One full cycle before timing: every leaf of the mix must succeed.
for (const s of MIX) expectSuccess(s.name, s.call(s.inputs()));

// A leaf number beyond every SEAMCALL the spec defines: the dispatcher's refusal.
const layout = spec.bitfield("SEAMCALL_LEAF").fields;
const leafField = layout.find((f) => f.bits[0] === 0)!;
const unknownLeaf = BigInt(Math.max(...[...spec.seamcalls.values()].map((l) => l.leaf)) + 1);
const unknownRax = encodeBits(layout, { [leafField.name]: unknownLeaf });
const INVALID_RAX = spec.statusValue("TDX_OPERAND_INVALID") |
  spec.enumValue("OPERAND_ID", "RAX");
function emptyDispatch(cpu: Cpu): bigint {
  const regs = registers({ RAX: unknownRax });
  cpu.seamcall(0, regs);
  return regs.RAX;
}
if (emptyDispatch(p.cpu) !== INVALID_RAX) throw new Error("the unknown leaf was not refused");
const noModule = new Cpu(spec);
if (noModule.seamcall(0, registers({ RAX: unknownRax })).kind !== "VMfailInvalid") {
  throw new Error("a CPU without a module must fail SEAMCALL with VMfailInvalid");
}

const GROUP = "one SEAMCALL per iteration (iter/s = SEAMCALLs/s)";

Deno.bench({
  name: "reference: empty dispatch (unknown leaf → TDX_OPERAND_INVALID)",
  group: GROUP,
  baseline: true,
  fn() {
    if (emptyDispatch(p.cpu) !== INVALID_RAX) throw new Error("unexpected status");
  },
});

Deno.bench({
  name: "reference: SEAMCALL with no module loaded (VMfailInvalid)",
  group: GROUP,
  fn() {
    noModule.seamcall(0, registers({ RAX: unknownRax }));
  },
});

let next = 0;
Deno.bench({
  name: `this suite: mixed workload (${MIX.length} leaves in turn)`,
  group: GROUP,
  fn() {
    const s = MIX[next];
    next = (next + 1) % MIX.length;
    expectSuccess(s.name, s.call(s.inputs()));
  },
});

// Context: the read and measure leaves alone (the page cycle only makes sense in turn).
for (const s of MIX.slice(0, 4)) {
  Deno.bench({
    name: `this suite: ${s.name} alone`,
    group: "single leaves",
    fn() {
      expectSuccess(s.name, s.call(s.inputs()));
    },
  });
}
