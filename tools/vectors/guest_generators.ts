// Guest-layer vectors from declarative scenarios: a TD booted from a real TDVF image
// (a shared fixture: one guest.boot step) and the system calls a user process in it makes
// on /dev/tdx_guest, the measurement files and configfs-tsm, written with the spec's item
// names, run on the reference (runner/layers/guest_layer.ts) for the expectations. The
// model-defined parts of a TDREPORT (MAC, CPUSVN, the TDX module's TCB) are not pinned.
import { parseHex, toHex } from "../../impl/spec/hex.ts";
import type { Spec } from "../../impl/spec/mod.ts";
import { GuestSession } from "../../runner/layers/guest_layer.ts";
import type { Covered, Step, Vector } from "../../runner/vector_types.ts";
import type { GeneratorContext } from "./generator_context.ts";
import { pinned, withMerges } from "./kvm_generators.ts";

const FIRMWARE = "fixtures/realdata/firmware/OVMF-debian-2022.11-6+deb12u2.fd";

/** The TDs the fixtures boot: the Debian TDVF image with recognisable owner ids. */
const BOOTS: Record<string, { title: string; input: Record<string, unknown> }> = {
  "debian": {
    title: "A TD booted from the Debian OVMF image; the VMM echoes the TDREPORT as the quote",
    input: {
      firmware: FIRMWARE,
      mrconfigid: "11".repeat(48),
      mrowner: "22".repeat(48),
      mrownerconfig: "33".repeat(48),
      quote_service: "echo",
    },
  },
  "debian-no-quote": {
    title: "A TD booted from the Debian OVMF image; the VMM has no quote service",
    input: { firmware: FIRMWARE, quote_service: "none" },
  },
};

/** TDREPORT fields every implementation computes the same way (not the MAC or the TCB). */
const REPORT_PINS = [
  "report_mac_struct.report_type.type",
  "report_mac_struct.report_type.subtype",
  "report_mac_struct.report_data",
  "report_mac_struct.tee_info_hash",
  "td_info",
];

type Scalar = string | number;

interface GuestStepSpec {
  open?: string;
  mode?: "r" | "w" | "rw";
  as?: string;
  /** The configfs-tsm report directory name for paths with <name> (default r0). */
  report?: string;
  ioctl?: string;
  fd?: string;
  arg?: Scalar | { struct: string; fields?: Record<string, Scalar> };
  read?: string;
  count?: number;
  offset?: number;
  decode?: string;
  write?: string;
  bytes?: string;
  close?: string;
  mkdir?: string;
  rmdir?: string;
  pin?: string[];
  prepare?: boolean;
  note?: string;
}

export interface GuestCase {
  id: string;
  title: string;
  boot?: keyof typeof BOOTS;
  tags?: string[];
  covers?: Covered[];
  steps: GuestStepSpec[];
}

class Expander {
  constructor(readonly spec: Spec, readonly where: string) {}

  /** A guest_interface item's path (its <name> the report directory), or a path as is. */
  path(p: string, report = "r0"): string {
    const item = this.spec.guestInterfaces.get(p);
    if (item) return item.path.replace("<name>", report);
    if (p.startsWith("/")) return p;
    if (p.startsWith("report:")) return `${this.tsmRoot()}/${p.slice("report:".length)}`;
    throw new Error(`${this.where}: "${p}" is neither a path nor a guest_interface item`);
  }

  tsmRoot(): string {
    return this.spec.guestInterface("tsm_report.inblob").path.split("/<name>/")[0];
  }

  /** Raw bytes as plain hex: "fill:0xVV:N" repeats a byte, "text:..." is ASCII. */
  bytes(b: string): string {
    const fill = /^fill:(0x[0-9A-Fa-f]{1,2}):(\d+)$/.exec(b);
    if (fill) return Number(fill[1]).toString(16).padStart(2, "0").repeat(Number(fill[2]));
    if (b.startsWith("text:")) {
      return [...new TextEncoder().encode(b.slice(5))].map((x) => x.toString(16).padStart(2, "0"))
        .join("");
    }
    if (!/^([0-9a-f]{2})*$/.test(b)) throw new Error(`${this.where}: not plain hex: ${b}`);
    return b;
  }

  value(v: Scalar): string {
    if (typeof v === "number") return toHex(BigInt(v));
    if (/^0x[0-9A-Fa-f]+$/.test(v)) return toHex(parseHex(v));
    if (v.startsWith("fill:")) return `hex:${this.bytes(v)}`;
    return v;
  }

