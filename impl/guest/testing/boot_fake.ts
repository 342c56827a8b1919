// Test support: a guest kernel booted on the fake TD, and a process to make calls.
import { theSpec } from "../../spec/mod.ts";
import { GuestKernel } from "../kernel.ts";
import { Process } from "../process.ts";
import type { QuoteWait } from "../tdx_guest.ts";
import { FakeTd, writeHob } from "./fake_td.ts";

export const HOB = 0x809000n;

export function bootFake(
  opts: { wait?: QuoteWait; prepare?: (td: FakeTd) => void } = {},
): { td: FakeTd; kernel: GuestKernel; p: Process } {
  const td = new FakeTd(theSpec());
  writeHob(td, HOB, [
    { address: 0n, length: 0x800000n, added: false },
    { address: 0x800000n, length: 0x6000n, added: true },
    { address: 0x809000n, length: 0x2000n, added: true },
    { address: 0x810000n, length: 0x10000n, added: true },
    { address: 0x820000n, length: 0x7F7E0000n, added: false },
  ]);
  opts.prepare?.(td);
  const kernel = td.drive(GuestKernel.boot(td.spec, td.port, td.memory, {
    hobAddress: HOB,
    quoteWait: opts.wait,
  }));
  return { td, kernel, p: new Process(kernel) };
}
