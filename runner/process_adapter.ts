// A third-party implementation behind the JSON-lines adapter protocol, as a child
// process. A crashed, hung or garbled adapter is killed and restarted; the vector it
// was running is reported as errored and the run goes on.
import type { Vector, VectorOutcome } from "./vector_types.ts";
import { protocolProblem } from "./protocol_validator.ts";

export interface Ready {
  implementation: {
    name: string;
    version: string;
    language?: string;
    homepage?: string;
    issues?: string;
  };
  capabilities: { layers: string[]; ops?: string[]; leaves?: string[]; structs?: string[] };
}

export interface AdapterOptions {
  timeoutMs: number;
  /** Check every message against the protocol schema; violations are errors. */
  validate: boolean;
  suite: { version: string; spec_hash: string };
}

type Line = { message?: Record<string, unknown>; garbage?: string; eof?: true };

const START_TIMEOUT_MS = 30_000;

export class AdapterError extends Error {
  override name = "AdapterError";
}

export class ProcessAdapter {
  private child?: Deno.ChildProcess;
  private writer?: WritableStreamDefaultWriter<Uint8Array>;
  private lines: Line[] = [];
  private waiting?: (l: Line) => void;
  private stderrTail = "";
  private readers: Promise<unknown> = Promise.resolve();
  /** Messages that broke the protocol (with --validate-protocol, or garbage). */
  readonly violations: string[] = [];
  ready?: Ready;
  restarts = 0;

  constructor(readonly command: string, private readonly opts: AdapterOptions) {}

  async start(): Promise<Ready> {
    this.child = new Deno.Command("sh", {
      // exec: the adapter replaces the shell, so killing the child kills the adapter.
      args: ["-c", `exec ${this.command}`],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.lines = [];
    this.writer = this.child.stdin.getWriter();
    this.readers = Promise.all([
      this.readLines(this.child.stdout),
      this.readStderr(this.child.stderr),
    ]);
    await this.send({ type: "start", protocol: 1, suite: this.opts.suite });
    // Starting (an interpreter, loading the spec) may take longer than one vector.
    const line = await this.next(Math.max(this.opts.timeoutMs, START_TIMEOUT_MS));
    const m = line.message;
    if (!m || m.type !== "ready") {
      await this.kill();
      throw new AdapterError(
        `adapter did not answer start with ready (${
          line.garbage ? `got: ${line.garbage.slice(0, 80)}` : line.eof ? "it exited" : "timeout"
        })${this.stderrNote()}`,
      );
    }
    const problem = protocolProblem(m);
    if (problem) {
      this.violations.push(`ready: ${problem}`);
      if (this.opts.validate) {
        await this.kill();
        throw new AdapterError(`adapter's ready message breaks the protocol: ${problem}`);
      }
    }
    this.ready = m as unknown as Ready;
    return this.ready;
  }

  private stderrNote(): string {
    const tail = this.stderrTail.trim().split("\n").slice(-3).join(" | ");
    return tail ? `; stderr: ${tail.slice(0, 300)}` : "";
  }

  private async readLines(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of stream) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const text = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!text) continue;
          let line: Line;
          try {
            const parsed = JSON.parse(text);
            line = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
              ? { message: parsed }
              : { garbage: text };
          } catch {
            line = { garbage: text };
          }
          this.push(line);
        }
        if (buf.length > 64 * 1024 * 1024) {
          this.push({ garbage: buf.slice(0, 200) });
          buf = "";
        }
      }
    } catch { /* the process was killed */ }
    this.push({ eof: true });
  }

  private async readStderr(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.stderrTail = (this.stderrTail + decoder.decode(chunk, { stream: true })).slice(-4096);
      }
    } catch { /* killed */ }
  }

  private push(line: Line) {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(line);
    } else this.lines.push(line);
  }

  private next(timeoutMs: number): Promise<Line> {
    const queued = this.lines.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve({});
      }, timeoutMs);
      this.waiting = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
    });
  }

  private async send(message: unknown) {
    const data = new TextEncoder().encode(JSON.stringify(message) + "\n");
    try {
      await this.writer!.write(data);
    } catch { /* a dead adapter shows up as eof on the next read */ }
  }

  /** Runs one vector; never throws for adapter misbehaviour. */
  async run(vector: Vector, seq: number): Promise<VectorOutcome> {
    if (!this.child) {
      try {
        this.restarts++;
        await this.start();
      } catch (e) {
        return { kind: "errored", message: `adapter restart failed: ${(e as Error).message}` };
      }
    }
    // Expectations stay with the runner: the adapter gets inputs only.
    const stripped = {
      ...vector,
      steps: vector.steps.map(({ op, input, note }) => ({ op, input, note })),
    };
    await this.send({ type: "run", seq, vector: stripped });
    for (;;) {
      const line = await this.next(this.opts.timeoutMs);
      if (line.eof) {
        const note = this.stderrNote();
        await this.kill();
        return { kind: "errored", message: `adapter exited while running the vector${note}` };
      }
      if (!line.message && !line.garbage) {
        await this.kill();
        return {
          kind: "errored",
          message: `adapter did not answer within ${this.opts.timeoutMs} ms`,
        };
      }
      if (line.garbage !== undefined) {
        this.violations.push(`garbage: ${line.garbage.slice(0, 120)}`);
        await this.kill();
        return {
          kind: "errored",
          message: `adapter wrote a line that is not a JSON object: ${line.garbage.slice(0, 80)}`,
        };
      }
      const m = line.message!;
      const problem = protocolProblem(m);
      if (problem) {
        this.violations.push(`${String(m.type)}: ${problem}`);
        if (this.opts.validate || !["result", "skipped", "errored"].includes(String(m.type))) {
          await this.kill();
          return { kind: "errored", message: `adapter message breaks the protocol: ${problem}` };
        }
      }
      if (m.seq !== seq) continue; // a late answer to an earlier, timed-out request
      if (m.type === "result") {
        const steps = m.steps as Record<string, unknown>[];
        if (!Array.isArray(steps)) return { kind: "errored", message: "result without steps" };
        return { kind: "ran", actual: steps };
      }
      if (m.type === "skipped") return { kind: "skipped", reason: String(m.reason) };
      return { kind: "errored", message: `adapter: ${String(m.message)}` };
    }
  }

  async kill() {
    const c = this.child;
    this.child = undefined;
    if (!c) return;
    try {
      c.kill("SIGKILL");
    } catch { /* already gone */ }
    try {
      await c.status;
    } catch { /* ignore */ }
    // A grandchild the adapter spawned may keep the pipes open: don't wait on it forever.
    await Promise.race([this.readers, new Promise((r) => setTimeout(r, 1000))]);
  }

  async stop() {
    if (!this.child) return;
    await this.send({ type: "stop" });
    try {
      await this.writer?.close();
    } catch { /* ignore */ }
    const c = this.child;
    const done = await Promise.race([
      c.status.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 2000)),
    ]);
    if (!done) await this.kill();
    else await this.readers;
    this.child = undefined;
  }
}
