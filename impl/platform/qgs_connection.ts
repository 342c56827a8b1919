// The VMM's QgsConnection made of the attestation layer's QGS client: over TCP or a Unix
// socket to a running QGS (startQgs, `deno task qgs`, Intel's QGS), or in-process
// through the same message handler the server uses, with no socket at all. A
// composition root: impl/vmm knows only the QgsConnection interface.
import type { Spec } from "../spec/mod.ts";
import {
  type ClientOptions,
  exchange,
  getQuote,
  parseResponse,
  type QgsEndpoint,
} from "../attest/qgs/client.ts";
import { handleMessage, type QgsContext, quoteRequest } from "../attest/qgs/messages.ts";
import type { QgsConnection, QgsReply } from "../vmm/qgs_quote_service.ts";

/** "tcp:PORT", "tcp:HOST:PORT" or "unix:PATH"; a message naming the problem otherwise. */
export function parseQgsEndpoint(text: string): QgsEndpoint | string {
  const unix = /^unix:(.+)$/.exec(text);
  if (unix) return { path: unix[1] };
  const tcp = /^tcp:(?:([^:]+):)?(\d+)$/.exec(text);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) return `port ${tcp[2]} is not in 1-65535`;
    return tcp[1] ? { hostname: tcp[1], port } : { port };
  }
  return `"${text}" is not tcp:PORT, tcp:HOST:PORT or unix:PATH`;
}

export function describeEndpoint(e: QgsEndpoint): string {
  return "path" in e ? `unix:${e.path}` : `tcp:${e.hostname ?? "127.0.0.1"}:${e.port}`;
}

/** A QGS reached over a socket with A2's client. */
export function socketQgs(
  spec: Spec,
  endpoint: QgsEndpoint,
  options: ClientOptions = {},
): QgsConnection {
  return {
    endpoint: describeEndpoint(endpoint),
    async getQuote(tdreport) {
      const r = await getQuote(spec, endpoint, tdreport, options);
      return r.ok ? { ok: true, value: r.value.quote } : r;
    },
    exchange: (message) => exchange(spec, endpoint, message, options),
  };
}

/** The QGS message handler called directly: the same protocol, no socket. */
export function inProcessQgs(ctx: QgsContext): QgsConnection {
  const { spec } = ctx;
  return {
    endpoint: "in-process",
    getQuote(tdreport): Promise<QgsReply> {
      const msg = handleMessage(ctx, quoteRequest(spec, tdreport));
      const d = parseResponse(spec, msg, "QGS_GET_QUOTE_RESP", "GET_QUOTE_RESP");
      return Promise.resolve(d.ok ? { ok: true, value: d.value.quote as Uint8Array } : d);
    },
    exchange: (message) => Promise.resolve({ ok: true, value: handleMessage(ctx, message) }),
  };
}