  step(s: GuestStepSpec): { op: string; input: Record<string, unknown> } {
    if (s.open !== undefined) {
      const input: Record<string, unknown> = {
        path: this.path(s.open, s.report),
        mode: s.mode ?? "r",
      };
      if (s.as) input.as = s.as;
      return { op: "guest.open", input };
    }
    if (s.ioctl !== undefined) {
      const input: Record<string, unknown> = {
        fd: s.fd,
        request: /^0x/.test(s.ioctl) ? toHex(parseHex(s.ioctl)) : s.ioctl,
      };
      if (!/^0x/.test(s.ioctl) && !this.spec.ioctls.has(s.ioctl)) {
        throw new Error(`${this.where}: no ioctl ${s.ioctl}`);
      }
      if (typeof s.arg === "object") {
        input.arg = {
          struct: s.arg.struct,
          fields: Object.fromEntries(
            Object.entries(s.arg.fields ?? {}).map(([k, v]) => [k, this.value(v)]),
          ),
        };
      } else if (s.arg !== undefined) input.arg = this.value(s.arg);
      return { op: "guest.ioctl", input };
    }
    if (s.read !== undefined) {
      const input: Record<string, unknown> = { fd: s.read, count: s.count ?? 4096 };
      if (s.offset !== undefined) input.offset = s.offset;
      if (s.decode) input.decode = s.decode;
      return { op: "guest.read", input };
    }
    if (s.write !== undefined) {
      const input: Record<string, unknown> = { fd: s.write, bytes: this.bytes(s.bytes ?? "") };
      if (s.offset !== undefined) input.offset = s.offset;
      return { op: "guest.write", input };
    }
    if (s.close !== undefined) return { op: "guest.close", input: { fd: s.close } };
    if (s.mkdir !== undefined) return { op: "guest.mkdir", input: { path: this.path(s.mkdir) } };
    if (s.rmdir !== undefined) return { op: "guest.rmdir", input: { path: this.path(s.rmdir) } };
    throw new Error(`${this.where}: a step needs open, ioctl, read, write, close, mkdir or rmdir`);
  }
}

/** The guest_interface item a path names (a <name> segment matches any report directory). */
function itemOf(spec: Spec, path: string): string | undefined {
  for (const g of spec.guestInterfaces.values()) {
    const pattern = new RegExp(
      `^${g.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace("<name>", "[^/]+")}$`,
    );
    if (pattern.test(path)) return g.name;
  }
  return undefined;
}

/** Default expectations: a TDREPORT's deterministic fields, not its MAC or raw bytes. */
function defaultPin(op: string, input: Record<string, unknown>): string[] | undefined {
  if (op === "guest.ioctl" && typeof input.arg === "object") {
    return ["out.reportdata", ...REPORT_PINS.map((p) => `out.tdreport.${p}`)];
  }
  if (op === "guest.read" && input.decode === "TDREPORT_STRUCT") {
    return REPORT_PINS.map((p) => `fields.${p}`);
  }
  return undefined;
}

export function guestSequence(ctx: GeneratorContext, params: Record<string, unknown>): Vector[] {
  return (withMerges(params.cases) as GuestCase[]).map((c) => guestVector(ctx, c));
}

function guestVector(ctx: GeneratorContext, c: GuestCase): Vector {
  const bootName = c.boot ?? "debian";
  const boot = BOOTS[bootName];
  if (!boot) throw new Error(`${c.id}: unknown boot ${bootName}`);
  const session = new GuestSession();
  const booted = session.step("guest.boot", boot.input);
  if (booted.error) throw new Error(`${c.id}: the TD did not boot: ${JSON.stringify(booted)}`);
  const fixture = ctx.fixture(`guest-${bootName}`, boot.title, "guest", [
    { op: "guest.boot", input: boot.input, expect: booted },
  ]);
  const covers: Covered[] = [...(c.covers ?? [])];
  const seen = new Set(covers.map((v) => `${v.kind}:${v.name}`));
  const add = (kind: Covered["kind"], name: string) => {
    if (!seen.has(`${kind}:${name}`)) covers.push({ kind, name });
    seen.add(`${kind}:${name}`);
  };
  const steps: Step[] = c.steps.map((s, i) => {
    const where = `${c.id} step ${i}`;
    const { op, input } = new Expander(ctx.spec, where).step(s);
    const actual = session.step(op, input);
    const err = actual.error as { class?: string } | undefined;
    if (err) throw new Error(`${where}: ${op} gave ${JSON.stringify(actual)}`);
    const step: Step = { op, input, expect: pinned(actual, s.pin ?? defaultPin(op, input)) };
    if (s.note) step.note = s.note;
    if (!s.prepare) {
      const path = (input.path as string | undefined) ?? undefined;
      const item = path ? itemOf(ctx.spec, path) : undefined;
      if (item) add("guest_interface", item);
      if (op === "guest.ioctl") {
        add("guest_interface", "dev.tdx_guest");
        const req = String(input.request);
        if (ctx.spec.ioctls.has(req)) add("ioctl", req);
        const arg = input.arg as { struct?: string } | undefined;
        if (arg?.struct) add("struct", arg.struct);
      }
      if (input.decode) add("struct", String(input.decode));
    }
    return step;
  });
  // Reads and writes name their file by the name an earlier open gave it.
  for (const [i, s] of c.steps.entries()) {
    const fd = s.read ?? s.write ?? s.close ?? s.fd;
    if (fd === undefined || s.prepare) continue;
    const open = c.steps.slice(0, i).reverse().find((o) => o.open !== undefined && o.as === fd);
    if (open) {
      const item = itemOf(ctx.spec, new Expander(ctx.spec, c.id).path(open.open!, open.report));
      if (item) add("guest_interface", item);
    }
  }
  if (!covers.length) throw new Error(`${c.id}: the vector covers nothing`);
  return ctx.vector({
    id: c.id,
    title: c.title,
    layer: "guest",
    covers,
    tags: c.tags ?? [],
    scenarioCase: c.id,
    source: `${FIRMWARE} (fixtures/realdata/PROVENANCE.md)`,
    fixture,
    steps,
  });
}
