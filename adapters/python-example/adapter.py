#!/usr/bin/env python3
"""Example TDX conformance adapter in Python 3 (standard library only).

It speaks the runner's JSON-lines protocol (runner/protocol/adapter-protocol.schema.json)
on stdin/stdout and implements, from the published spec document alone
(docs/spec.json, or the file given with --spec):
  - the struct layer: decode and encode any binary struct by its layout;
  - the measure layer: the MRTD of a TDVF image;
  - the attest layer's parse op: the fields of a TD quote v4 or v5.
It shows that the protocol and the spec are language-neutral.

Run it with the suite:
  deno task conformance --impl 'python3 adapters/python-example/adapter.py'
"""
import argparse
import json
import os
import sys

from tdvf_measure import Layout, measure_step
from quote_parse import parse_quote

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SPEC = os.path.join(HERE, "..", "..", "docs", "spec.json")
INT_SIZES = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}


class CodecError(Exception):
    def __init__(self, cls, field):
        super().__init__(f"{cls} at {field}")
        self.cls = cls
        self.field = field


class Spec:
    def __init__(self, doc):
        self.structs = {s["name"]: s for s in doc["structs"]}
        self.enums = {e["name"]: {v["name"]: int(v["value"], 16) for v in e["values"]} for e in doc["enums"]}

    def fixed_size(self, name):
        s = self.structs[name]
        if s.get("encoding") == "cbor" or s["size"] == "variable":
            return None
        return s["size"]

    def field_size(self, f):
        if f.get("size_from") or f.get("count_from") or f.get("rest"):
            return None
        if f.get("size") is not None:
            return f["size"]
        if f["type"] in INT_SIZES:
            return INT_SIZES[f["type"]]
        if f["type"] == "struct":
            return self.fixed_size(f["struct"])
        return None

    def element_size(self, f):
        if f.get("element") == "struct":
            return self.fixed_size(f["struct"])
        return INT_SIZES.get(f.get("element"))


def fmt_int(v):
    return "0x%X" % v


