/**
 * Reads a raft-state archive entry by entry and checks it completely: every entry is a regular file or
 * directory on the allow-list (manifest.json, raft_state.json, raft_state, collections_meta_wal/...),
 * no path escapes the target (`..`, absolute), no links or devices, every sha256 and size matches the
 * manifest, and the state file is a valid raft state of the peer the manifest names.
 * Optionally extracts into a staging dir at the same time (restore's second pass).
 * A hostile or damaged archive is a refusal with a reason, not an exception.
 */
import { createReadStream, createWriteStream, mkdirSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Parser, type ReadEntry } from 'tar';
import { infraError, usageError } from '../errors.js';
import { STATE_JSON, STATE_LEGACY, WAL_DIR } from '../storage/inspect.js';
import { decodeLegacyRaftState, parseRaftStateJson, type RaftState } from '../storage/raft-state.js';
import { DEFAULT_MAX_STATE_BYTES } from '../storage/state-file.js';
import { MANIFEST_NAME, MAX_MANIFEST_BYTES, parseManifest, type Manifest, type ManifestFile } from './manifest.js';

/** Upper bound on what one archive may expand to (a gzip bomb stops here). Consensus WALs are MiBs. */
export const DEFAULT_MAX_ARCHIVE_BYTES = 16 * 1024 * 1024 * 1024;

const TOP_LEVEL = new Set([MANIFEST_NAME, STATE_JSON, STATE_LEGACY, WAL_DIR]);

/** Why an entry path may not be restored, or undefined if it may. */
export function entryPathProblem(p: string): string | undefined {
  if (p.length === 0) return 'has an empty path';
  if (p.includes('\0')) return 'has a NUL byte in its path';
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.includes('\\')) return 'has an absolute path';
  const segments = p.replace(/\/+$/, '').split('/');
  if (segments.includes('..')) return 'escapes the target directory (..)';
  if (segments.some((s) => s === '' || s === '.')) return 'has an unexpected path form';
  const top = segments[0]!;
  if (!TOP_LEVEL.has(top) || (top !== WAL_DIR && segments.length > 1)) {
    return 'is not an entry a raft-state archive holds';
  }
  return undefined;
}

function typeProblem(e: ReadEntry): string | undefined {
  switch (e.type) {
    case 'File':
    case 'OldFile':
    case 'Directory':
      return undefined;
    case 'SymbolicLink':
      return `is a symbolic link to ${e.linkpath ?? '?'}; archives never hold links`;
    case 'Link':
      return `is a hard link to ${e.linkpath ?? '?'}; archives never hold links`;
    case 'CharacterDevice':
    case 'BlockDevice':
      return 'is a device node';
    case 'FIFO':
      return 'is a FIFO';
    default:
      return `has unsupported type ${e.type}`;
  }
}

export interface ScanOptions {
  /** Extract files into this existing directory while checking. */
  extractTo?: string;
  maxTotalBytes?: number;
}

export type ScanResult =
  | {
      ok: true;
      manifest: Manifest;
      raftState?: RaftState;
      /** Files as found in the archive (path, size, sha256). */
      files: ManifestFile[];
      directories: string[];
      totalBytes: number;
    }
  | { ok: false; reason: string; manifest?: Manifest };

