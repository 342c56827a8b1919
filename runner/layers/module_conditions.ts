// The module layer's platform conditions: what a vector states about the machine under
// the TDX module rather than asks of it. The platform's facts before the module loads
// (`platform.configure`), CPU state the host or firmware left (`cpu.set`: MSRs, CPUID,
// the random-number generator, a pending host interrupt, a busy PCONFIG, a lost SEAM
// database), an operation in flight on another logical processor that holds a module
// resource (`module.hold`), the SEAM loader installing a new module build
// (`seam.install`), and a history too long to replay (`module.fast_forward`). Each is what a module emulator's own test harness can arrange; real
// hardware cannot, so adapters that model no CPU answer them `skipped`.
import { DEFAULT_PLATFORM, type PlatformConfig, type SmrrConfig } from "../../impl/cpu/cpu.ts";
import type { Platform } from "../../impl/module/testing/fixture.ts";
import { lockKey, type LockMode } from "../../impl/module/locks.ts";
import { rtmrLock } from "../../impl/module/rtmr_lock.ts";
import { servtdBindingsLock } from "../../impl/module/servtd.ts";
import { catalog, mdElementLockKeyOf } from "../../impl/module/metadata.ts";
import { enterEpoch, exitEpoch } from "../../impl/module/tlb_tracking.ts";
import { migLockKey } from "../../impl/module/migration/session.ts";
import { fastForwardExportEpoch } from "../../impl/module/migration/epoch_fast_forward.ts";
import type { ModuleProfile } from "../../impl/module/module_profile.ts";
import { encodeBits } from "../../impl/spec/bits.ts";
import { parseHex } from "../../impl/spec/hex.ts";
import type { StepActual } from "../vector_types.ts";

type Input = Record<string, unknown>;
type Invalid = { error: { class: "invalid-input"; field: string; why: string } };

function invalid(field: string, why: string): Invalid {
  return { error: { class: "invalid-input", field, why } };
}

function num(v: unknown, field: string): bigint {
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^0x[0-9a-fA-F]+$/.test(v)) return parseHex(v);
  throw new InputError(field, `must be "0x..." or a whole number, not ${JSON.stringify(v)}`);
}

class InputError extends Error {
  constructor(readonly field: string, why: string) {
    super(why);
  }
}

function onlyKeys(o: Input, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new InputError(`${where}${k}`, `is not one of ${allowed.join(", ")}`);
    }
  }
}

function range(o: unknown, field: string): { base: bigint; size: bigint } {
  if (typeof o !== "object" || o === null) throw new InputError(field, "must be {base, size}");
  const r = o as Input;
  onlyKeys(r, ["base", "size"], `${field}.`);
  return { base: num(r.base, `${field}.base`), size: num(r.size, `${field}.size`) };
}

function smrr(o: unknown, field: string): SmrrConfig {
  if (typeof o !== "object" || o === null) {
    throw new InputError(field, "must be {base, size, valid, locked}");
  }
  const s = o as Input;
  onlyKeys(s, ["base", "size", "valid", "locked"], `${field}.`);
  return {
    range: range({ base: s.base, size: s.size }, field),
    valid: s.valid !== false,
    locked: s.locked !== false,
  };
}

/** Module build facts a vector may state (the SIGSTRUCT the SEAM loader copied, list sizes). */
export function applyModuleFacts(profile: ModuleProfile, o: unknown, field = "module"): void {
  if (typeof o !== "object" || o === null) throw new InputError(field, "must be an object");
  const m = o as Input;
  onlyKeys(m, ["sigstruct", "md_list_bytes", "cpuid_config_filler"], `${field}.`);
  if (m.sigstruct !== undefined) {
    const s = m.sigstruct as Input;
    onlyKeys(
      s,
      ["module_hv", "min_update_hv", "no_downgrade", "num_handoff_pages"],
      `${field}.sigstruct.`,
    );
    const sig = profile.sigstruct;
    if (s.module_hv !== undefined) sig.moduleHv = Number(num(s.module_hv, "module_hv"));
    if (s.min_update_hv !== undefined) {
      sig.minUpdateHv = Number(num(s.min_update_hv, "min_update_hv"));
    }
    if (s.no_downgrade !== undefined) sig.noDowngrade = s.no_downgrade === true;
    if (s.num_handoff_pages !== undefined) {
      sig.numHandoffPages = Number(num(s.num_handoff_pages, "num_handoff_pages"));
    }
  }
  if (m.md_list_bytes !== undefined) {
    profile.mdListBytes = Number(num(m.md_list_bytes, `${field}.md_list_bytes`));
  }
  if (m.cpuid_config_filler !== undefined) {
    profile.cpuidConfigFiller = m.cpuid_config_filler === true;
  }
}

