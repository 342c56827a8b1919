import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { errnoName, errnoValue, fail, isFailure, toResult } from "./errno.ts";

const spec = theSpec();

Deno.test("every errno the ioctl and KVM_TDX items name has a Linux value", () => {
  const named = new Set<string>();
  for (const it of spec.ioctls.values()) it.errors.forEach((e) => named.add(e.errno));
  for (const it of spec.kvmTdxCommands.values()) it.errors.forEach((e) => named.add(e.errno));
  for (const n of named) assert.ok(errnoValue(spec, n) > 0, n);
  assert.equal(errnoValue(spec, "EINVAL"), 22);
  assert.equal(errnoName(spec, 14), "EFAULT");
});

Deno.test("failures become ioctl results with ret -1 and errno", () => {
  const f = fail("ENOSPC");
  assert.ok(isFailure(f));
  assert.ok(!isFailure(new Uint8Array(1)));
  assert.ok(!isFailure(0n));
  assert.deepEqual(toResult(spec, f), { ret: -1n, errno: 28, errnoName: "ENOSPC" });
  assert.deepEqual(toResult(spec, 5n), { ret: 5n, errno: 0 });
});
