// A user process in the guest: a file-descriptor table over the driver's files and
// the system calls a test or tool uses. Calls that may wait for the host (reading a
// configfs-tsm outblob) are generators, so every call is one for uniformity.
import { err, ok, type SysResult } from "./errno.ts";
import type { GuestKernel } from "./kernel.ts";
import type { MeasurementFile } from "./measurements.ts";
import type { TsmReport } from "./tsm_report.ts";
import type { Task } from "./tdx_guest.ts";
import { UserMemory } from "./user_memory.ts";

type Gen<T> = Generator<void, SysResult<T>, void>;

/** A call that completes without waiting, in the generator form every call has. */
// deno-lint-ignore require-yield
function* now<T>(r: SysResult<T>): Gen<T> {
  return r;
}
export type OpenMode = "r" | "w" | "rw";

type Node =
  | { kind: "device" }
  | { kind: "measurement"; file: MeasurementFile }
  | { kind: "tsm-text"; report: TsmReport; attr: "generation" | "provider" }
  | { kind: "tsm-bin"; report: TsmReport; attr: "inblob" | "outblob" };

interface OpenFile {
  node: Node;
  mode: OpenMode;
  pos: number;
  /** configfs buffers: what was written (applied at close) or what reads are served from. */
  writeBuffer?: Uint8Array;
  readBuffer?: Uint8Array;
}

/** /sys/class/misc/tdx_guest is a link to the device directory. */
const CLASS_LINK = "/sys/class/misc/tdx_guest/";
const DEVICE_DIR = "/sys/devices/virtual/misc/tdx_guest/";

export class Process implements Task {
  readonly memory = new UserMemory();
  signalPending = false;
  private readonly files = new Map<number, OpenFile>();
  private nextFd = 3;

  constructor(readonly kernel: GuestKernel) {}

  private lookup(path: string): SysResult<Node> {
    const k = this.kernel;
    if (path.startsWith(CLASS_LINK)) path = DEVICE_DIR + path.slice(CLASS_LINK.length);
    if (k.device && path === k.device.path) return ok({ kind: "device" });
    const m = k.measurements?.file(path);
    if (m) return ok({ kind: "measurement", file: m });
    const prefix = `${k.tsm.root}/`;
    if (path.startsWith(prefix)) {
      const [name, attr, ...rest] = path.slice(prefix.length).split("/");
      const report = k.tsm.reports.get(name);
      if (!report || rest.length || !attr || !k.tsm.visible(attr)) return err("ENOENT");
      if (attr === "generation" || attr === "provider") {
        return ok({ kind: "tsm-text", report, attr });
      }
      if (attr === "inblob" || attr === "outblob") return ok({ kind: "tsm-bin", report, attr });
    }
    return err("ENOENT");
  }

  *open(path: string, mode: OpenMode): Gen<number> {
    return yield* now(this.openNow(path, mode));
  }

  private openNow(path: string, mode: OpenMode): SysResult<number> {
    const n = this.lookup(path);
    if (!n.ok) return n;
    const node = n.value;
    const wantsWrite = mode !== "r";
    const wantsRead = mode !== "w";
    if (
      node.kind === "measurement" && wantsWrite && !this.kernel.measurements!.writable(node.file)
    ) {
      return err("EACCES");
    }
    if (node.kind === "tsm-text" && wantsWrite) return err("EACCES");
    if (node.kind === "tsm-bin") {
      if (node.attr === "outblob" && wantsWrite) return err("EACCES");
      if (node.attr === "inblob" && wantsRead) return err("EACCES");
    }
    const fd = this.nextFd++;
    this.files.set(fd, { node, mode, pos: 0 });
    return ok(fd);
  }

  *read(fd: number, count: number): Gen<Uint8Array> {
    const f = this.files.get(fd);
    if (!f) return err("EBADF");
    const r = yield* this.pread(fd, count, f.pos);
    if (r.ok) f.pos += r.value.length;
    return r;
  }