export async function scanArchive(file: string, options: ScanOptions = {}): Promise<ScanResult> {
  const maxTotal = options.maxTotalBytes ?? DEFAULT_MAX_ARCHIVE_BYTES;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw usageError(`archive ${file} is not a regular file`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw usageError(`archive ${file} does not exist`, 'List the archives with: qdrant-upgrade-guard archives --storage <dir>');
    }
    if ((err as { kind?: string }).kind) throw err;
    throw infraError(`cannot read archive ${file} (${(err as NodeJS.ErrnoException).code})`, { cause: err });
  }

  let refusal: string | undefined;
  const refuse = (msg: string) => {
    refusal ??= msg;
  };
  const seen = new Map<string, ManifestFile>();
  const directories: string[] = [];
  const pending: Promise<void>[] = [];
  /** Write streams still open, so a failed parse can close them instead of waiting for entries that never end. */
  const openStreams = new Set<ReturnType<typeof createWriteStream>>();
  let manifestBytes: Buffer | undefined;
  const stateFiles = new Map<string, Buffer>();
  let totalBytes = 0;

  const onEntry = (entry: ReadEntry) => {
    if (refusal) {
      entry.resume();
      return;
    }
    const p = entry.path;
    const problem = typeProblem(entry) ?? entryPathProblem(p);
    if (problem) {
      refuse(`entry ${JSON.stringify(p)} ${problem}`);
      entry.resume();
      return;
    }
    const rel = p.replace(/\/+$/, '');
    if (seen.has(rel) || directories.includes(rel)) {
      refuse(`entry ${JSON.stringify(rel)} appears twice`);
      entry.resume();
      return;
    }
    if (entry.type === 'Directory') {
      directories.push(rel);
      if (options.extractTo) mkdirSync(path.join(options.extractTo, rel), { recursive: true, mode: 0o755 });
      entry.resume();
      return;
    }
    totalBytes += entry.size;
    if (totalBytes > maxTotal) {
      refuse(`archive expands to more than ${maxTotal} bytes`);
      entry.resume();
      return;
    }
    const keep =
      rel === MANIFEST_NAME ? MAX_MANIFEST_BYTES : rel === STATE_JSON || rel === STATE_LEGACY ? DEFAULT_MAX_STATE_BYTES : 0;
    if (keep > 0 && entry.size > keep) {
      refuse(`entry ${rel} is ${entry.size} bytes, more than the ${keep} bytes it can be`);
      entry.resume();
      return;
    }
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    let size = 0;
    let ws: ReturnType<typeof createWriteStream> | undefined;
    if (options.extractTo && rel !== MANIFEST_NAME) {
      const dest = path.join(options.extractTo, rel);
      const root = path.resolve(options.extractTo) + path.sep;
      if (!path.resolve(dest).startsWith(root)) {
        refuse(`entry ${rel} escapes the target directory`);
        entry.resume();
        return;
      }
      mkdirSync(path.dirname(dest), { recursive: true, mode: 0o755 });
      ws = createWriteStream(dest, { flags: 'wx', mode: (entry.mode ?? 0o644) & 0o755 });
      openStreams.add(ws);
      ws.on('close', () => openStreams.delete(ws!));
    }
    pending.push(
      new Promise<void>((resolve, reject) => {
        entry.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          size += chunk.length;
          if (keep > 0) kept.push(chunk);
          if (ws && !ws.write(chunk)) {
            entry.pause();
            ws.once('drain', () => entry.resume());
          }
        });
        entry.on('end', () => {
          const done = () => {
            seen.set(rel, { path: rel, size, sha256: hash.digest('hex') });
            if (rel === MANIFEST_NAME) manifestBytes = Buffer.concat(kept);
            else if (keep > 0) stateFiles.set(rel, Buffer.concat(kept));
            resolve();
          };
          if (ws) {
            ws.on('error', reject);
            ws.end(() => done());
          } else done();
        });
        ws?.on('error', reject);
      }),
    );
  };

  const parser = new Parser({ strict: true, maxDecompressionRatio: Infinity, onReadEntry: onEntry });
  try {
    await new Promise<void>((resolve, reject) => {
      const input = createReadStream(file, { highWaterMark: 1024 * 1024 });
      input.on('error', reject);
      parser.on('error', reject);
      parser.on('abort', reject);
      parser.on('close', () => resolve());
      parser.on('end', () => resolve());
      input.pipe(parser as unknown as NodeJS.WritableStream);
    });
    await Promise.all(pending);
  } catch (err) {
    // A truncated entry never ends: close what is open rather than wait for it.
    await Promise.all([...openStreams].map((w) => new Promise<void>((r) => w.destroy().once('close', () => r()))));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EIO') {
      throw infraError(`while reading archive ${file}: ${(err as Error).message}`, { cause: err });
    }
    return { ok: false, reason: `archive is damaged or not a gzip tarball: ${(err as Error).message}` };
  }
  if (refusal) return { ok: false, reason: refusal };

  if (!manifestBytes) return { ok: false, reason: 'manifest.json is missing (truncated archive, or not made by qdrant-upgrade-guard)' };
  const parsed = parseManifest(manifestBytes);
  if (!parsed.ok) return { ok: false, reason: parsed.error };
  const manifest = parsed.manifest;
  for (const f of manifest.files) {
    const problem = entryPathProblem(f.path);
    if (problem || f.path === MANIFEST_NAME) return { ok: false, reason: `manifest.json lists ${JSON.stringify(f.path)}, which ${problem ?? 'is the manifest itself'}`, manifest };
    const got = seen.get(f.path);
    if (!got) return { ok: false, reason: `${f.path} is listed in manifest.json but not in the archive`, manifest };
    if (got.size !== f.size) return { ok: false, reason: `${f.path} is ${got.size} bytes, manifest.json says ${f.size}`, manifest };
    if (got.sha256 !== f.sha256) {
      return { ok: false, reason: `${f.path} has sha256 ${got.sha256}, manifest.json says ${f.sha256} (checksum mismatch)`, manifest };
    }
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const rel of seen.keys()) {
    if (rel !== MANIFEST_NAME && !listed.has(rel)) return { ok: false, reason: `${rel} is in the archive but not in manifest.json`, manifest };
  }
  const jsonBytes = stateFiles.get(STATE_JSON);
  const legacyBytes = stateFiles.get(STATE_LEGACY);
  if (!jsonBytes && !legacyBytes) return { ok: false, reason: 'the archive holds no raft_state.json (nor legacy raft_state)', manifest };

  let raftState: RaftState | undefined;
  if (jsonBytes) {
    const s = parseRaftStateJson(jsonBytes);
    if (!s.ok) return { ok: false, reason: `archived raft_state.json ${s.problem.message}`, manifest };
    raftState = s.state;
  } else if (legacyBytes) {
    const s = decodeLegacyRaftState(legacyBytes);
    if (s.ok) raftState = s.state;
    else if (!s.decoded) return { ok: false, reason: `archived raft_state ${s.problem.message}`, manifest };
  }
  if (raftState && raftState.thisPeerId !== manifest.peerId) {
    return { ok: false, reason: `archived state is peer ${raftState.thisPeerId}, manifest.json says ${manifest.peerId}`, manifest };
  }
  const files = [...seen.values()].filter((f) => f.path !== MANIFEST_NAME);
  return { ok: true, manifest, ...(raftState ? { raftState } : {}), files, directories, totalBytes };
}
