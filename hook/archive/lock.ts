/**
 * One writer per storage dir: `restore` and `volume` (archiving) take `<storage>/.upgrade-guard/lock`, created with
 * O_EXCL and holding pid, host and the process start time. Two runs on one volume would otherwise interleave
 * their renames (a WAL segment lost, a staging dir left behind).
 *
 * A lock is stale when its host is this host and its pid is gone, or the pid now belongs to a process that started
 * at another time (a StatefulSet pod keeps its host name across restarts while pids are reused from 1). A lock from
 * another host cannot be judged from here: it is refused with the file to delete once that host is known to be gone.
 * Breaking a stale lock goes through a second O_EXCL file, so two runs that both judge it stale cannot both win.
 */
import { constants, promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ensureDir } from '../storage/dirs.js';
import { GUARD_DIR } from '../storage/inspect.js';

export const LOCK_NAME = 'lock';
/** A break file older than this was left by a run that died mid-break. */
const BREAK_STALE_MS = 60_000;

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); absent where there is no /proc. */
  procStart?: string;
}

export type LockResult =
  | { ok: true; release: () => Promise<void>; tookOverStale?: LockInfo }
  | { ok: false; holder: LockInfo | undefined; path: string; reason: string };

export function lockPath(storage: string): string {
  return path.join(storage, GUARD_DIR, LOCK_NAME);
}

async function procStartOf(pid: number): Promise<string | undefined> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid) || typeof v.host !== 'string') return undefined;
    return {
      pid: v.pid,
      host: v.host,
      command: typeof v.command === 'string' ? v.command : '?',
      startedAt: typeof v.startedAt === 'string' ? v.startedAt : '?',
      ...(typeof v.procStart === 'string' ? { procStart: v.procStart } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Whether the holder is certainly gone (only decidable on this host). */
async function isStale(info: LockInfo): Promise<boolean> {
  if (info.host !== os.hostname()) return false;
  if (!alive(info.pid)) return true;
  if (info.procStart === undefined) return false;
  const now = await procStartOf(info.pid);
  return now !== undefined && now !== info.procStart;
}

export function describeHolder(info: LockInfo | undefined): string {
  return info ? `pid ${info.pid} on ${info.host}, ${info.command} since ${info.startedAt}` : 'a lock file that cannot be read';
}

/** Reads the current lock without taking it: undefined when free or stale (what --check-only needs). */
export async function liveLock(storage: string): Promise<{ holder: LockInfo | undefined; path: string } | undefined> {
  const file = lockPath(storage);
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const info = parseLock(text);
  if (info && (await isStale(info))) return undefined;
  return { holder: info, path: file };
}

async function breakStale(file: string, staleText: string): Promise<boolean> {
  const breaker = `${file}.break`;
  let fh;
  try {
    fh = await fs.open(breaker, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const st = await fs.stat(breaker).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > BREAK_STALE_MS) await fs.rm(breaker, { force: true });
    return false;
  }
  try {
    // Only the lock we judged stale is removed: a run that broke it first may have created a new one since.
    const now = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (now === staleText) await fs.rm(file, { force: true });
    return true;
  } finally {
    await fh.close();
    await fs.rm(breaker, { force: true });
  }
}

/** Takes the lock or says who holds it. Creates `.upgrade-guard/` if needed (errors from that are thrown). */
export async function acquireStorageLock(storage: string, command: string): Promise<LockResult> {
  const file = lockPath(storage);
  await ensureDir(path.dirname(file), 0o750);
  const procStart = await procStartOf(process.pid);
  const mine: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    command,
    startedAt: new Date().toISOString(),
    ...(procStart ? { procStart } : {}),
  };
  const text = JSON.stringify(mine) + '\n';
  let tookOverStale: LockInfo | undefined;
  // Written whole under a private name, then hard-linked to the lock name: link(2) fails if the lock exists, and
  // a reader never sees a half-written lock.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await fs.writeFile(temp, text, { mode: 0o600, flag: 'wx' });
  try {
    const fh = await fs.open(temp, 'r');
    await fh.sync().finally(() => fh.close());
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fs.link(temp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const existing = await fs.readFile(file, 'utf8').catch(() => undefined);
        if (existing === undefined) continue; // released between link and read
        const info = parseLock(existing);
        if (info && (await isStale(info))) {
          tookOverStale = info;
          await breakStale(file, existing);
          continue;
        }
        return { ok: false, holder: info, path: file, reason: `another restore or volume run holds the storage dir (${describeHolder(info)})` };
      }
      const release = async () => {
        const now = await fs.readFile(file, 'utf8').catch(() => undefined);
        if (now === text) await fs.rm(file, { force: true });
      };
      return { ok: true, release, ...(tookOverStale ? { tookOverStale } : {}) };
    }
  } finally {
    await fs.rm(temp, { force: true });
  }
  const info = parseLock((await fs.readFile(file, 'utf8').catch(() => '')) ?? '');
  return { ok: false, holder: info, path: file, reason: `another restore or volume run holds the storage dir (${describeHolder(info)})` };
}
