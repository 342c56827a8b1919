// The loaded spec as indexed maps: the one place the implementation asks for a leaf
// number, a status value, a struct layout or a field id.
import type {
  BitfieldItem,
  EnumItem,
  GuestInterfaceItem,
  IoctlItem,
  Item,
  KvmTdxCommandItem,
  LeafItem,
  Located,
  MetadataItem,
  StatusItem,
  StructItem,
  TdvmcallItem,
} from "./types.ts";
import { parseHex } from "./hex.ts";

export class Spec {
  readonly seamcalls = new Map<string, LeafItem>();
  readonly tdcalls = new Map<string, LeafItem>();
  readonly tdvmcalls = new Map<string, TdvmcallItem>();
  readonly statuses = new Map<string, StatusItem>();
  readonly structs = new Map<string, StructItem>();
  readonly metadata = new Map<string, MetadataItem>();
  readonly bitfields = new Map<string, BitfieldItem>();
  readonly enums = new Map<string, EnumItem>();
  readonly ioctls = new Map<string, IoctlItem>();
  readonly kvmTdxCommands = new Map<string, KvmTdxCommandItem>();
  readonly guestInterfaces = new Map<string, GuestInterfaceItem>();
  readonly files = new Map<Item, string>();

  constructor(readonly located: Located[]) {
    for (const { item, file } of located) {
      this.files.set(item, file);
      switch (item.kind) {
        case "seamcall":
          this.seamcalls.set(item.name, item);
          break;
        case "tdcall":
          this.tdcalls.set(item.name, item);
          break;
        case "tdvmcall":
          this.tdvmcalls.set(item.name, item);
          break;
        case "status":
          this.statuses.set(item.name, item);
          break;
        case "struct":
          this.structs.set(item.name, item);
          break;
        case "metadata":
          this.metadata.set(metadataKey(item.scope, item.name), item);
          break;
        case "bitfield":
          this.bitfields.set(item.name, item);
          break;
        case "enum":
          this.enums.set(item.name, item);
          break;
        case "ioctl":
          this.ioctls.set(item.name, item);
          break;
        case "kvm_tdx_command":
          this.kvmTdxCommands.set(item.name, item);
          break;
        case "guest_interface":
          this.guestInterfaces.set(item.name, item);
          break;
      }
    }
  }

  private need<T>(map: Map<string, T>, name: string, what: string): T {
    const v = map.get(name);
    if (v === undefined) throw new SpecLookupError(`the spec has no ${what} named ${name}`);
    return v;
  }

  seamcall(name: string): LeafItem {
    return this.need(this.seamcalls, name, "SEAMCALL leaf");
  }
  tdcall(name: string): LeafItem {
    return this.need(this.tdcalls, name, "TDCALL leaf");
  }
  tdvmcall(name: string): TdvmcallItem {
    return this.need(this.tdvmcalls, name, "TDVMCALL");
  }
  status(name: string): StatusItem {
    return this.need(this.statuses, name, "status");
  }
  /** The 64-bit value of a status, detail bits zero. */
  statusValue(name: string): bigint {
    return parseHex(this.status(name).value);
  }
  struct(name: string): StructItem {
    return this.need(this.structs, name, "struct");
  }
  bitfield(name: string): BitfieldItem {
    return this.need(this.bitfields, name, "bitfield");
  }
  enum(name: string): EnumItem {
    return this.need(this.enums, name, "enum");
  }
  enumValue(enumName: string, valueName: string): bigint {
    const e = this.enum(enumName);
    const v = e.values.find((x) => x.name === valueName);
    if (!v) throw new SpecLookupError(`enum ${enumName} has no value ${valueName}`);
    return parseHex(v.value);
  }
  metadataField(scope: "global" | "td" | "vcpu", name: string): MetadataItem {
    return this.need(this.metadata, metadataKey(scope, name), `${scope} metadata field`);
  }
  ioctl(name: string): IoctlItem {
    return this.need(this.ioctls, name, "ioctl");
  }
  kvmTdxCommand(name: string): KvmTdxCommandItem {
    return this.need(this.kvmTdxCommands, name, "KVM_TDX command");
  }
  guestInterface(name: string): GuestInterfaceItem {
    return this.need(this.guestInterfaces, name, "guest interface");
  }
}

export function metadataKey(scope: string, name: string): string {
  return `${scope}:${name}`;
}

export class SpecLookupError extends Error {
  override name = "SpecLookupError";
}
