"""TDVF parsing and MRTD, from the spec document alone (measure layer of the example adapter).

The checks follow the same order as the suite's launcher (which follows QEMU), so a
damaged image is refused with the same error class and field.
"""
import hashlib

PAGE = 4096
COPIED = {"BFV", "CFV"}
EMPTY = {"TD_HOB", "TEMP_MEM"}
MIN_SECTIONS = 2


class FirmwareError(Exception):
    def __init__(self, kind, field):
        super().__init__(f"{kind} at {field}")
        self.kind = kind
        self.field = field


class Layout:
    """Field offsets, sizes and fixed values of the spec's structs."""

    def __init__(self, spec_doc):
        self.structs = {s["name"]: s for s in spec_doc["structs"]}
        self.enums = {e["name"]: {int(v["value"], 16): v["name"] for v in e["values"]} for e in spec_doc["enums"]}
        self.bitfields = {b["name"]: b["fields"] for b in spec_doc["bitfields"]}

    def field(self, struct, name):
        return next(f for f in self.structs[struct]["fields"] if f["name"] == name)

    def size(self, struct):
        return self.structs[struct]["size"]

    def read(self, image, at, struct, name):
        f = self.field(struct, name)
        return int.from_bytes(image[at + f["offset"]:at + f["offset"] + f["size"]], "little")

    def fixed_bytes(self, struct):
        """The bytes of a struct whose fields all have fixed values (a GUID)."""
        out = b""
        for f in self.structs[struct]["fields"]:
            out += int(f["value"], 16).to_bytes(f["size"], "big" if f.get("endian") == "big" else "little")
        return out

    def record(self, struct, gpa):
        """A 128-byte MRTD record header: fixed fields, the GPA, zeros."""
        buf = bytearray(128)
        for f in self.structs[struct]["fields"]:
            if f.get("offset", 128) >= 128:
                continue
            if f.get("value") is not None:
                buf[f["offset"]:f["offset"] + f["size"]] = int(f["value"], 16).to_bytes(f["size"], "little")
            if f["name"] == "gpa":
                buf[f["offset"]:f["offset"] + 8] = gpa.to_bytes(8, "little")
        return bytes(buf)


def ovmf_entries(L, image):
    if len(image) < PAGE:
        raise FirmwareError("not-tdvf", "image")
    footer_at = len(image) - L.size("OVMF_IMAGE_TAIL") + L.field("OVMF_IMAGE_TAIL", "table_footer")["offset"]
    g = L.field("OVMF_TABLE_FOOTER", "guid")
    if image[footer_at + g["offset"]:footer_at + g["offset"] + g["size"]] != L.fixed_bytes("OVMF_TABLE_FOOTER_GUID"):
        raise FirmwareError("not-tdvf", "OVMF_TABLE_FOOTER.guid")
    footer_size = L.size("OVMF_TABLE_FOOTER")
    left = L.read(image, footer_at, "OVMF_TABLE_FOOTER", "table_length") - footer_size
    if left < 0 or left > footer_at:
        raise FirmwareError("truncated", "OVMF_TABLE_FOOTER.table_length")
    tail_len = L.size("OVMF_TABLE_ENTRY")
    eg = L.field("OVMF_TABLE_ENTRY", "guid")
    end = footer_at
    entries, corrupt = [], False
    while left >= tail_len:
        tail = end - tail_len
        length = L.read(image, tail, "OVMF_TABLE_ENTRY", "entry_length")
        if length < tail_len or length > left:
            corrupt = True
            break
        entries.append((image[tail + eg["offset"]:tail + eg["offset"] + eg["size"]], end - length, length))
        end -= length
        left -= length
    return entries, corrupt


