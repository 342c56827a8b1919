// A Quote Generation Service on TCP (loopback by default) and/or a Unix socket. Like
// Intel's QGS it serves one framed request per connection, answers, and closes; it
// also takes a bare 1024-byte TDREPORT and answers with the bare quote. Connections
// are bounded (the rest wait in the listen backlog), each has an idle timeout, frames
// larger than the limit are answered with QGS_MSG_ERROR_OUT_OF_MEMORY without being
// read, and close() stops accepting, lets open connections finish and removes the
// socket file.
import type { Spec } from "../../spec/mod.ts";
import { enumNumber, fieldOffset, structSize } from "../spec_facts.ts";
import { errorResponse, handleMessage, type QgsContext } from "./messages.ts";
import { ExactReader, frame, frameLength, prefixSize, writeAll } from "./framing.ts";

export interface QgsServerOptions extends Omit<QgsContext, "spec"> {
  /** Listen on TCP; hostname defaults to 127.0.0.1, port 0 picks a free one. */
  tcp?: { hostname?: string; port: number };
  /** Listen on a Unix socket at this path. */
  unix?: string;
  /** Connections served at once (default 16); more wait to be accepted. */
  maxConnections?: number;
  /** Largest message accepted (default 64 KiB). */
  maxMessageSize?: number;
  /** A connection is closed when its exchange takes longer (default 30 s, Intel's QGS_TIMEOUT). */
  idleTimeoutMs?: number;
  /** Take a bare TDREPORT without header or frame (default true). */
  acceptRawReports?: boolean;
}

export interface QgsStats {
  accepted: number;
  active: number;
  /** Most connections served at the same time. */
  maxActive: number;
  /** Responses written, by QGS_MSG_ERROR name ("QGS_MSG_SUCCESS" for successes), plus "raw". */
  responses: Record<string, number>;
  /** Connections closed without an answer (timeout, peer gone, raw report refused). */
  dropped: number;
}

export interface QgsServer {
  readonly tcp?: { hostname: string; port: number };
  readonly unix?: string;
  stats(): QgsStats;
  /** Stops accepting; waits for open connections (closing them at once with force). */
  close(opts?: { force?: boolean }): Promise<void>;
}

class Slots {
  private used = 0;
  private waiters: (() => void)[] = [];
  constructor(private readonly max: number) {}
  acquire(): Promise<void> {
    if (this.used < this.max) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(() => (this.used++, resolve())));
  }
  release() {
    this.used--;
    this.waiters.shift()?.();
  }
  /** Lets every waiter through (on close), so the accept loops can see it. */
  wakeAll() {
    for (const w of this.waiters.splice(0)) w();
  }
}

export function startQgs(spec: Spec, opts: QgsServerOptions): QgsServer {
  if (!opts.tcp && !opts.unix) throw new Error("startQgs: give tcp, unix or both");
  const ctx: QgsContext = {
    spec,
    generator: opts.generator,
    quote: opts.quote,
    collateral: opts.collateral,
  };
  const maxMessage = opts.maxMessageSize ?? 64 * 1024;
  const idle = opts.idleTimeoutMs ?? 30_000;
  const raw = opts.acceptRawReports ?? true;
  const slots = new Slots(opts.maxConnections ?? 16);
  const stats: QgsStats = { accepted: 0, active: 0, maxActive: 0, responses: {}, dropped: 0 };
  const open = new Set<Deno.Conn>();
  const running = new Set<Promise<void>>();
  let closing = false;

  const listeners: Deno.Listener[] = [];
  let tcp: QgsServer["tcp"];
  if (opts.tcp) {
    const l = Deno.listen({
      hostname: opts.tcp.hostname ?? "127.0.0.1",
      port: opts.tcp.port,
      transport: "tcp",
    });
    tcp = { hostname: l.addr.hostname, port: l.addr.port };
    listeners.push(l);
  }
  if (opts.unix) listeners.push(Deno.listen({ transport: "unix", path: opts.unix }));

  const count = (name: string) => stats.responses[name] = (stats.responses[name] ?? 0) + 1;
  const codeName = (resp: Uint8Array) => {
    const at = fieldOffset(spec, "QGS_MSG_HEADER", "error_code");
    const code = new DataView(resp.buffer, resp.byteOffset).getUint32(at, true);
    return spec.enum("QGS_MSG_ERROR").values.find((v) => Number(BigInt(v.value)) === code)?.name ??
      String(code);
  };

  async function answer(conn: Deno.Conn, message: Uint8Array) {
    await writeAll(conn, frame(spec, message));
    count(codeName(message));
  }

  async function serve(conn: Deno.Conn) {
    const timer = setTimeout(() => conn.close(), idle);
    let answered = false;
    try {
      const reader = new ExactReader(conn);
      const prefix = await reader.read(prefixSize(spec));
      if (prefix.length === 0) return;
      if (prefix.length < prefixSize(spec)) {
        await answer(
          conn,
          errorResponse(spec, "GET_QUOTE_RESP", "QGS_MSG_ERROR_INVALID_PARAMETER"),
        );
        answered = true;
        return;
      }
      const length = frameLength(spec, prefix);
      if (length > maxMessage) {
        const reportSize = structSize(spec, "TDREPORT_STRUCT");
        if (raw && prefix[0] === enumNumber(spec, "TEE_TYPE", "TDX")) {
          // A bare TDREPORT: its REPORTTYPE reads as a huge length. Answer with the bare quote.
          const rest = await reader.read(reportSize - prefix.length);
          const quote = opts.generator.generate(new Uint8Array([...prefix, ...rest]), opts.quote);
          if (rest.length === reportSize - prefix.length && quote.ok) {
            await writeAll(conn, quote.value);
            count("raw");
            answered = true;
          }
          return;
        }
        await answer(conn, errorResponse(spec, "GET_QUOTE_RESP", "QGS_MSG_ERROR_OUT_OF_MEMORY"));
        answered = true;
        return;
      }
      const message = await reader.read(length);
      if (message.length < length) {
        // The peer stopped sending before the frame was complete.
        await answer(conn, errorResponse(spec, "GET_QUOTE_RESP", "QGS_MSG_ERROR_INVALID_SIZE"));
        answered = true;
        return;
      }
      await answer(conn, handleMessage(ctx, message));
      answered = true;
    } catch {
      // Reset by the peer, or closed by the idle timer: nothing more to say.
    } finally {
      clearTimeout(timer);
      if (!answered) stats.dropped++;
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  async function acceptLoop(listener: Deno.Listener) {
    while (true) {
      await slots.acquire();
      if (closing) {
        slots.release();
        return;
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        slots.release();
        return; // the listener was closed
      }
      stats.accepted++;
      stats.active++;
      stats.maxActive = Math.max(stats.maxActive, stats.active);
      open.add(conn);
      const p = serve(conn).finally(() => {
        open.delete(conn);
        stats.active--;
        slots.release();
        running.delete(p);
      });
      running.add(p);
    }
  }

  const loops = listeners.map(acceptLoop);

  return {
    tcp,
    unix: opts.unix,
    stats: () => structuredClone(stats),
    async close({ force = false } = {}) {
      if (closing) return;
      closing = true;
      for (const l of listeners) l.close();
      slots.wakeAll();
      if (force) {
        for (const c of open) {
          try {
            c.close();
          } catch { /* closing anyway */ }
        }
      }
      await Promise.all(loops);
      await Promise.all([...running]);
      if (opts.unix) {
        try {
          Deno.removeSync(opts.unix);
        } catch { /* already gone */ }
      }
    },
  };
}
