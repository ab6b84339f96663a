/**
 * Shared helpers for the benchmarks (bench/*.bench.ts). They print figures; they are not timed tests.
 * Wall time and peak RSS of a child come from GNU time (`/usr/bin/time -f`), which measures any
 * process the same way (node and tar alike); without it, wall time is measured here and RSS is "n/a".
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const bundlePath = path.join(repoRoot, 'dist', 'qdrant-upgrade-guard.mjs');
const GNU_TIME = '/usr/bin/time';

export interface Measurement {
  seconds: number;
  /** Peak resident set size in KiB, when GNU time is available. */
  maxRssKiB?: number;
}

export function ensureBundle(): void {
  if (!existsSync(bundlePath)) {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'bundle.mjs')], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('bundle build failed');
  }
}

export function measure(cmd: string, args: string[], options: { cwd?: string; okCodes?: number[] } = {}): Measurement {
  const ok = options.okCodes ?? [0];
  if (existsSync(GNU_TIME)) {
    const r = spawnSync(GNU_TIME, ['-f', '__TIME__ %e %M', cmd, ...args], { cwd: options.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (!ok.includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    const m = /__TIME__ ([\d.]+) (\d+)/.exec(r.stderr);
    if (!m) throw new Error(`no GNU time output: ${r.stderr}`);
    return { seconds: Number(m[1]), maxRssKiB: Number(m[2]) };
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: options.cwd, stdio: 'ignore' });
  if (!ok.includes(r.status ?? -1)) throw new Error(`${cmd} exited ${r.status}`);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Wall time at millisecond resolution (GNU time rounds %e to 10 ms, too coarse for cold starts). */
export function wall(cmd: string, args: string[], cwd?: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function mib(kib: number | undefined): string {
  return kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(1)} MiB`;
}

export function verdict(ok: boolean): string {
  return ok ? 'ok' : 'OVER TARGET';
}
