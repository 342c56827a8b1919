import { strict as assert } from "node:assert";
import { theSpec } from "../spec/mod.ts";
import { parseHex } from "../spec/hex.ts";
import { decodeIoc, encodeIoc, ioctlByNumber, ioctlNumber } from "./ioctl_number.ts";

const spec = theSpec();

Deno.test("every ioctl's request number is _IOC(dir, type, nr, size) of its spec fields", () => {
  for (const it of spec.ioctls.values()) {
    const n = encodeIoc(spec, {
      dir: it.dir,
      type: parseHex(it.type),
      nr: parseHex(it.nr),
      size: it.arg_size,
    });
    assert.equal(n, parseHex(it.number), it.name);
    assert.equal(ioctlNumber(spec, it.name), n);
    assert.equal(ioctlByNumber(spec, n)?.name, it.name);
  }
});

Deno.test("request numbers decode back to direction, type, number and size", () => {
  for (const it of spec.ioctls.values()) {
    const d = decodeIoc(spec, parseHex(it.number));
    assert.deepEqual(d, {
      dir: it.dir,
      type: parseHex(it.type),
      nr: parseHex(it.nr),
      size: it.arg_size,
    }, it.name);
  }
  // KVM_MEMORY_ENCRYPT_OP carries an unsigned long (8 bytes), not the 24-byte kvm_tdx_cmd.
  assert.equal(decodeIoc(spec, ioctlNumber(spec, "KVM_MEMORY_ENCRYPT_OP")).size, 8);
  assert.equal(ioctlByNumber(spec, 0xAEFFn), undefined);
});
