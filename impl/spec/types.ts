// Types of the spec items as the JSON Schemas in spec/schema/ define them.

export type Source =
  | { doc: string; section: string; note?: string }
  | { repo: string; path: string; ref?: string; symbol?: string; note?: string };

export interface ItemBase {
  kind: string;
  name: string;
  stability: "stable" | "provisional";
  provisional_reason?: string;
  description: string;
  sources: Source[];
  notes?: string[];
  since?: string;
}

export interface BitField {
  name: string;
  bits: [number, number];
  reserved?: boolean;
  enum?: string;
  description?: string;
}

export interface Register {
  reg: string;
  name: string;
  type: "u64" | "hpa" | "gpa" | "status" | "field_id" | "bits" | "reserved" | "unmodified";
  bitfield?: string;
  fields?: BitField[];
  operand_id?: string;
  condition?: string;
  description: string;
}

export interface MemoryOperand {
  name: string;
  register: string;
  size: number;
  alignment: number;
  memory: string;
  access: string;
  struct?: string;
  page_type_before?: string;
  page_type_after?: string;
  description?: string;
}

export interface StatusUse {
  status: string;
  operand?: string;
  when: string;
  order?: number;
  /** Why the baseline module can never return it from this leaf (coverage lists it apart). */
  unreachable?: string;
}

export interface LeafItem extends ItemBase {
  kind: "seamcall" | "tdcall";
  leaf: number;
  version: number;
  category: string;
  implemented?: boolean;
  interruptible?: boolean;
  inputs: Register[];
  outputs: Register[];
  memory_operands?: MemoryOperand[];
  statuses: StatusUse[];
  preconditions?: string[];
  effects?: string[];
  dispatch?: { before_sys_ready?: boolean; during_shutdown?: boolean };
}

export interface TdvmcallItem extends ItemBase {
  kind: "tdvmcall";
  subfunction: string;
  form: "ghci-leaf" | "instruction";
  inputs: Register[];
  outputs: Register[];
  memory_operands?: MemoryOperand[];
  statuses: StatusUse[];
  linux?: { symbol: string; path: string; kvm_handling?: string };
}

export interface StatusItem extends ItemBase {
  kind: "status";
  namespace: "tdx" | "tdvmcall";
  value: string;
  detail?: string;
  linux?: { symbol: string; value: string; path: string; mask_note?: string };
  disagreement?: string;
}

export interface EnumItem extends ItemBase {
  kind: "enum";
  width: number;
  values: { name: string; value: string; description?: string }[];
}

export interface BitfieldItem extends ItemBase {
  kind: "bitfield";
  width: number;
  fields: BitField[];
}

export type FieldType =
  | "u8"
  | "u16"
  | "u32"
  | "u64"
  | "bytes"
  | "reserved"
  | "char"
  | "struct"
  | "array"
  | "cbor-int"
  | "cbor-bstr"
  | "cbor-tstr"
  | "cbor-map"
  | "cbor-array"
  | "cbor-any";

export interface StructField {
  name: string;
  offset?: number;
  size?: number;
  size_from?: string;
  rest?: boolean;
  type: FieldType;
  endian?: "little" | "big";
  struct?: string;
  element?: "u8" | "u16" | "u32" | "u64" | "struct";
  count?: number;
  count_from?: string;
  bitfield?: string;
  enum?: string;
  value?: string;
  key?: number | string;
  optional?: boolean;
  provisional?: string;
  description?: string;
}

export interface StructItem extends ItemBase {
  kind: "struct";
  encoding?: "binary" | "cbor";
  size: number | "variable";
  min_size?: number;
  alignment?: number;
  fields: StructField[];
}

export interface MetadataItem extends ItemBase {
  kind: "metadata";
  scope: "global" | "td" | "vcpu";
  class: string;
  field_id: string;
  element_size: 1 | 2 | 4 | 8;
  elements: number;
  /** Fields of an array field (default 1); elements / num_fields elements each. */
  num_fields?: number;
  host_access: string;
  guest_access: string;
  /** A bound service TD's access (TDG.SERVTD.RD/WR); absent means none. */
  servtd_access?: string;
  /** Partial read/write masks (hex) where the access classes do not say it all. */
  masks?: Partial<
    Record<
      | "host_read"
      | "host_write"
      | "debug_read"
      | "debug_write"
      | "guest_read"
      | "guest_write"
      | "servtd_read"
      | "servtd_write",
      string
    >
  >;
  /** Writes must cover every writable bit (TDX_METADATA_WR_MASK_NOT_VALID otherwise). */
  full_write_only?: boolean;
  bitfield?: string;
  enum?: string;
  linux?: { symbol: string; path: string };
}

export interface Errno {
  errno: string;
  when: string;
}

export interface IoctlItem extends ItemBase {
  kind: "ioctl";
  number: string;
  fd: string;
  dir: "none" | "read" | "write" | "readwrite";
  type: string;
  nr: string;
  arg_size: number;
  argument: { type: "none" | "int" | "struct"; struct?: string; description: string };
  returns?: string;
  tdx_values?: { name: string; value: string; description?: string }[];
  errors: Errno[];
  restrictions?: string[];
}

export interface KvmTdxCommandItem extends ItemBase {
  kind: "kvm_tdx_command";
  id: number;
  fd: string;
  data: { type: string; struct?: string; description: string };
  flags: { name: string; value: string; description?: string }[];
  errors: Errno[];
  hw_error: string;
  seamcalls?: string[];
  order?: string;
}

export interface GuestInterfaceItem extends ItemBase {
  kind: "guest_interface";
  path: string;
  interface: string;
  access: string;
  format: string;
  max_size?: number;
  errors?: Errno[];
}

export type Item =
  | LeafItem
  | TdvmcallItem
  | StatusItem
  | EnumItem
  | BitfieldItem
  | StructItem
  | MetadataItem
  | IoctlItem
  | KvmTdxCommandItem
  | GuestInterfaceItem;

/** Where an item came from, for diagnostics and docs. */
export interface Located<T extends Item = Item> {
  item: T;
  /** Path relative to the spec root, e.g. "seamcall/tdh.mng.create.yaml". */
  file: string;
  /** Resolves a JSON pointer inside the item to a 1-based line and column. */
  position(pointer: string): { line: number; col: number };
}

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  pointer: string;
  message: string;
}
