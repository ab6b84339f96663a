/**
 * Creating directories without `mkdir -p` from Node: its recursive mkdir never returns under /proc on Node 20
 * (a storage or archive path there must fail, not hang). One mkdir(2) per missing component instead.
 */
import { mkdirSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';

/** Creates `dir` and its missing parents; an existing non-directory in the way is ENOTDIR. */
export async function ensureDir(dir: string, mode = 0o750): Promise<void> {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let cur = abs; ; cur = path.dirname(cur)) {
    const st = await fs.stat(cur).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    if (st) {
      if (!st.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${abs}'`), { code: 'ENOTDIR', path: cur });
      break;
    }
    missing.push(cur);
    if (path.dirname(cur) === cur) break;
  }
  for (const d of missing.reverse()) {
    await fs.mkdir(d, { mode }).catch((err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? undefined : Promise.reject(err)));
  }
}

/** ensureDir, synchronously (for the tar entry handler, which may not yield). */
export function ensureDirSync(dir: string, mode = 0o755): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let cur = abs; ; cur = path.dirname(cur)) {
    let isDir: boolean | undefined;
    try {
      isDir = statSync(cur).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (isDir === false) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${abs}'`), { code: 'ENOTDIR', path: cur });
    if (isDir) break;
    missing.push(cur);
    if (path.dirname(cur) === cur) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
