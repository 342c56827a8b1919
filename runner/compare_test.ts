import { strict as assert } from "node:assert";
import { firstDifference } from "./compare.ts";

Deno.test("partial expectations judge only what they name", () => {
  assert.equal(
    firstDifference({ status: { name: "TDX_SUCCESS" } }, {
      status: { name: "TDX_SUCCESS", value: "0x0" },
      extra: 1,
    }),
    undefined,
  );
  assert.deepEqual(
    firstDifference({ status: { name: "TDX_SUCCESS" } }, {
      status: { name: "TDX_OPERAND_INVALID" },
    }),
    {
      path: "/status/name",
      expected: "TDX_SUCCESS",
      actual: "TDX_OPERAND_INVALID",
    },
  );
  assert.deepEqual(firstDifference({ fields: { a: "0x1" } }, { fields: {} }), {
    path: "/fields/a",
    expected: "0x1",
    actual: undefined,
  });
});

Deno.test("any_of accepts any listed outcome and reports the first when none matches", () => {
  const e = { any_of: [{ errno: "EINVAL" }, { errno: "EFAULT" }] };
  assert.equal(firstDifference(e, { errno: "EFAULT" }), undefined);
  assert.deepEqual(firstDifference(e, { errno: "EIO" }), {
    path: "/errno",
    expected: "EINVAL",
    actual: "EIO",
  });
});

Deno.test("arrays compare element-wise and by length", () => {
  assert.equal(firstDifference([1, 2], [1, 2]), undefined);
  assert.deepEqual(firstDifference([1, 2], [1, 3]), { path: "/1", expected: 2, actual: 3 });
  assert.deepEqual(firstDifference([1], [1, 2]), { path: "/", expected: [1], actual: [1, 2] });
});
