// deno task qgs: serves quotes until told to stop, writes the test root and
// collateral on request, and exits 2 on bad arguments.
import { strict as assert } from "node:assert";
import { theSpec } from "../impl/spec/mod.ts";
import { getQuote } from "../impl/attest/qgs/client.ts";
import { sampleTdreport } from "../impl/attest/quote/tdreport_sample.ts";
import { decodeQuote } from "../impl/attest/quote/quote_decode.ts";
import { main } from "./qgs_cli.ts";

const quiet = () => {
  const lines: string[] = [];
  return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) } };
};

Deno.test("qgs serves v5 quotes over TCP until stopped and writes root and collateral", async () => {
  const spec = theSpec();
  const dir = Deno.makeTempDirSync();
  const { lines, io } = quiet();
  let stop!: () => void;
  const stopped = new Promise<void>((r) => stop = r);
  let port = 0;
  let exit: number | undefined;
  await new Promise<void>((ready) => {
    main(
      [
        "--tcp",
        "0",
        "--seed",
        "0102",
        "--quote-version",
        "5",
        "--root-out",
        `${dir}/root.pem`,
        "--collateral-out",
        `${dir}/col.json`,
      ],
      io,
      stopped,
      (a) => {
        port = a.tcp!.port;
        ready();
      },
    ).then((code) => exit = code);
  });
  const r = await getQuote(spec, { port }, sampleTdreport(spec, 1));
  assert.ok(r.ok);
  const d = decodeQuote(spec, r.value.quote);
  assert.ok(d.ok);
  assert.equal(d.value.version, 5);
  assert.match(Deno.readTextFileSync(`${dir}/root.pem`), /^-----BEGIN CERTIFICATE-----/);
  assert.ok(JSON.parse(Deno.readTextFileSync(`${dir}/col.json`)).tcb_info);
  stop();
  while (exit === undefined) await new Promise((r) => setTimeout(r, 5));
  assert.equal(exit, 0);
  assert.ok(lines.some((l) => /QGS listening on 127\.0\.0\.1:\d+/.test(l)));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("the qgs task listens on a Unix socket and stops cleanly on SIGTERM", async () => {
  // A child process: Deno grants a Unix socket only by its exact path.
  const spec = theSpec();
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/qgs.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      `--allow-net=127.0.0.1,unix:${path}`,
      "--allow-read",
      "--allow-write",
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      new URL("./qgs_cli.ts", import.meta.url).pathname,
      "--unix",
      path,
      "--tcp",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/unix:.*\n[\s\S]*seed/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(text)?.[1]);
  assert.ok(port > 0, text);
  assert.ok(Deno.statSync(path).isSocket);
  const r = await getQuote(spec, { port }, sampleTdreport(spec, 2));
  assert.ok(r.ok);
  child.kill("SIGTERM");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const status = await child.status;
  await child.stderr.cancel();
  assert.equal(status.code, 0, text);
  assert.match(text, /QGS closed after 1 connection/);
  assert.throws(() => Deno.statSync(path));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("qgs exits 2 on bad arguments, naming them", async () => {
  for (
    const args of [
      ["--tcp", "70000"],
      ["--seed", "xyz"],
      ["--quote-version", "3"],
      ["--body", "2.0"],
      ["--quote-version", "4", "--body", "1.5"],
      ["--max-connections", "0"],
      ["--nope"],
    ]
  ) {
    const { lines, io } = quiet();
    assert.equal(await main(args, io, Promise.resolve()), 2, args.join(" "));
    assert.ok(lines.join("\n").includes(args[0].replace(/^--/, "")), lines.join("\n"));
  }
});