export interface PlatformFacts {
  config: PlatformConfig;
  module?: unknown;
  /**
   * CPU state firmware left before the module loads (`cpuid`, `msrs` entries), as cpu.set
   * inputs with the field each came from.
   */
  cpu: { input: Input; field: string }[];
}

/** `platform.configure`'s input as the reference's platform configuration. */
export function platformFacts(input: Input): PlatformFacts | Invalid {
  try {
    onlyKeys(
      input,
      [
        "cmrs",
        "smrr",
        "smrr2",
        "seam_capabilities",
        "lp_packages",
        "package_fms",
        "cpuid",
        "msrs",
        "module",
      ],
      "",
    );
    const cpu: PlatformFacts["cpu"] = [];
    for (const key of ["cpuid", "msrs"] as const) {
      if (input[key] === undefined) continue;
      if (!Array.isArray(input[key])) throw new InputError(key, "must be a list");
      (input[key] as unknown[]).forEach((e, i) => {
        if (typeof e !== "object" || e === null) {
          throw new InputError(`${key}.${i}`, "must be an object");
        }
        if (key === "msrs") onlyKeys(e as Input, ["msr", "value", "fields", "lp"], `msrs.${i}.`);
        cpu.push({ input: key === "cpuid" ? { cpuid: e } : e as Input, field: `${key}.${i}` });
      });
    }
    const config: PlatformConfig = { ...DEFAULT_PLATFORM };
    if (input.cmrs !== undefined) {
      if (!Array.isArray(input.cmrs)) throw new InputError("cmrs", "must be a list");
      config.cmrs = input.cmrs.map((c, i) => range(c, `cmrs.${i}`));
    }
    if (input.smrr !== undefined) config.smrr = smrr(input.smrr, "smrr");
    if (input.smrr2 !== undefined) config.smrr2 = smrr(input.smrr2, "smrr2");
    if (input.seam_capabilities !== undefined) {
      config.seamCapabilities = num(input.seam_capabilities, "seam_capabilities");
    }
    if (input.lp_packages !== undefined) {
      if (!Array.isArray(input.lp_packages) || input.lp_packages.length !== 4) {
        throw new InputError("lp_packages", "must list the package of each of the 4 LPs");
      }
      config.lpPackages = input.lp_packages.map((x, i) => Number(num(x, `lp_packages.${i}`)));
      config.packages = undefined;
    }
    if (input.package_fms !== undefined) {
      if (!Array.isArray(input.package_fms)) throw new InputError("package_fms", "must be a list");
      config.packageFms = input.package_fms.map((x, i) => Number(num(x, `package_fms.${i}`)));
    }
    return { config, module: input.module, cpu };
  } catch (e) {
    if (e instanceof InputError) return invalid(e.field, e.message);
    throw e;
  }
}

