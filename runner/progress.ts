// A progress bar on a terminal (cli-progress); nothing in CI or when output is piped.
import cliProgress from "cli-progress";
import process from "node:process";

export interface Progress {
  tick(outcome: string): void;
  stop(): void;
}

export function makeProgress(total: number, enabled: boolean): Progress {
  if (!enabled || total === 0) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: "{bar} {value}/{total} vectors | fail {fail} | error {error} | {eta}s left",
      hideCursor: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let fail = 0;
  let error = 0;
  bar.start(total, 0, { fail, error });
  return {
    tick(outcome) {
      if (outcome === "fail" || outcome === "xpass") fail++;
      if (outcome === "error") error++;
      bar.increment(1, { fail, error });
    },
    stop() {
      bar.stop();
    },
  };
}
