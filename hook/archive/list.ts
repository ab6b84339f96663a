/**
 * Listing and retention of raft-state archives in one directory. Only names that parse as ours are ever
 * listed or deleted; temp files (`.raft-*.partial-*`) and anything else are left alone.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { infraError } from '../errors.js';
import { GUARD_DIR } from '../storage/inspect.js';
import { parseArchiveName, type ArchiveNameParts, type PodIdentity } from './name.js';

export interface ArchiveInfo extends ArchiveNameParts {
  name: string;
  path: string;
  bytes: number;
}

/** The default archive place: `<storage>/.upgrade-guard/` (not a Qdrant entry; classification ignores it). */
export function defaultArchiveDir(storage: string): string {
  return path.join(storage, GUARD_DIR);
}

/** Newest first; `pod` limits the list to one volume's archives. A missing dir is an empty list. */
export async function listArchives(dir: string, pod?: PodIdentity): Promise<ArchiveInfo[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw infraError(`cannot list archive directory ${dir} (${code})`, { cause: err });
  }
  const out: ArchiveInfo[] = [];
  for (const name of names) {
    const parts = parseArchiveName(name);
    if (!parts) continue;
    if (pod && (parts.statefulSet !== pod.statefulSet || parts.ordinal !== pod.ordinal)) continue;
    const st = await fs.lstat(path.join(dir, name)).catch(() => undefined);
    if (!st?.isFile()) continue;
    out.push({ ...parts, name, path: path.join(dir, name), bytes: st.size });
  }
  return out.sort((a, b) => (a.timestamp === b.timestamp ? (a.name < b.name ? 1 : -1) : a.timestamp < b.timestamp ? 1 : -1));
}

/** Keeps the newest `keep` archives of one volume (0 keeps all); never deletes `protect`. Returns the deleted names. */
export async function applyRetention(dir: string, pod: PodIdentity, keep: number, protect?: string): Promise<string[]> {
  if (keep <= 0) return [];
  const all = await listArchives(dir, pod);
  const doomed = all.slice(keep).filter((a) => a.name !== protect);
  const deleted: string[] = [];
  for (const a of doomed) {
    try {
      await fs.unlink(a.path);
      deleted.push(a.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw infraError(`cannot delete old archive ${a.path} (${(err as NodeJS.ErrnoException).code})`, { cause: err });
      }
    }
  }
  return deleted;
}