/** `cpu.set`: one CPU condition, on one LP (`lp`) or on all of them. */
export function cpuSet(p: Platform, input: Input): StepActual {
  try {
    onlyKeys(input, [
      "lp",
      "msr",
      "value",
      "fields",
      "cpuid",
      "rng",
      "host_interrupt",
      "pconfig_busy",
      "pconfig_idle",
      "seam_capabilities",
      "seamdb",
    ], "");
    const lp = input.lp === undefined ? undefined : Number(num(input.lp, "lp"));
    if (lp !== undefined && !p.cpu.lps[lp]) {
      throw new InputError("lp", `no logical processor ${lp}`);
    }
    const lps = lp === undefined ? p.cpu.lps.map((l) => l.id) : [lp];
    const kinds = [
      "msr",
      "cpuid",
      "rng",
      "host_interrupt",
      "pconfig_busy",
      "pconfig_idle",
      "seam_capabilities",
      "seamdb",
    ];
    const given = kinds.filter((
      k,
    ) => input[k] !== undefined);
    if (given.length !== 1) {
      throw new InputError(
        "",
        `give exactly one of ${kinds.join(", ")}`,
      );
    }
    switch (given[0]) {
      case "msr":
        return setMsr(p, lp, input);
      case "cpuid": {
        const c = input.cpuid as Input;
        onlyKeys(c, ["leaf", "subleaf", "eax", "ebx", "ecx", "edx"], "cpuid.");
        const leaf = Number(num(c.leaf, "cpuid.leaf"));
        const sub = c.subleaf === undefined || c.subleaf === "*"
          ? "*" as const
          : Number(num(c.subleaf, "cpuid.subleaf"));
        const regs: Record<string, number> = {};
        for (const r of ["eax", "ebx", "ecx", "edx"]) {
          if (c[r] !== undefined) regs[r] = Number(num(c[r], `cpuid.${r}`));
        }
        if (lp === undefined) p.cpu.cpuid.patch(leaf, sub, regs);
        else {
          const was = p.cpu.cpuidOn(lp, leaf, sub === "*" ? 0 : sub);
          p.cpu.cpuid.set(leaf, sub === "*" ? 0 : sub, { ...was, ...regs }, lp);
        }
        return {};
      }
      case "rng":
        if (input.rng !== "no-entropy" && input.rng !== "entropy") {
          throw new InputError("rng", `must be "no-entropy" or "entropy"`);
        }
        p.cpu.blockRng(input.rng === "no-entropy");
        return {};
      case "host_interrupt":
        for (const id of lps) p.cpu.pendHostInterrupt(id, input.host_interrupt === true);
        return {};
      case "seam_capabilities": {
        // SEAMOPS leaf 0 as the LP reports it (a microcode update on some LPs only).
        const caps = num(input.seam_capabilities, "seam_capabilities");
        for (const id of lps) p.cpu.lps[id].seamCapabilities = caps;
        return {};
      }
      case "seamdb":
        // The CPU's SEAM database no longer holds the entries the SEAM loader inserted for
        // the module builds (an incompatible update cleared it, or a hardware fault).
        if (input.seamdb !== "lost") throw new InputError("seamdb", `must be "lost"`);
        if (lp !== undefined) throw new InputError("lp", "the SEAM database is the platform's");
        p.cpu.seamdb.clear();
        return {};
      case "pconfig_busy":
      case "pconfig_idle": {
        const key = given[0];
        const pkg = Number(num(input[key], key));
        if (pkg >= p.cpu.platform.packages) throw new InputError(key, `no package ${pkg}`);
        // The PCONFIG in flight on that package starts (busy) or completes (idle).
        p.cpu.setKeyTableBusy(pkg, key === "pconfig_busy");
        return {};
      }
    }
    return {};
  } catch (e) {
    if (e instanceof InputError) return invalid(e.field, e.message);
    throw e;
  }
}

