/**
 * Reads a state file the careful way: never follows a symlink (lstat, then O_NOFOLLOW so a link swapped in
 * between is refused too), never blocks on a FIFO, never reads more than the limit (a raft state is a few KiB;
 * an oversized file is refused from its size alone, without reading it).
 */
import { constants, promises as fs } from 'node:fs';
import type { StateProblem } from '../policy/volume.js';

/** Largest state file we read; `--max-state-bytes` overrides. Real files are ~1 KiB per peer. */
export const DEFAULT_MAX_STATE_BYTES = 64 * 1024 * 1024;

export type StateFileRead =
  | { kind: 'absent' }
  | { kind: 'problem'; problem: StateProblem }
  | { kind: 'bytes'; bytes: Buffer; mtime: Date };

function mib(n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(n >= 10 * 1024 * 1024 ? 0 : 1)} MiB`;
}

export async function readStateFile(path: string, file: string, maxBytes = DEFAULT_MAX_STATE_BYTES): Promise<StateFileRead> {
  const problem = (code: StateProblem['code'], message: string): StateFileRead => ({
    kind: 'problem',
    problem: { code, file, message },
  });
  const oversized = (size: number) =>
    problem('oversized', `is ${mib(size)} (${size} bytes), above the ${mib(maxBytes)} limit for a state file; not read`);

  let st;
  try {
    st = await fs.lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'absent' };
    return problem('unreadable', `cannot be examined (${code ?? String(err)})`);
  }
  if (st.isSymbolicLink()) {
    const target = await fs.readlink(path).catch(() => '?');
    return problem('symlink', `is a symbolic link to ${target}; not followed`);
  }
  if (!st.isFile()) {
    const what = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device';
    return problem('not-a-file', `is ${what}, not a regular file`);
  }
  if (st.size > maxBytes) return oversized(st.size);

  let handle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'absent' };
    if (code === 'ELOOP') return problem('symlink', 'became a symbolic link while being read; not followed');
    return problem('unreadable', `cannot be opened (${code ?? String(err)})`);
  }
  try {
    const fst = await handle.stat();
    if (!fst.isFile()) return problem('not-a-file', 'is not a regular file');
    if (fst.size > maxBytes) return oversized(fst.size);
    // One buffer of the size fstat gave, plus one byte to notice growth: never two copies of a large file.
    // A file that grows past the limit while we read is refused, not buffered.
    let buf = Buffer.allocUnsafe(Math.min(fst.size, maxBytes) + 1);
    let total = 0;
    for (;;) {
      if (total === buf.length) {
        if (total > maxBytes) return oversized(total);
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2 + 64 * 1024));
        buf.copy(bigger, 0, 0, total);
        buf = bigger;
      }
      const { bytesRead } = await handle.read(buf, total, buf.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    if (total > maxBytes) return oversized(total);
    return { kind: 'bytes', bytes: buf.subarray(0, total), mtime: fst.mtime };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return problem('unreadable', `cannot be read (${code ?? String(err)})`);
  } finally {
    await handle.close();
  }
}