def decode(spec, name, data):
    """Returns (flat fields dict, size consumed); flat paths like the vectors use."""
    s = spec.structs[name]
    fixed = spec.fixed_size(name)
    if fixed is not None and len(data) < fixed:
        raise CodecError("truncated", name)
    out = {}
    values = {}
    off = 0
    seen = set()
    reserved_index = 0
    for f in s["fields"]:
        key = f["name"]
        if f["type"] == "reserved" and key in seen:
            reserved_index += 1
            key = "%s_%d" % (key, reserved_index)
        seen.add(f["name"])
        left = len(data) - off
        if f.get("rest"):
            size = left
        elif f.get("size_from"):
            size = values[f["size_from"]]
        elif f.get("count_from"):
            size = values[f["count_from"]] * spec.element_size(f)
        else:
            size = spec.field_size(f)
        if size is None and f["type"] == "struct":
            sub, used = decode(spec, f["struct"], data[off:])
            for k, v in sub.items():
                out[key + "." + k] = v
            off += used
            continue
        if off + size > len(data):
            raise CodecError("truncated", name + "." + f["name"])
        chunk = data[off:off + size]
        t = f["type"]
        if t in INT_SIZES:
            v = int.from_bytes(chunk, "big" if f.get("endian") == "big" else "little")
            if f.get("value") is not None and v != int(f["value"], 16):
                raise CodecError("invalid-value", name + "." + f["name"])
            values[f["name"]] = v
            out[key] = fmt_int(v)
        elif t == "char":
            text = chunk.split(b"\0", 1)[0].decode("latin-1")
            out[key] = "str:" + text
        elif t == "struct":
            sub, _ = decode(spec, f["struct"], chunk)
            for k, v in sub.items():
                out[key + "." + k] = v
        elif t == "array":
            el = spec.element_size(f)
            for i in range(size // el):
                piece = chunk[i * el:(i + 1) * el]
                if f["element"] == "struct":
                    sub, _ = decode(spec, f["struct"], piece)
                    for k, v in sub.items():
                        out["%s.%d.%s" % (key, i, k)] = v
                else:
                    out["%s.%d" % (key, i)] = fmt_int(int.from_bytes(piece, "little"))
        else:
            out[key] = "hex:" + chunk.hex()
        off += size
    return out, (fixed if fixed is not None else off)


def parse_value(text):
    if text.startswith("0x"):
        return int(text, 16)
    if text.startswith("hex:"):
        return bytes.fromhex(text[4:])
    if text.startswith("str:"):
        return text[4:].encode("latin-1")
    raise ValueError("not a vector value: " + text[:40])


def encode(spec, name, flat, prefix=""):
    s = spec.structs[name]
    parts = []
    seen = set()
    reserved_index = 0
    lengths = {}
    for f in s["fields"]:
        key = f["name"]
        if f["type"] == "reserved" and key in seen:
            reserved_index += 1
            key = "%s_%d" % (key, reserved_index)
        seen.add(f["name"])
        path = prefix + key
        t = f["type"]
        size = spec.field_size(f)
        if t in INT_SIZES:
            v = parse_value(flat[path])
            parts.append(v.to_bytes(INT_SIZES[t], "big" if f.get("endian") == "big" else "little"))
        elif t == "struct":
            parts.append(encode(spec, f["struct"], flat, path + "."))
        elif t == "array":
            i = 0
            chunk = b""
            while any(k == "%s.%d" % (path, i) or k.startswith("%s.%d." % (path, i)) for k in flat):
                if f["element"] == "struct":
                    chunk += encode(spec, f["struct"], flat, "%s.%d." % (path, i))
                else:
                    chunk += parse_value(flat["%s.%d" % (path, i)]).to_bytes(INT_SIZES[f["element"]], "little")
                i += 1
            parts.append(chunk)
        elif t == "char":
            raw = parse_value(flat[path])
            parts.append(raw.ljust(size, b"\0"))
        else:
            parts.append(parse_value(flat[path]))
        lengths[f["name"]] = len(parts[-1])
    out = b"".join(parts)
    fixed = spec.fixed_size(name)
    if fixed is not None and len(out) != fixed:
        raise CodecError("invalid-value", name)
    return out


def struct_step(spec, op, inp):
    name = inp.get("struct")
    if name not in spec.structs:
        return {"error": {"class": "unknown-struct", "struct": name}}
    try:
        if op == "struct.decode":
            fields, size = decode(spec, name, bytes.fromhex(inp["bytes"]))
            return {"size": size, "fields": fields}
        return {"bytes": encode(spec, name, inp["fields"]).hex()}
    except CodecError as e:
        return {"error": {"class": e.cls, "field": e.field}}
    except (KeyError, ValueError, OverflowError) as e:
        return {"error": {"class": "invalid-input", "detail": str(e)}}


def quote_input(root, inp):
    """The quote bytes of an attest step: a file under the suite or hex, then cut or bit-flipped."""
    if "quote_hex" in inp:
        data = bytes.fromhex(inp["quote_hex"])
    else:
        with open(os.path.join(root, inp["quote"]), "rb") as fh:
            data = fh.read()
    if "quote_truncate" in inp:
        data = data[:inp["quote_truncate"]]
    data = bytearray(data)
    for p in inp.get("quote_patch", []):
        for i, b in enumerate(bytes.fromhex(p["xor"])):
            data[p["offset"] + i] ^= b
    return bytes(data)


def parse_step(spec, root, inp):
    return parse_quote(spec, decode, quote_input(root, inp))


OPS = ["struct.decode", "struct.encode", "measure.tdvf", "attest.parse"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", default=DEFAULT_SPEC, help="the spec document (deno task spec --json)")
    args = ap.parse_args()
    with open(args.spec, encoding="utf-8") as fh:
        doc = json.load(fh)
    spec = Spec(doc)
    layout = Layout(doc)
    root = os.path.join(HERE, "..", "..")
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        t = msg.get("type")
        if t == "start":
            reply = {
                "type": "ready",
                "protocol": 1,
                "implementation": {"name": "python-example", "version": "0.1.0", "language": "Python 3"},
                "capabilities": {"layers": ["struct", "measure", "attest"], "ops": OPS},
            }
        elif t == "run":
            seq = msg["seq"]
            vector = msg["vector"]
            try:
                steps = []
                for step in vector["steps"]:
                    if step["op"] not in OPS:
                        raise NotImplementedError(step["op"])
                    if step["op"] == "measure.tdvf":
                        steps.append(measure_step(layout, root, step["input"]))
                    elif step["op"] == "attest.parse":
                        steps.append(parse_step(spec, root, step["input"]))
                    else:
                        steps.append(struct_step(spec, step["op"], step["input"]))
                reply = {"type": "result", "seq": seq, "steps": steps}
            except NotImplementedError as e:
                reply = {"type": "skipped", "seq": seq, "reason": "op %s is not implemented" % e}
            except Exception as e:  # report, never die: the runner counts it as errored
                reply = {"type": "errored", "seq": seq, "message": "%s: %s" % (type(e).__name__, e)}
        elif t == "stop":
            return
        else:
            continue
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