/** An MSR by its spec name, as a whole value or as bit fields changed from its current one. */
function setMsr(p: Platform, lp: number | undefined, input: Input): StepActual {
  const name = String(input.msr);
  let index: bigint;
  try {
    index = p.cpu.msrs.index(name);
  } catch {
    throw new InputError("msr", `${name} is not an MSR_INDEX name of the spec`);
  }
  let value: bigint;
  if (input.value !== undefined) value = num(input.value, "value");
  else if (input.fields !== undefined) {
    const layout = p.spec.bitfields.get(name);
    if (!layout) throw new InputError("fields", `the spec has no bitfield ${name}`);
    const now = (lp === undefined ? p.cpu.msrs.read(index) : p.cpu.rdmsr(lp, index)) ?? 0n;
    const fields = { ...p.cpu.msrs.decode(name, now) };
    for (const [k, v] of Object.entries(input.fields as Input)) {
      if (!layout.fields.some((f) => f.name === k)) {
        throw new InputError(`fields.${k}`, `is not a field of ${name}`);
      }
      fields[k] = num(v, `fields.${k}`);
    }
    value = encodeBits(layout.fields, fields);
  } else throw new InputError("value", "give value or fields");
  if (lp === undefined) p.cpu.msrs.write(index, value);
  else p.cpu.setLpMsr(lp, name, value);
  return {};
}

/** The lock a `module.hold` names, as the reference keys it. */
function resourceKey(p: Platform, input: Input): string {
  const a = (k: string) => num(input[k], k);
  switch (input.resource) {
    case "page":
      return lockKey.page(a("pa"));
    case "kot":
      return lockKey.kot();
    case "global":
      return lockKey.global();
    case "tdcs":
      return lockKey.tdcs(a("tdr"));
    case "sept_entry":
      return lockKey.sept(a("tdr"), a("gpa"), Number(a("level")));
    case "sept_tree":
      return lockKey.septTree(a("tdr"));
    case "td_epoch":
      return lockKey.tdEpoch(a("tdr"));
    case "rtmr":
      return rtmrLock({ tdr: a("tdr") } as Parameters<typeof rtmrLock>[0]);
    case "servtd_bindings":
      return servtdBindingsLock(a("tdr"));
    case "tdmr":
      return lockKey.tdmr(a("base"));
    case "wbcache":
      return lockKey.wbcache(Number(a("package")));
    case "migration":
      // TDCS.MIG_LOCK: the TD's migration session (operand MIG).
      return migLockKey.mig(a("tdr"));
    case "mig_stream":
      // One migration stream's context (operand MIGSC).
      return migLockKey.migsc(a("tdr"), Number(a("index")));
    case "md_element": {
      // One element of a metadata field, which concurrent writers update atomically.
      const scope = input.tdr !== undefined ? "td" : input.vcpu !== undefined ? "vcpu" : "global";
      const el = catalog(p.spec).find(scope, a("field_id"));
      if (!el) throw new InputError("field_id", `no ${scope} metadata element has this id`);
      const owner = scope === "td" ? a("tdr") : scope === "vcpu" ? a("vcpu") : undefined;
      return mdElementLockKeyOf(scope, owner, el.id);
    }
  }
  throw new InputError("resource", `${JSON.stringify(input.resource)} is not a resource kind`);
}

let holds = 0;

/** The inputs that name which resource a hold or release is about. */
const ADDRESS_KEYS = ["pa", "tdr", "vcpu", "gpa", "level", "base", "package", "field_id", "index"];

/**
 * A vCPU of the TD runs on another LP: entered in the current TLB epoch and not exited, so
 * it holds what TDH.VP.ENTER keeps while a guest runs (its TDVPR and its TDR, shared) and
 * counts in the epoch that TDH.MEM.TRACK must see drain before it moves on.
 */
