/**
 * Progress lines for long waits go to stderr, so stdout stays one clean document
 * (`--output json`). Every line carries a UTC timestamp: Job logs are read after the fact.
 */
export interface Progress {
  say(message: string): void;
}

export function stderrProgress(clock: { now(): number } = Date): Progress {
  return {
    say(message) {
      process.stderr.write(`${new Date(clock.now()).toISOString()} ${message}\n`);
    },
  };
}

export const silentProgress: Progress = { say() {} };
