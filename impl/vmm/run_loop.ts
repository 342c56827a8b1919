// Running a launched TD: KVM_RUN on the boot vCPU until its software ends (the vCPU
// shuts down), answering the exits a VMM must answer - GetQuote and
// SetupEventNotifyInterrupt (KVM_EXIT_TDX), MapGPA (KVM_EXIT_HYPERCALL, turned into
// KVM_SET_MEMORY_ATTRIBUTES) - and waking the vCPU when it halts: a halted vCPU is
// woken either by the GetQuote notification or by the next timer tick, one loop turn.
import type { KvmVcpu } from "../kvm/mod.ts";
import { tdxValue } from "../kvm/mod.ts";
import type { LaunchedTd } from "./launcher.ts";
import { vmmFail, type VmmResult } from "./vmm_error.ts";

export interface RunReport {
  /** KVM_RUN calls made. */
  runs: number;
  /** How often each exit reason (or KVM_RUN errno) came back. */
  exits: Record<string, number>;
}

const MAX_RUNS = 100_000;
/** How long the asynchronous loop lets a halted guest sleep for a quote: Linux polls each second. */
const TICK_MS = 1000;

/** One KVM_RUN and its exit handled: "halted" when the vCPU waits for an event. */
function turn(
  td: LaunchedTd,
  vcpu: KvmVcpu,
  report: RunReport,
): VmmResult<RunReport> | "halted" | undefined {
  const count = (k: string) => (report.exits[k] = (report.exits[k] ?? 0) + 1);
  report.runs++;
  const r = vcpu.runOnce();
  const exit = r.exit ?? "unknown";
  if (r.errno) {
    count(`${r.errnoName}/${exit}`);
    if (r.errnoName === "EINTR" && exit === "KVM_EXIT_INTR") return "halted";
    return vmmFail("KVM_RUN", `KVM_RUN failed with ${r.errnoName} (exit ${exit})`, r.errnoName);
  }
  count(exit);
  switch (exit) {
    case "KVM_EXIT_SHUTDOWN":
      return { ok: true, value: report };
    case "KVM_EXIT_TDX":
      handleTdxExit(td, vcpu);
      return undefined;
    case "KVM_EXIT_HYPERCALL":
      return handleMapGpa(td, vcpu);
    default:
      return vmmFail("KVM_RUN", `unexpected exit ${exit} from vCPU ${vcpu.id}`);
  }
}

/** The vCPU halted: time passes, the quote service may answer, the vCPU wakes. */
function wakeAfterTick(td: LaunchedTd, vcpu: KvmVcpu): void {
  td.quotes.tick();
  vcpu.wake();
}

const tooLong = (maxRuns: number) =>
  vmmFail("KVM_RUN", `the TD did not finish within ${maxRuns} KVM_RUN calls`);

export function runTd(td: LaunchedTd, maxRuns = MAX_RUNS): VmmResult<RunReport> {
  const report: RunReport = { runs: 0, exits: {} };
  const vcpu = td.vcpus[0];
  while (report.runs < maxRuns) {
    const t = turn(td, vcpu, report);
    if (t === undefined) continue;
    if (t !== "halted") return t;
    if (td.quotes.awaitingAnswer) {
      return vmmFail(
        "KVM_RUN",
        "the quote service answers asynchronously: run the TD with runTdAsync",
      );
    }
    wakeAfterTick(td, vcpu);
  }
  return tooLong(maxRuns);
}

export interface AsyncRunOptions {
  maxRuns?: number;
  /** Longest a halted guest waits for an asynchronous quote service before its next tick. */
  tickMs?: number;
}

/**
 * runTd for asynchronous quote services (a QGS over a socket): while the halted guest
 * waits for a quote, the event loop runs until the service answers or a tick has passed.
 */
export async function runTdAsync(
  td: LaunchedTd,
  options: AsyncRunOptions = {},
): Promise<VmmResult<RunReport>> {
  const maxRuns = options.maxRuns ?? MAX_RUNS;
  const report: RunReport = { runs: 0, exits: {} };
  const vcpu = td.vcpus[0];
  while (report.runs < maxRuns) {
    const t = turn(td, vcpu, report);
    if (t === undefined) continue;
    if (t !== "halted") return t;
    if (td.quotes.awaitingAnswer) await td.quotes.nextAnswer(options.tickMs ?? TICK_MS);
    wakeAfterTick(td, vcpu);
  }
  return tooLong(maxRuns);
}

function handleTdxExit(td: LaunchedTd, vcpu: KvmVcpu): void {
  const spec = td.spec;
  const run = vcpu.runPage;
  const nr = run.exitField("kvm_run_tdx_exit", "nr");
  const nrName = spec.enum("kvm_tdx_exit_nr").values.find((v) => BigInt(v.value) === nr)?.name;
  const setRet = (status: string) =>
    run.setExitField("kvm_run_tdx_exit", "ret", spec.statusValue(status));
  switch (nrName) {
    case "TDVMCALL_GET_QUOTE": {
      const q = run.exit("kvm_run_tdx_get_quote");
      setRet(td.quotes.request(q.gpa as bigint, q.size as bigint));
      break;
    }
    case "TDVMCALL_SETUP_EVENT_NOTIFY_INTERRUPT": {
      const n = run.exit("kvm_run_tdx_setup_event_notify");
      setRet(td.quotes.setupNotify(n.vector as bigint, vcpu.index));
      break;
    }
    default:
      // GetTdVmCallInfo leaf 1: KVM's default answer (SUCCESS, nothing extra) stands.
      break;
  }
}

/** MapGPA: convert the range's memory attributes; KVM turns ret into the guest's status. */
function handleMapGpa(td: LaunchedTd, vcpu: KvmVcpu): undefined {
  const spec = td.spec;
  const run = vcpu.runPage;
  const h = run.exit("kvm_run_hypercall");
  const v = (n: string) => tdxValue(spec, "KVM_RUN", n);
  if ((h.nr as bigint) !== v("KVM_HC_MAP_GPA_RANGE")) {
    run.setExitField("kvm_run_hypercall", "ret", BigInt(errno(td, "EINVAL")));
    return undefined;
  }
  const [gpa, pages, attrs] = h.args as bigint[];
  const toPrivate = (attrs & v("KVM_MAP_GPA_RANGE_ENCRYPTED")) !== 0n;
  const r = td.vm.call("KVM_SET_MEMORY_ATTRIBUTES", {
    address: gpa,
    size: pages * 4096n,
    attributes: toPrivate
      ? tdxValue(spec, "KVM_SET_MEMORY_ATTRIBUTES", "KVM_MEMORY_ATTRIBUTE_PRIVATE")
      : 0n,
    flags: 0n,
  });
  run.setExitField("kvm_run_hypercall", "ret", r.errno ? BigInt(errno(td, "EINVAL")) : 0n);
  return undefined;
}

function errno(td: LaunchedTd, name: string): number {
  return Number(td.spec.enumValue("linux_errno", name));
}