function vcpuRunning(p: Platform, input: Input): StepActual {
  if (input.mode !== undefined) throw new InputError("mode", "a running vCPU holds its own modes");
  const tdvpr = num(input.vcpu, "vcpu");
  const vcpu = p.module.state.vcpus.get(tdvpr);
  const td = vcpu && p.module.state.tds.get(vcpu.tdr);
  if (!vcpu || !td) throw new InputError("vcpu", "no vCPU has this TDVPR");
  const owner = `in-flight:${++holds}`;
  const locks = p.module.state.locks;
  if (
    !locks.tryAcquire(lockKey.page(tdvpr), "shared", owner) ||
    !locks.tryAcquire(lockKey.page(vcpu.tdr), "shared", owner)
  ) {
    locks.releaseAll(owner);
    throw new InputError("vcpu", "another held lock conflicts with a running vCPU");
  }
  const epoch = enterEpoch(td);
  // `lp`: the LP it runs on is inside SEAM (non-root) until the vCPU leaves.
  const lp = input.lp === undefined ? undefined : p.cpu.lps[Number(num(input.lp, "lp"))];
  if (input.lp !== undefined && !lp) {
    throw new InputError("lp", `no logical processor ${input.lp}`);
  }
  if (lp) lp.mode = "seam-non-root";
  const key = `vcpu_running:${tdvpr.toString(16)}`;
  heldBy(p).set(key, [...(heldBy(p).get(key) ?? []), {
    owner,
    release: () => {
      exitEpoch(td, epoch);
      if (lp) lp.mode = "vmx-root";
    },
  }]);
  return {};
}

/** What each hold took, by resource key, so that `module.release` can give it back. */
const held = new WeakMap<Platform, Map<string, { owner: string; release: () => void }[]>>();

function heldBy(p: Platform): Map<string, { owner: string; release: () => void }[]> {
  let m = held.get(p);
  if (!m) held.set(p, m = new Map());
  return m;
}

/** `module.release`: the operations that held a resource (module.hold) complete. */
export function releaseResource(p: Platform, input: Input): StepActual {
  try {
    onlyKeys(input, ["resource", ...ADDRESS_KEYS], "");
    const key = input.resource === "vcpu_running"
      ? `vcpu_running:${num(input.vcpu, "vcpu").toString(16)}`
      : resourceKey(p, input);
    const holders = heldBy(p).get(key);
    if (!holders?.length) throw new InputError("resource", "no module.hold holds it");
    for (const h of holders) {
      p.module.state.locks.releaseAll(h.owner);
      h.release();
    }
    heldBy(p).delete(key);
    return {};
  } catch (e) {
    if (e instanceof InputError) return invalid(e.field, e.message);
    throw e;
  }
}

/** `module.hold`: an operation in flight on another LP holds a module resource. */
export function holdResource(p: Platform, input: Input): StepActual {
  try {
    onlyKeys(input, ["resource", "mode", "lp", ...ADDRESS_KEYS], "");
    const mode = (input.mode ?? "exclusive") as LockMode;
    if (mode !== "exclusive" && mode !== "shared") {
      throw new InputError("mode", `must be "exclusive" or "shared"`);
    }
    if (input.resource === "vcpu_running") return vcpuRunning(p, input);
    const key = resourceKey(p, input);
    // Each hold is its own operation: two holds conflict as two LPs' operations would.
    const owner = `in-flight:${++holds}`;
    if (!p.module.state.locks.tryAcquire(key, mode, owner)) {
      throw new InputError("resource", "another held lock conflicts with this one");
    }
    heldBy(p).set(key, [...(heldBy(p).get(key) ?? []), { owner, release: () => {} }]);
    return {};
  } catch (e) {
    if (e instanceof InputError) return invalid(e.field, e.message);
    throw e;
  }
}

/**
 * `module.fast_forward`: a TD's history as a long run of successful calls would leave it
 * (`counter: "mig_epoch"`: the TDH.EXPORT.TRACK calls of an export session up to epoch
 * `to`), for limits no vector could reach call by call.
 */
export function fastForward(p: Platform, input: Input): StepActual {
  try {
    onlyKeys(input, ["counter", "tdr", "to"], "");
    if (input.counter !== "mig_epoch") throw new InputError("counter", `must be "mig_epoch"`);
    const td = p.module.state.tds.get(num(input.tdr, "tdr"));
    if (!td) throw new InputError("tdr", "names no TD");
    const why = fastForwardExportEpoch(p.spec, td, num(input.to, "to"));
    if (why) throw new InputError("to", why);
    return {};
  } catch (e) {
    if (e instanceof InputError) return invalid(e.field, e.message);
    throw e;
  }
}