def parse_tdvf(L, image):
    entries, corrupt = ovmf_entries(L, image)
    want = L.fixed_bytes("TDX_METADATA_OFFSET_GUID")
    entry = next((e for e in entries if e[0] == want), None)
    if entry is None:
        raise FirmwareError("not-tdvf", "OVMF_TABLE_ENTRY.entry_length" if corrupt else "TDX_METADATA_OFFSET_ENTRY.guid")
    _, entry_at, entry_len = entry
    if entry_len != L.size("TDX_METADATA_OFFSET_ENTRY"):
        raise FirmwareError("invalid", "TDX_METADATA_OFFSET_ENTRY.entry_length")
    metadata_offset = L.read(image, entry_at, "TDX_METADATA_OFFSET_ENTRY", "metadata_offset")
    at = len(image) - metadata_offset
    D = "TDVF_DESCRIPTOR"
    header = L.field(D, "sections")["offset"]
    if metadata_offset > len(image) or at + header > len(image):
        raise FirmwareError("truncated", "TDX_METADATA_OFFSET_ENTRY.metadata_offset")
    if L.read(image, at, D, "signature") != int(L.field(D, "signature")["value"], 16):
        raise FirmwareError("not-tdvf", D + ".signature")
    length = L.read(image, at, D, "length")
    if at + length > len(image):
        raise FirmwareError("truncated", D + ".length")
    if L.read(image, at, D, "version") != int(L.field(D, "version")["value"], 16):
        raise FirmwareError("invalid", D + ".version")
    count = L.read(image, at, D, "number_of_section_entries")
    if count < MIN_SECTIONS:
        raise FirmwareError("invalid", D + ".number_of_section_entries")
    ssize = L.size("TDVF_SECTION")
    if length != header + count * ssize:
        raise FirmwareError("invalid", D + ".length")
    types = L.enums["TDVF_SECTION_TYPE"]
    mr_extend = next(f for f in L.bitfields["TDVF_SECTION_ATTRIBUTES"] if f["name"] == "MR_EXTEND")["bits"][0]
    sections = []
    for i in range(count):
        base = at + header + i * ssize
        s = {k: L.read(image, base, "TDVF_SECTION", k)
             for k in ("data_offset", "raw_data_size", "memory_address", "memory_data_size", "type", "attributes")}
        s["index"] = i
        s["type_name"] = types.get(s["type"], "unknown")
        s["measured"] = bool((s["attributes"] >> mr_extend) & 1)
        name = "TDVF_SECTION[%d]." % i
        if s["memory_data_size"] < s["raw_data_size"]:
            raise FirmwareError("invalid", name + "memory_data_size")
        if s["memory_address"] % PAGE:
            raise FirmwareError("invalid", name + "memory_address")
        if s["memory_data_size"] % PAGE:
            raise FirmwareError("invalid", name + "memory_data_size")
        if s["type_name"] in COPIED:
            if s["raw_data_size"] == 0:
                raise FirmwareError("invalid", name + "raw_data_size")
        elif s["type_name"] in EMPTY:
            if s["raw_data_size"] != 0:
                raise FirmwareError("invalid", name + "raw_data_size")
        else:
            raise FirmwareError("bad-section-type", name + "type")
        if s["data_offset"] + s["raw_data_size"] > len(image):
            raise FirmwareError("truncated", name + "data_offset")
        sections.append(s)
    by_addr = sorted(sections, key=lambda s: s["memory_address"])
    for prev, cur in zip(by_addr, by_addr[1:]):
        if cur["memory_address"] < prev["memory_address"] + prev["memory_data_size"]:
            later = max(prev, cur, key=lambda s: s["index"])
            raise FirmwareError("overlap", "TDVF_SECTION[%d].memory_address" % later["index"])
    if not any(s["type_name"] == "TD_HOB" for s in sections):
        raise FirmwareError("missing-section", D + ".sections")
    return sections


def mrtd(L, image, sections):
    """Every section's pages added in metadata order; MR_EXTEND sections also extended in chunks."""
    chunk = L.field("MR_EXTEND_RECORD", "chunk")["size"]
    h = hashlib.sha384()
    for s in sections:
        for i in range(s["memory_data_size"] // PAGE):
            gpa = s["memory_address"] + i * PAGE
            h.update(L.record("MEM_PAGE_ADD_RECORD", gpa))
            if not s["measured"]:
                continue
            start = i * PAGE
            data = image[s["data_offset"] + start:s["data_offset"] + min(start + PAGE, s["raw_data_size"])] \
                if start < s["raw_data_size"] else b""
            page = data.ljust(PAGE, b"\0")
            for off in range(0, PAGE, chunk):
                h.update(L.record("MR_EXTEND_RECORD", gpa + off))
                h.update(page[off:off + chunk])
    return h.hexdigest()


def measure_step(L, root, inp):
    import os
    try:
        with open(os.path.join(root, inp["image"]), "rb") as fh:
            image = fh.read()
    except OSError:
        return {"error": {"class": "missing-input", "file": inp["image"]}}
    if inp.get("sha256") and hashlib.sha256(image).hexdigest() != inp["sha256"]:
        return {"error": {"class": "input-mismatch", "file": inp["image"]}}
    image = bytearray(image[:inp["truncate"]] if "truncate" in inp else image)
    for p in inp.get("patch", []):
        b = bytes.fromhex(p["bytes"])
        image[p["offset"]:p["offset"] + len(b)] = b
    image = bytes(image)
    try:
        sections = parse_tdvf(L, image)
    except FirmwareError as e:
        return {"error": {"class": e.kind, "field": e.field}}
    return {
        "mrtd": mrtd(L, image, sections),
        "sections": [{
            "type": s["type_name"],
            "memory_address": "0x%X" % s["memory_address"],
            "memory_data_size": "0x%X" % s["memory_data_size"],
            "measured": s["measured"],
        } for s in sections],
    }
