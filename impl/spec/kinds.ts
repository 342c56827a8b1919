// Which folder of spec/ holds which kind of item, and which schema validates it.

export interface KindInfo {
  kind: string;
  folder: string;
  schemaId: string;
  /** The key under which `deno task spec --json` lists the items. */
  jsonKey: string;
}

const SCHEMA = "https://tdx-conformance.dev/schema/";

export const KINDS: readonly KindInfo[] = [
  { kind: "seamcall", folder: "seamcall", schemaId: `${SCHEMA}leaf/v1`, jsonKey: "seamcall" },
  { kind: "tdcall", folder: "tdcall", schemaId: `${SCHEMA}leaf/v1`, jsonKey: "tdcall" },
  { kind: "tdvmcall", folder: "tdvmcall", schemaId: `${SCHEMA}tdvmcall/v1`, jsonKey: "tdvmcall" },
  { kind: "status", folder: "status", schemaId: `${SCHEMA}status/v1`, jsonKey: "status" },
  { kind: "struct", folder: "struct", schemaId: `${SCHEMA}struct/v1`, jsonKey: "structs" },
  { kind: "metadata", folder: "metadata", schemaId: `${SCHEMA}metadata/v1`, jsonKey: "metadata" },
  { kind: "bitfield", folder: "bitfield", schemaId: `${SCHEMA}bitfield/v1`, jsonKey: "bitfields" },
  { kind: "enum", folder: "enum", schemaId: `${SCHEMA}enum/v1`, jsonKey: "enums" },
  { kind: "ioctl", folder: "ioctl", schemaId: `${SCHEMA}ioctl/v1`, jsonKey: "ioctls" },
  {
    kind: "kvm_tdx_command",
    folder: "kvm_tdx",
    schemaId: `${SCHEMA}kvm_tdx_command/v1`,
    jsonKey: "kvm_tdx_commands",
  },
  {
    kind: "guest_interface",
    folder: "guest_if",
    schemaId: `${SCHEMA}guest_interface/v1`,
    jsonKey: "guest_interfaces",
  },
];

export function kindForFolder(folder: string): KindInfo | undefined {
  return KINDS.find((k) => k.folder === folder);
}

/** The file name an item must have: its name in lower case, in its kind's folder. */
export function expectedFile(kind: KindInfo, name: string, scope?: string): string {
  const base = `${name.toLowerCase()}.yaml`;
  return scope ? `${kind.folder}/${scope}/${base}` : `${kind.folder}/${base}`;
}