  *pread(fd: number, count: number, offset: number): Gen<Uint8Array> {
    const f = this.files.get(fd);
    if (!f || f.mode === "w") return err("EBADF");
    const node = f.node;
    switch (node.kind) {
      case "device":
        return err("EINVAL");
      case "measurement":
        return this.kernel.measurements!.read(this, node.file, offset, count);
      case "tsm-text": {
        if (!f.readBuffer) {
          const text = node.attr === "generation"
            ? ok(this.kernel.tsm.generation(node.report))
            : this.kernel.tsm.providerName();
          if (!text.ok) return text;
          f.readBuffer = new TextEncoder().encode(text.value);
        }
        return ok(f.readBuffer.slice(offset, offset + count));
      }
      case "tsm-bin": {
        if (f.writeBuffer) return err("ETXTBSY");
        if (!f.readBuffer) {
          const blob = yield* this.kernel.tsm.readOutblob(this, node.report);
          if (!blob.ok) return blob;
          if (blob.value.length > this.kernel.tsm.outblobMax) return err("EFBIG");
          f.readBuffer = blob.value.slice();
        }
        return ok(f.readBuffer.slice(offset, offset + count));
      }
    }
  }

  *write(fd: number, data: Uint8Array): Gen<number> {
    const f = this.files.get(fd);
    if (!f) return err("EBADF");
    const r = yield* this.pwrite(fd, data, f.pos);
    if (r.ok) f.pos += r.value;
    return r;
  }

  *pwrite(fd: number, data: Uint8Array, offset: number): Gen<number> {
    return yield* now(this.pwriteNow(fd, data, offset));
  }

  private pwriteNow(fd: number, data: Uint8Array, offset: number): SysResult<number> {
    const f = this.files.get(fd);
    if (!f || f.mode === "r") return err("EBADF");
    const node = f.node;
    switch (node.kind) {
      case "device":
        return err("EINVAL");
      case "measurement":
        return this.kernel.measurements!.write(this, node.file, offset, data);
      case "tsm-text":
        return err("EACCES");
      case "tsm-bin": {
        if (f.readBuffer) return err("ETXTBSY");
        const end = offset + data.length;
        if (end > this.kernel.tsm.inblobMax) return err("EFBIG");
        const buf = f.writeBuffer ?? new Uint8Array(0);
        const grown = new Uint8Array(Math.max(buf.length, end));
        grown.set(buf);
        grown.set(data, offset);
        f.writeBuffer = grown;
        return ok(data.length);
      }
    }
  }

  *ioctl(fd: number, request: bigint, arg: bigint): Gen<number> {
    return yield* now(this.ioctlNow(fd, request, arg));
  }

  private ioctlNow(fd: number, request: bigint, arg: bigint): SysResult<number> {
    const f = this.files.get(fd);
    if (!f) return err("EBADF");
    if (f.node.kind !== "device") return err("ENOTTY");
    return this.kernel.device!.ioctl(this, this.memory, request, arg);
  }

  /** Closing a configfs binary file applies what was written; configfs drops that result. */
  *close(fd: number): Gen<void> {
    return yield* now(this.closeNow(fd));
  }

  private closeNow(fd: number): SysResult<void> {
    const f = this.files.get(fd);
    if (!f) return err("EBADF");
    this.files.delete(fd);
    if (f.node.kind === "tsm-bin" && f.writeBuffer) {
      this.kernel.tsm.writeInblob(f.node.report, f.writeBuffer);
    }
    return ok(undefined);
  }

  *mkdir(path: string): Gen<void> {
    return yield* now(this.mkdirNow(path));
  }

  private mkdirNow(path: string): SysResult<void> {
    const name = this.reportName(path);
    if (name === undefined) return err("ENOENT");
    return this.kernel.tsm.mkdir(name);
  }

  *rmdir(path: string): Gen<void> {
    return yield* now(this.rmdirNow(path));
  }

  private rmdirNow(path: string): SysResult<void> {
    const name = this.reportName(path);
    if (name === undefined) return err("ENOENT");
    return this.kernel.tsm.rmdir(name);
  }

  private reportName(path: string): string | undefined {
    const prefix = `${this.kernel.tsm.root}/`;
    if (!path.startsWith(prefix)) return undefined;
    const name = path.slice(prefix.length);
    return name && !name.includes("/") ? name : undefined;
  }

  // Conveniences for scripts: whole-file operations as a shell would do them.

  /** open, write all, close. */
  *writeFile(path: string, data: Uint8Array): Gen<number> {
    const fd = yield* this.open(path, "w");
    if (!fd.ok) return fd;
    const w = yield* this.write(fd.value, data);
    yield* this.close(fd.value);
    return w;
  }

  /** open, read up to `max` bytes, close. */
  *readFile(path: string, max = 1 << 20): Gen<Uint8Array> {
    const fd = yield* this.open(path, "r");
    if (!fd.ok) return fd;
    const r = yield* this.read(fd.value, max);
    yield* this.close(fd.value);
    return r;
  }
}
