// Checks the schemas cannot express: file naming, unique names and numbers,
// cross-references between items, struct layout arithmetic, bit ranges, field-id
// and ioctl encodings.
import { expectedFile, KINDS } from "./kinds.ts";
import { elementSize, fixedFieldSize, fixedStructSize, INT_SIZES } from "./layout.ts";
import { parseHex } from "./hex.ts";
import type {
  BitField,
  Diagnostic,
  Item,
  LeafItem,
  Located,
  MemoryOperand,
  Register,
  StatusUse,
  StructItem,
  TdvmcallItem,
} from "./types.ts";

type Report = (loc: Located, pointer: string, message: string) => void;

export function lintItems(located: Located[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report: Report = (loc, pointer, message) =>
    out.push({ file: loc.file, ...loc.position(pointer), pointer, message });

  const byKind = (k: string) => located.filter((l) => l.item.kind === k);
  const names = (k: string) => new Set(byKind(k).map((l) => l.item.name));
  const statusNames = names("status");
  const structs = new Map(byKind("struct").map((l) => [l.item.name, l.item as StructItem]));
  const bitfields = names("bitfield");
  const enums = new Map(
    byKind("enum").map((l) => [l.item.name, l.item as Extract<Item, { kind: "enum" }>]),
  );
  const seamcalls = names("seamcall");
  const operandIds = new Set(enums.get("OPERAND_ID")?.values.map((v) => v.name) ?? []);
  const pageTypes = new Set(enums.get("PAGE_TYPE")?.values.map((v) => v.name) ?? []);

  for (const loc of located) {
    checkFileName(loc, report);
  }
  checkUnique(located, report);

  for (const loc of located) {
    const it = loc.item;
    const needName = (
      pointer: string,
      name: string | undefined,
      set: Set<string>,
      what: string,
    ) => {
      if (name !== undefined && !set.has(name)) {
        report(loc, pointer, `unknown ${what} "${name}" (no such item in spec/)`);
      }
    };
    const checkRegisters = (regs: Register[], base: string) =>
      regs.forEach((r, i) => {
        needName(`${base}/${i}/bitfield`, r.bitfield, bitfields, "bitfield");
        if (r.operand_id && operandIds.size) {
          needName(`${base}/${i}/operand_id`, r.operand_id, operandIds, "OPERAND_ID value");
        }
        if (r.fields) checkBits(loc, `${base}/${i}/fields`, r.fields, 64, report, enums);
        if (r.type === "bits" && !r.fields && !r.bitfield) {
          report(loc, `${base}/${i}`, 'a register of type "bits" needs "fields" or "bitfield"');
        }
      });
    const checkStatuses = (uses: StatusUse[], base: string) =>
      uses.forEach((s, i) => {
        needName(`${base}/${i}/status`, s.status, statusNames, "status");
        if (s.operand && operandIds.size) {
          needName(`${base}/${i}/operand`, s.operand, operandIds, "OPERAND_ID value");
        }
      });
    const checkMemory = (ops: MemoryOperand[] | undefined, base: string) =>
      (ops ?? []).forEach((m, i) => {
        needName(`${base}/${i}/struct`, m.struct, new Set(structs.keys()), "struct");
        if (pageTypes.size) {
          needName(`${base}/${i}/page_type_before`, m.page_type_before, pageTypes, "PAGE_TYPE");
          needName(`${base}/${i}/page_type_after`, m.page_type_after, pageTypes, "PAGE_TYPE");
        }
        if ((m.alignment & (m.alignment - 1)) !== 0) {
          report(loc, `${base}/${i}/alignment`, "expected a power of two");
        }
      });

    switch (it.kind) {
      case "seamcall":
      case "tdcall": {
        const prefix = it.kind === "seamcall" ? "TDH." : "TDG.";
        if (!it.name.startsWith(prefix)) {
          report(loc, "/name", `a ${it.kind} leaf's name starts with ${prefix}`);
        }
        checkLeafLike(loc, it, checkRegisters, checkStatuses, checkMemory);
        break;
      }
      case "tdvmcall":
        checkLeafLike(loc, it, checkRegisters, checkStatuses, checkMemory);
        break;
      case "struct":
        checkStruct(loc, it, structs, report);
        it.fields.forEach((f, i) => {
          needName(`/fields/${i}/bitfield`, f.bitfield, bitfields, "bitfield");
          needName(`/fields/${i}/enum`, f.enum, new Set(enums.keys()), "enum");
        });
        break;
      case "bitfield":
        checkBits(loc, "/fields", it.fields, it.width, report, enums);
        break;
      case "enum": {
        const seen = new Map<string, number>();
        it.values.forEach((v, i) => {
          const prev = seen.get(v.name);
          if (prev !== undefined) {
            report(loc, `/values/${i}/name`, `duplicate name (also /values/${prev})`);
          }
          seen.set(v.name, i);
          if (parseHex(v.value) >= 1n << BigInt(it.width)) {
            report(loc, `/values/${i}/value`, `value does not fit in ${it.width} bits`);
          }
        });
        break;
      }
      case "metadata":
        needName("/bitfield", it.bitfield, bitfields, "bitfield");
        needName("/enum", it.enum, new Set(enums.keys()), "enum");
        break;
      case "ioctl":
        checkIoctl(loc, it, structs, report);
        break;
      case "kvm_tdx_command":
        needName("/data/struct", it.data.struct, new Set(structs.keys()), "struct");
        (it.seamcalls ?? []).forEach((s, i) =>
          needName(`/seamcalls/${i}`, s, seamcalls, "SEAMCALL leaf")
        );
        break;
      default:
        break;
    }
  }
  checkMetadataEncoding(located, report);
  return out;
}

function checkLeafLike(
  _loc: Located,
  it: LeafItem | TdvmcallItem,
  checkRegisters: (r: Register[], base: string) => void,
  checkStatuses: (s: StatusUse[], base: string) => void,
  checkMemory: (m: MemoryOperand[] | undefined, base: string) => void,
) {
  checkRegisters(it.inputs, "/inputs");
  checkRegisters(it.outputs, "/outputs");
  checkStatuses(it.statuses, "/statuses");
  checkMemory(it.memory_operands, "/memory_operands");
}

function checkFileName(loc: Located, report: Report) {
  const it = loc.item;
  const kind = KINDS.find((k) => k.kind === it.kind);
  if (!kind) return;
  const expected = expectedFile(kind, it.name, it.kind === "metadata" ? it.scope : undefined);
  if (loc.file !== expected) {
    report(loc, "/name", `the item named ${it.name} belongs in spec/${expected}`);
  }
}

function checkUnique(located: Located[], report: Report) {
  const groups: { what: string; key: (it: Item) => string | undefined }[] = [
    {
      what: "name",
      key: (it) => `${it.kind === "metadata" ? `${it.kind}:${it.scope}` : it.kind}:${it.name}`,
    },
    {
      what: "SEAMCALL leaf number",
      key: (it) => (it.kind === "seamcall" ? String(it.leaf) : undefined),
    },
    {
      what: "TDCALL leaf number",
      key: (it) => (it.kind === "tdcall" ? String(it.leaf) : undefined),
    },
    {
      what: "TDVMCALL sub-function",
      key: (it) => (it.kind === "tdvmcall" ? `${it.form}:${parseHex(it.subfunction)}` : undefined),
    },
    {
      what: "status value",
      key: (it) => (it.kind === "status" ? `${it.namespace}:${parseHex(it.value)}` : undefined),
    },
    {
      what: "metadata field id",
      key: (it) => (it.kind === "metadata" ? String(parseHex(it.field_id)) : undefined),
    },
    {
      what: "ioctl number",
      key: (it) => (it.kind === "ioctl" ? String(parseHex(it.number)) : undefined),
    },
    {
      what: "KVM_TDX command id",
      key: (it) => (it.kind === "kvm_tdx_command" ? String(it.id) : undefined),
    },
  ];
  for (const g of groups) {
    const first = new Map<string, Located>();
    for (const loc of located) {
      const k = g.key(loc.item);
      if (k === undefined) continue;
      const prev = first.get(k);
      if (prev) {
        const ptr = g.what === "name" ? "/name" : "";
        report(
          loc,
          ptr,
          `duplicate ${g.what}: ${loc.item.name} and ${prev.item.name} (${prev.file})`,
        );
      } else first.set(k, loc);
    }
  }
}

function checkBits(
  loc: Located,
  base: string,
  fields: BitField[],
  width: number,
  report: Report,
  enums: Map<string, unknown>,
) {
  const taken: { lo: number; hi: number; i: number }[] = [];
  fields.forEach((f, i) => {
    const [lo, hi] = f.bits;
    if (lo > hi) {
      report(loc, `${base}/${i}/bits`, `expected [low, high] with low <= high, got [${lo}, ${hi}]`);
    }
    if (hi >= width) report(loc, `${base}/${i}/bits`, `bit ${hi} is outside a ${width}-bit value`);
    if (f.enum && !enums.has(f.enum)) report(loc, `${base}/${i}/enum`, `unknown enum "${f.enum}"`);
    for (const t of taken) {
      if (lo <= t.hi && t.lo <= hi) {
        report(
          loc,
          `${base}/${i}/bits`,
          `bits [${lo}, ${hi}] overlap ${fields[t.i].name} [${t.lo}, ${t.hi}]`,
        );
      }
    }
    taken.push({ lo, hi, i });
  });
}

function checkStruct(
  loc: Located,
  s: StructItem,
  structs: Map<string, StructItem>,
  report: Report,
) {
  const structOf = (n: string) => structs.get(n);
  const seen = new Set<string>();
  if (s.encoding === "cbor") {
    s.fields.forEach((f, i) => {
      if (f.offset !== undefined) {
        report(loc, `/fields/${i}/offset`, "CBOR fields have a key, not an offset");
      }
      if (f.struct && !structs.has(f.struct)) {
        report(loc, `/fields/${i}/struct`, `unknown struct "${f.struct}"`);
      }
    });
    return;
  }
  let cursor: number | undefined = 0;
  s.fields.forEach((f, i) => {
    const p = `/fields/${i}`;
    if (seen.has(f.name) && f.type !== "reserved") {
      report(loc, `${p}/name`, `duplicate field name ${f.name}`);
    }
    seen.add(f.name);
    if (f.type.startsWith("cbor-")) {
      report(loc, `${p}/type`, "CBOR types belong in encoding: cbor structs");
    }
    if ((f.type === "struct" || f.element === "struct") && (!f.struct || !structs.has(f.struct))) {
      report(loc, `${p}/struct`, `unknown struct "${f.struct ?? ""}"`);
    }
    if (f.type === "array" && !f.element) report(loc, p, "an array field needs an element type");
    if (
      f.type === "array" && f.count === undefined && !f.count_from && !f.rest &&
      f.size === undefined
    ) {
      report(loc, p, "an array field needs count, count_from, size or rest");
    }
    for (const ref of [f.size_from, f.count_from]) {
      if (ref === undefined) continue;
      const prior = s.fields.slice(0, i).find((x) => x.name === ref);
      if (!prior) report(loc, p, `"${ref}" must name an earlier field`);
      else if (!(prior.type in INT_SIZES)) report(loc, p, `"${ref}" must be an integer field`);
    }
    if (f.type in INT_SIZES && f.size !== undefined && f.size !== INT_SIZES[f.type]) {
      report(loc, `${p}/size`, `a ${f.type} is ${INT_SIZES[f.type]} bytes, not ${f.size}`);
    }
    if (f.type === "array" && f.count !== undefined && f.size !== undefined) {
      const el = elementSize(f, structOf);
      if (el !== undefined && el * f.count !== f.size) {
        report(
          loc,
          `${p}/size`,
          `${f.count} elements of ${el} bytes are ${el * f.count} bytes, not ${f.size}`,
        );
      }
    }
    if (f.type === "struct" && f.struct && f.size !== undefined) {
      const inner = structs.get(f.struct);
      const innerSize = inner ? fixedStructSize(inner) : undefined;
      if (innerSize !== undefined && innerSize !== f.size) {
        report(loc, `${p}/size`, `struct ${f.struct} is ${innerSize} bytes, not ${f.size}`);
      }
    }
    if (
      f.value !== undefined && f.type in INT_SIZES &&
      parseHex(f.value) >= 1n << BigInt(8 * INT_SIZES[f.type])
    ) {
      report(loc, `${p}/value`, `value does not fit in a ${f.type}`);
    }
    const size = fixedFieldSize(f, structOf);
    if (f.offset !== undefined) {
      if (cursor !== undefined && f.offset !== cursor) {
        report(
          loc,
          `${p}/offset`,
          `expected offset ${cursor} (fields are contiguous), got ${f.offset}`,
        );
      }
      cursor = f.offset;
    } else if (cursor !== undefined && s.size !== "variable") {
      report(loc, p, `missing offset (expected ${cursor})`);
    }
    if (size === undefined && s.size !== "variable") {
      report(loc, p, "a field of a fixed-size struct needs a fixed size");
    }
    if (f.rest && i !== s.fields.length - 1) {
      report(loc, p, "only the last field can take the rest");
    }
    cursor = cursor !== undefined && size !== undefined ? cursor + size : undefined;
  });
  if (typeof s.size === "number") {
    if (cursor !== undefined && cursor !== s.size) {
      report(loc, "/size", `fields add up to ${cursor} bytes, but size is ${s.size}`);
    }
  } else if (s.min_size !== undefined) {
    let fixed = 0;
    for (const f of s.fields) {
      const sz = fixedFieldSize(f, structOf);
      if (sz === undefined) break;
      fixed += sz;
    }
    if (s.min_size < fixed) {
      report(loc, "/min_size", `the fixed fields already take ${fixed} bytes`);
    }
  }
}

/** Linux's x86 _IOC: nr 7:0, type 15:8, size 29:16, dir 31:30 (write 1, read 2). */
export function iocNumber(dir: string, type: bigint, nr: bigint, size: number): bigint {
  const d = { none: 0n, write: 1n, read: 2n, readwrite: 3n }[dir] ?? 0n;
  return (d << 30n) | (BigInt(size) << 16n) | (type << 8n) | nr;
}

function checkIoctl(
  loc: Located,
  it: Extract<Item, { kind: "ioctl" }>,
  structs: Map<string, StructItem>,
  report: Report,
) {
  const expected = iocNumber(it.dir, parseHex(it.type), parseHex(it.nr), it.arg_size);
  if (expected !== parseHex(it.number)) {
    report(
      loc,
      "/number",
      `_IOC(${it.dir}, ${it.type}, ${it.nr}, ${it.arg_size}) is 0x${
        expected.toString(16).toUpperCase()
      }, not ${it.number}`,
    );
  }
  if (it.argument.type === "struct") {
    const s = it.argument.struct ? structs.get(it.argument.struct) : undefined;
    if (!s) {
      report(loc, "/argument/struct", `unknown struct "${it.argument.struct ?? ""}"`);
    } else if (it.dir !== "none") {
      const size = fixedStructSize(s) ?? s.min_size;
      if (size !== undefined && size !== it.arg_size) {
        report(
          loc,
          "/arg_size",
          `struct ${s.name} is ${size} bytes, but the _IOC size is ${it.arg_size}`,
        );
      }
    }
  }
}

/**
 * Field ids must agree with the MD_FIELD_ID encoding: the context code with the
 * scope, the element-size code with element_size.
 */
function checkMetadataEncoding(located: Located[], report: Report) {
  const enc = located.find((l) => l.item.kind === "bitfield" && l.item.name === "MD_FIELD_ID")
    ?.item;
  const ctx = located.find((l) => l.item.kind === "enum" && l.item.name === "MD_CONTEXT_CODE")
    ?.item;
  if (!enc || enc.kind !== "bitfield") return;
  const fieldBits = (n: string) => enc.fields.find((f) => f.name === n)?.bits;
  const get = (v: bigint, bits: [number, number]) =>
    (v >> BigInt(bits[0])) & ((1n << BigInt(bits[1] - bits[0] + 1)) - 1n);
  const sizeBits = fieldBits("ELEMENT_SIZE_CODE");
  const ctxBits = fieldBits("CONTEXT_CODE");
  const scopeOf = new Map<bigint, string>();
  if (ctx && ctx.kind === "enum") {
    for (const v of ctx.values) {
      const n = v.name.toUpperCase();
      const scope = n.includes("VCPU") || n.includes("VP")
        ? "vcpu"
        : n.includes("TD")
        ? "td"
        : "global";
      scopeOf.set(parseHex(v.value), scope);
    }
  }
  for (const loc of located) {
    const it = loc.item;
    if (it.kind !== "metadata") continue;
    const id = parseHex(it.field_id);
    if (it.num_fields !== undefined && it.elements % it.num_fields !== 0) {
      report(
        loc,
        "/num_fields",
        `${it.elements} elements do not split into ${it.num_fields} fields`,
      );
    }
    if (sizeBits) {
      const code = get(id, sizeBits);
      if (1n << code !== BigInt(it.element_size)) {
        report(
          loc,
          "/field_id",
          `ELEMENT_SIZE_CODE ${code} means ${
            1n << code
          }-byte elements, but element_size is ${it.element_size}`,
        );
      }
    }
    if (ctxBits && scopeOf.size) {
      const scope = scopeOf.get(get(id, ctxBits));
      if (scope !== undefined && scope !== it.scope) {
        report(
          loc,
          "/field_id",
          `CONTEXT_CODE ${get(id, ctxBits)} is ${scope} scope, but the item says ${it.scope}`,
        );
      }
    }
  }
}
