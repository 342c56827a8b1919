// Test support for service TDs: a target TD and a running service TD built through
// SEAMCALLs on one platform, the service TD's guest running TDCALLs the test queues.
// Each `tdcall` enters the service TD's vCPU: the guest makes the TDCALL, then exits to
// the host with TDG.VP.VMCALL; after a trap-like exit in the TDCALL (TDX_CROSS_TD_TRAP)
// the host enters once more so that the guest gets there.
import type { GuestPort } from "../cpu/guest_execution.ts";
import { leafRegisters, readOutputs } from "../cpu/leaf_call.ts";
import type { Registers } from "../cpu/registers.ts";
import { type CallResult, Platform } from "./testing/fixture.ts";
import { type CreatedTd, type CreateTdOptions, finalizeTd } from "./testing/td_fixture.ts";
import { servtdInfoHash, uuidWord } from "./servtd.ts";
import type { TdState } from "./state.ts";

/** The service TD's software: queued TDCALLs, each followed by an exit to the host. */
class QueuedGuest {
  readonly queue: Registers[] = [];
  constructor(private readonly p: Platform) {}

  *program(port: GuestPort): Generator<void, void, void> {
    const vmcall = this.p.spec.tdcall("TDG.VP.VMCALL");
    for (;;) {
      const regs = this.queue.shift();
      if (regs) {
        port.tdcall(regs);
        if (port.exitRequested) yield;
      }
      port.tdcall(leafRegisters(this.p.spec, vmcall, {}));
      yield;
    }
  }
}

export interface ServtdTdcall extends Omit<CallResult, "out"> {
  out: Record<string, bigint>;
  regs: Registers;
  /** TDH.VP.ENTER's answer for the entry the TDCALL ran in. */
  enter: CallResult;
}

export interface ServtdWorldOptions {
  /** The target TD (default: initialised). */
  target?: CreateTdOptions;
  /** TDH.SERVTD.BIND of the service TD in slot 0 with these attributes. */
  bind?: bigint;
}

export class ServtdWorld {
  readonly p = new Platform();
  readonly target: CreatedTd;
  readonly servtd: CreatedTd;
  readonly vcpu: bigint;
  private readonly guest: QueuedGuest;

  constructor(o: ServtdWorldOptions = {}) {
    this.p.readyPlatform();
    this.servtd = this.p.createTd();
    this.guest = new QueuedGuest(this.p);
    this.p.cpu.attachGuestProgram(this.servtd.tdr, (port) => this.guest.program(port));
    this.vcpu = this.p.createVcpu(this.servtd);
    finalizeTd(this.p, this.servtd);
    this.target = this.p.createTd(o.target ?? {});
    if (o.bind !== undefined) {
      const r = this.bind(o.bind);
      if (r.name !== "TDX_SUCCESS") throw new Error(`TDH.SERVTD.BIND: ${r.name} ${r.operand}`);
    }
  }

  get spec() {
    return this.p.spec;
  }
  get state() {
    return this.p.module.state;
  }
  get targetState(): TdState {
    return this.state.tds.get(this.target.tdr)!;
  }
  get servtdState(): TdState {
    return this.state.tds.get(this.servtd.tdr)!;
  }

  bind(attributes = 0n, inputs: Record<string, bigint | number> = {}): CallResult {
    return this.p.seamcall("TDH.SERVTD.BIND", {
      tdr_pa: this.target.tdr,
      servtd_tdr_pa: this.servtd.tdr,
      servtd_slot: 0,
      servtd_type: 0,
      servtd_attr: attributes,
      ...inputs,
    });
  }

  /** The service TD's SERVTD_INFO_HASH for `attributes`, written to a fresh host page. */
  hashPage(attributes = 0n): bigint {
    const pa = this.p.allocPage();
    this.p.cpu.memory.write(pa, servtdInfoHash(this.spec, this.servtdState, attributes));
    return pa;
  }

  /** The handle and target UUID inputs TDH.SERVTD.BIND gives the service TD for slot 0. */
  handleInputs(): Record<string, bigint> {
    const uuid = this.targetState.uuid;
    const u0 = uuidWord(this.servtdState.uuid, 0);
    return {
      binding_handle: (this.target.tdr + u0) & 0xFFFF_FFFF_FFFF_FFFFn,
      target_uuid_0: uuidWord(uuid, 0),
      target_uuid_1: uuidWord(uuid, 1),
      target_uuid_2: uuidWord(uuid, 2),
      target_uuid_3: uuidWord(uuid, 3),
    };
  }

  /** TDCALL `name` by the service TD's guest, with the binding inputs unless overridden. */
  tdcall(
    name: string,
    inputs: Record<string, bigint | number> = {},
    opts: { version?: number } = {},
  ): ServtdTdcall {
    const leaf = this.spec.tdcall(name);
    const regs = leafRegisters(
      this.spec,
      leaf,
      { ...this.handleInputs(), ...inputs },
      opts.version,
    );
    this.guest.queue.push(regs);
    const enter = this.enter();
    const status = regs.RAX;
    // A trap-like exit stopped the guest right after the TDCALL: let it finish.
    if (enter.name === "TDX_CROSS_TD_TRAP") this.enter();
    return { status, ...this.p.describe(status), out: readOutputs(leaf, regs), regs, enter };
  }

  enter(extra: Record<string, bigint | number> = {}): CallResult {
    return this.p.seamcall("TDH.VP.ENTER", { vcpu_handle_and_flags: this.vcpu, ...extra });
  }
}
