// The launcher's quote service backed by a Quote Generation Service: the TD's TDREPORT
// goes to the QGS as a GET_QUOTE_REQ and the quote of its GET_QUOTE_RESP goes back into
// the GetQuote buffer. A guest that already framed a QGS request (libtdx_attest puts a
// QGS_FRAME in the buffer) has it passed through and gets the framed response back. A
// QGS that cannot be reached makes the buffer say SERVICE_UNAVAILABLE, as QEMU does
// when it cannot connect; every other failure is GET_QUOTE_ERROR. The QGS client itself
// belongs to the attestation layer: the VMM sees it only through `QgsConnection`.
import type { Spec } from "../spec/mod.ts";
import { StructCodec } from "../spec/codec.ts";
import type { QuoteOutcome, QuoteService } from "./quote_service.ts";

/**
 * Why a QGS exchange failed. connect: no QGS there; io: the connection broke or timed
 * out; protocol: a malformed answer; server: a well-formed error answer (code names it).
 */
export interface QgsFailure {
  kind: "connect" | "io" | "protocol" | "server";
  code?: string;
  message: string;
}

export type QgsReply = { ok: true; value: Uint8Array } | { ok: false; error: QgsFailure };

/** What the VMM needs from a QGS client. */
export interface QgsConnection {
  /** Where the QGS is, for messages ("tcp:127.0.0.1:4050", "unix:/run/qgs.sock"). */
  readonly endpoint: string;
  /** GET_QUOTE_REQ for a TDREPORT; the quote its GET_QUOTE_RESP carries. */
  getQuote(tdreport: Uint8Array): Promise<QgsReply>;
  /** One request message as it is (unframed); the response message (unframed). */
  exchange(message: Uint8Array): Promise<QgsReply>;
}

/** One request the service handled, for traces and error messages. */
export interface QgsRequestRecord {
  form: "tdreport" | "framed" | "unknown";
  status: QuoteOutcome["status"];
  error?: QgsFailure;
}

export class QgsQuoteService implements QuoteService {
  readonly requests: QgsRequestRecord[] = [];
  private readonly tdreportSize: number;
  private readonly codec: StructCodec;

  constructor(spec: Spec, readonly connection: QgsConnection) {
    this.tdreportSize = spec.struct("TDREPORT_STRUCT").size as number;
    this.codec = new StructCodec(spec);
  }

  /** The message of a QGS_FRAME that fills `input` exactly, if it is one. */
  private framed(input: Uint8Array): Uint8Array | undefined {
    try {
      const d = this.codec.decode("QGS_FRAME", input);
      const message = d.value.message as Uint8Array;
      return d.size === input.length && message.length > 0 ? message : undefined;
    } catch {
      return undefined;
    }
  }

  async generate(input: Uint8Array): Promise<QuoteOutcome> {
    const message = this.framed(input);
    const form = message ? "framed" : input.length === this.tdreportSize ? "tdreport" : "unknown";
    const record = (status: QuoteOutcome["status"], error?: QgsFailure) =>
      this.requests.push(error ? { form, status, error } : { form, status });
    if (form === "unknown") {
      record("GET_QUOTE_ERROR", {
        kind: "protocol",
        message: `a ${input.length}-byte input is neither a TDREPORT nor a framed QGS request`,
      });
      return { status: "GET_QUOTE_ERROR" };
    }
    let reply: QgsReply;
    try {
      reply = form === "tdreport"
        ? await this.connection.getQuote(input)
        : await this.connection.exchange(message!);
    } catch (e) {
      reply = { ok: false, error: { kind: "io", message: (e as Error).message } };
    }
    if (!reply.ok) {
      const status = reply.error.kind === "connect"
        ? "GET_QUOTE_SERVICE_UNAVAILABLE"
        : "GET_QUOTE_ERROR";
      record(status, reply.error);
      return { status };
    }
    record("GET_QUOTE_SUCCESS");
    const quote = form === "tdreport"
      ? reply.value
      : this.codec.encode("QGS_FRAME", { length: reply.value.length, message: reply.value });
    return { status: "GET_QUOTE_SUCCESS", quote };
  }
}
