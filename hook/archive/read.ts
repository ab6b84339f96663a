/**
 * Reads a raft-state archive entry by entry and checks it completely: every entry is a regular file or
 * directory on the allow-list (manifest.json, raft_state.json, raft_state, collections_meta_wal/...),
 * no path escapes the target (`..`, absolute), no links or devices, every sha256 and size matches the
 * manifest, and the state file is a valid raft state of the peer the manifest names.
 * Optionally extracts into a staging dir at the same time (restore's second pass).
 * A hostile or damaged archive is a refusal with a reason, not an exception.
 */
import { closeSync, createReadStream, fsyncSync, openSync, promises as fs, writeSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Parser, type ReadEntry } from 'tar';
import { infraError, usageError } from '../errors.js';
import { ensureDirSync } from '../storage/dirs.js';
import { STATE_JSON, STATE_LEGACY, WAL_DIR } from '../storage/inspect.js';
import { decodeLegacyRaftState, parseRaftStateJson, type RaftState } from '../storage/raft-state.js';
import { DEFAULT_MAX_STATE_BYTES } from '../storage/state-file.js';
import { MANIFEST_NAME, MAX_MANIFEST_BYTES, parseManifest, type Manifest, type ManifestFile } from './manifest.js';

/** Upper bound on what one archive may expand to (a gzip bomb stops here). Consensus WALs are MiBs. */
export const DEFAULT_MAX_ARCHIVE_BYTES = 16 * 1024 * 1024 * 1024;
/** Linux NAME_MAX and PATH_MAX - 1: a longer entry could never be created, so it is refused before staging. */
export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4095;
/**
 * Inflated bytes beyond what the tar entries account for (headers, data, padding). A real archive has 1 KiB of
 * end marker and up to one 10 KiB record of padding; a gzip bomb of zeros is refused once it passes this.
 */
const MAX_UNACCOUNTED_BYTES = 1024 * 1024;
/** Read and inflate in 64 KiB steps: zlib honours back-pressure, so memory stays flat whatever the ratio. */
const STEP = 64 * 1024;

const TOP_LEVEL_FILES = new Set([MANIFEST_NAME, STATE_JSON, STATE_LEGACY]);

/**
 * Why an entry path may not be restored, or undefined if it may. A directory is marked by a trailing slash or
 * by `isDir`. Only `collections_meta_wal/` and what is below it may be directories; files are the manifest, the
 * two state files and WAL files inside `collections_meta_wal/`.
 */
export function entryPathProblem(p: string, isDir = p.endsWith('/')): string | undefined {
  if (p.length === 0) return 'has an empty path';
  if (p.includes('\0')) return 'has a NUL byte in its path';
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.includes('\\')) return 'has an absolute path';
  const segments = p.replace(/\/+$/, '').split('/');
  if (segments.includes('..')) return 'escapes the target directory (..)';
  if (segments.some((s) => s === '' || s === '.')) return 'has an unexpected path form';
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes, more than a Linux path can be`;
  if (segments.some((s) => Buffer.byteLength(s) > MAX_NAME_BYTES)) return `has a name longer than ${MAX_NAME_BYTES} bytes, more than a Linux file name can be`;
  const top = segments[0]!;
  if (isDir) {
    if (top !== WAL_DIR) return `is a directory, and only ${WAL_DIR}/ and its subdirectories may be`;
    return undefined;
  }
  if (segments.length === 1) {
    if (top === WAL_DIR) return `is a file, but ${WAL_DIR} must be a directory`;
    if (!TOP_LEVEL_FILES.has(top)) return 'is not an entry a raft-state archive holds';
    return undefined;
  }
  if (top !== WAL_DIR) return 'is not an entry a raft-state archive holds';
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
  /** Extract files into this existing directory while checking (every write and fsync checked). */
  extractTo?: string;
  maxTotalBytes?: number;
  /** Largest state file entry (`--max-state-bytes`); DEFAULT_MAX_STATE_BYTES when absent. */
  maxStateBytes?: number;
}

export type ScanResult =
  | {
      ok: true;
      manifest: Manifest;
      raftState: RaftState;
      /** Files as found in the archive (path, size, sha256). */
      files: ManifestFile[];
      directories: string[];
      totalBytes: number;
    }
  | {
      ok: false;
      reason: string;
      manifest?: Manifest;
      /** Set when the archive was fine so far but writing the staged copy failed (errno code, e.g. ENOSPC). */
      stagingError?: string;
    };

/** Thrown inside the stream pipeline to stop reading; becomes a refusal. */
class Refusal extends Error {}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}${e.syscall ? ` (${e.syscall})` : ''}` : String((err as Error)?.message ?? err);
}

/** Writes all of `chunk` (write(2) may write less than asked). */
function writeFully(fd: number, chunk: Buffer): void {
  let off = 0;
  while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
}

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
  let stagingError: string | undefined;
  const seen = new Map<string, ManifestFile>();
  const directories: string[] = [];
  const dirSet = new Set<string>();
  const impliedDirs = new Set<string>();
  const pending: Promise<void>[] = [];
  /** Files still open in the staging dir, closed on any failure. */
  const openFds = new Set<number>();
  let manifestBytes: Buffer | undefined;
  const stateFiles = new Map<string, Buffer>();
  let totalBytes = 0;
  /** Bytes of tar stream the entries account for (header + data + padding), to bound the unaccounted rest. */
  let accounted = 0;
  const root = options.extractTo ? path.resolve(options.extractTo) : undefined;

  const stageFailed = (what: string, err: unknown) => {
    stagingError ??= (err as NodeJS.ErrnoException).code ?? 'EIO';
    refuse(`writing the staged copy failed: ${what}: ${errnoText(err)}`);
  };

  const handleEntry = (entry: ReadEntry) => {
    // 1 KiB more per entry for a PAX header, which the parser consumes without an entry of its own.
    accounted += 1536 + Math.ceil((entry.size ?? 0) / 512) * 512;
    if (refusal) {
      entry.resume();
      return;
    }
    const p = entry.path;
    const problem = typeProblem(entry) ?? entryPathProblem(p, entry.type === 'Directory');
    if (problem) {
      refuse(`entry ${JSON.stringify(p)} ${problem}`);
      entry.resume();
      return;
    }
    const rel = p.replace(/\/+$/, '');
    if (seen.has(rel) || dirSet.has(rel)) {
      refuse(`entry ${JSON.stringify(rel)} appears twice`);
      entry.resume();
      return;
    }
    // A path cannot be a file and a directory at once (the second could never be created).
    const segments = rel.split('/');
    for (let k = 1; k < segments.length; k++) {
      const ancestor = segments.slice(0, k).join('/');
      if (seen.has(ancestor)) {
        refuse(`entry ${JSON.stringify(rel)} lies below ${JSON.stringify(ancestor)}, which the archive holds as a file`);
        entry.resume();
        return;
      }
      impliedDirs.add(ancestor);
    }
    if (entry.type !== 'Directory' && impliedDirs.has(rel)) {
      refuse(`entry ${JSON.stringify(rel)} is a file, but other entries lie below it`);
      entry.resume();
      return;
    }
    if (entry.type === 'Directory') {
      directories.push(rel);
      dirSet.add(rel);
      if (root) {
        try {
          ensureDirSync(path.join(root, rel), 0o755);
        } catch (err) {
          stageFailed(`creating ${rel}/`, err);
        }
      }
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
      rel === MANIFEST_NAME ? MAX_MANIFEST_BYTES : rel === STATE_JSON || rel === STATE_LEGACY ? (options.maxStateBytes ?? DEFAULT_MAX_STATE_BYTES) : 0;
    if (keep > 0 && entry.size > keep) {
      refuse(`entry ${rel} is ${entry.size} bytes, more than the ${keep} bytes it can be`);
      entry.resume();
      return;
    }
    const hash = createHash('sha256');
    // The entry's declared size is known (and bounded above): one buffer, never chunks plus their concatenation.
    const kept = keep > 0 ? Buffer.allocUnsafe(entry.size) : undefined;
    let size = 0;
    let fd: number | undefined;
    if (root && rel !== MANIFEST_NAME) {
      const dest = path.join(root, rel);
      if (!path.resolve(dest).startsWith(root + path.sep)) {
        refuse(`entry ${rel} escapes the target directory`);
        entry.resume();
        return;
      }
      try {
        ensureDirSync(path.dirname(dest), 0o755);
        // Owner read/write always: a WAL file archived with mode 000 must still be readable by Qdrant (uid 1000).
        fd = openSync(dest, 'wx', ((entry.mode ?? 0o644) & 0o755) | 0o600);
        openFds.add(fd);
      } catch (err) {
        stageFailed(`creating ${rel}`, err);
        entry.resume();
        return;
      }
    }
    const closeFd = () => {
      if (fd === undefined) return;
      openFds.delete(fd);
      const f = fd;
      fd = undefined;
      closeSync(f);
    };
    pending.push(
      new Promise<void>((resolve) => {
        entry.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          size += chunk.length;
          if (kept && size <= kept.length) chunk.copy(kept, size - chunk.length);
          if (fd !== undefined) {
            try {
              writeFully(fd, chunk);
            } catch (err) {
              stageFailed(`writing ${rel}`, err);
              try {
                closeFd();
              } catch {
                // the write error is the one reported
              }
            }
          }
        });
        entry.on('end', () => {
          if (fd !== undefined) {
            try {
              fsyncSync(fd);
              closeFd();
            } catch (err) {
              stageFailed(`fsync of ${rel}`, err);
            }
          }
          seen.set(rel, { path: rel, size, sha256: hash.digest('hex') });
          const whole = kept && size === kept.length ? kept : kept?.subarray(0, Math.min(size, kept.length));
          if (rel === MANIFEST_NAME) manifestBytes = whole;
          else if (whole) stateFiles.set(rel, whole);
          resolve();
        });
      }),
    );
  };

  const onEntry = (entry: ReadEntry) => {
    try {
      handleEntry(entry);
    } catch (err) {
      // Nothing inside an entry handler may escape as an exception: it would leave the parse hanging.
      refuse(`entry ${JSON.stringify(entry.path)} could not be handled: ${errnoText(err)}`);
      entry.resume();
    }
  };

  const parser = new Parser({ strict: true, maxDecompressionRatio: Infinity, brotli: false, zstd: false, onReadEntry: onEntry });
  let inflated = 0;
  let sniffed = false;
  const meter = new Transform({
    highWaterMark: STEP,
    transform(chunk: Buffer, _enc, cb) {
      if (!sniffed) {
        sniffed = true;
        // The tar parser would inflate a second layer on its own, without our bounds.
        if ((chunk[0] === 0x1f && chunk[1] === 0x8b) || (chunk[0] === 0x28 && chunk[1] === 0xb5)) {
          cb(new Refusal('the gzip stream holds another compressed stream, not a tar archive'));
          return;
        }
      }
      inflated += chunk.length;
      if (inflated > accounted + MAX_UNACCOUNTED_BYTES + STEP * 2) {
        cb(new Refusal(`the gzip stream inflates to more than its tar entries account for (over ${inflated} bytes; a gzip bomb?)`));
        return;
      }
      if (inflated > maxTotal + MAX_UNACCOUNTED_BYTES) {
        cb(new Refusal(`archive expands to more than ${maxTotal} bytes`));
        return;
      }
      cb(null, chunk);
    },
  });
  const parserDone = new Promise<void>((resolve, reject) => {
    parser.on('error', reject);
    parser.on('abort', reject);
    parser.on('close', () => resolve());
    parser.on('end', () => resolve());
  });
  try {
    await Promise.all([
      pipeline(
        createReadStream(file, { highWaterMark: STEP }),
        createGunzip({ chunkSize: STEP }),
        meter,
        parser as unknown as NodeJS.WritableStream,
      ),
      parserDone,
    ]);
    await Promise.all(pending);
  } catch (err) {
    for (const fd of [...openFds]) {
      openFds.delete(fd);
      try {
        closeSync(fd);
      } catch {
        // already failing
      }
    }
    if (err instanceof Refusal) return { ok: false, reason: err.message };
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EIO' || code === 'EISDIR') {
      throw infraError(`while reading archive ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (refusal) return { ok: false, reason: refusal, ...(stagingError ? { stagingError } : {}) };
    return { ok: false, reason: `archive is damaged or not a gzip tarball: ${(err as Error).message}` };
  }
  if (refusal) return { ok: false, reason: refusal, ...(stagingError ? { stagingError } : {}) };

  if (!manifestBytes) return { ok: false, reason: 'manifest.json is missing (truncated archive, or not made by qdrant-upgrade-guard)' };
  const parsed = parseManifest(manifestBytes);
  if (!parsed.ok) return { ok: false, reason: parsed.error };
  const manifest = parsed.manifest;
  for (const f of manifest.files) {
    const problem = entryPathProblem(f.path, false);
    if (problem || f.path === MANIFEST_NAME) return { ok: false, reason: `manifest.json lists ${JSON.stringify(f.path)}, which ${problem ?? 'is the manifest itself'}`, manifest };
    const got = seen.get(f.path);
    if (!got) return { ok: false, reason: `${f.path} is listed in manifest.json but not in the archive`, manifest };
    if (got.size !== f.size) return { ok: false, reason: `${f.path} is ${got.size} bytes, manifest.json says ${f.size}`, manifest };
    if (got.sha256 !== f.sha256) {
      return { ok: false, reason: `${f.path} has sha256 ${got.sha256}, manifest.json says ${f.sha256} (checksum mismatch)`, manifest };
    }
  }
  for (const d of manifest.directories) {
    const problem = entryPathProblem(d, true);
    if (problem) return { ok: false, reason: `manifest.json lists directory ${JSON.stringify(d)}, which ${problem}`, manifest };
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const rel of seen.keys()) {
    if (rel !== MANIFEST_NAME && !listed.has(rel)) return { ok: false, reason: `${rel} is in the archive but not in manifest.json`, manifest };
  }
  const state = judgeArchivedState(stateFiles.get(STATE_JSON), stateFiles.get(STATE_LEGACY), manifest);
  if (!state.ok) return { ok: false, reason: state.reason, manifest };
  const files = [...seen.values()].filter((f) => f.path !== MANIFEST_NAME);
  return { ok: true, manifest, raftState: state.raftState, files, directories, totalBytes };
}

/**
 * The state Qdrant would load from what the archive restores (raft_state.json, else the legacy file), judged by
 * the same parser as `inspect`, and equal to what manifest.json says (peer, term, commit, format). A state that
 * cannot be validated is refused: restoring it would change the volume for nothing the guard could vouch for.
 */
export function judgeArchivedState(
  jsonBytes: Buffer | undefined,
  legacyBytes: Buffer | undefined,
  manifest: Manifest,
): { ok: true; raftState: RaftState } | { ok: false; reason: string } {
  let raftState: RaftState;
  if (jsonBytes) {
    const s = parseRaftStateJson(jsonBytes);
    if (!s.ok) return { ok: false, reason: `archived raft_state.json ${s.problem.message}` };
    raftState = s.state;
  } else if (legacyBytes) {
    const s = decodeLegacyRaftState(legacyBytes);
    if (!s.ok) {
      const why = s.decoded ? `is CBOR but not a raft state this tool can validate: ${s.errors[0]}` : s.problem.message;
      return { ok: false, reason: `archived raft_state ${why}` };
    }
    raftState = s.state;
  } else {
    return { ok: false, reason: 'the archive holds no raft_state.json (nor legacy raft_state) as a file' };
  }
  if (raftState.thisPeerId !== manifest.peerId) {
    return { ok: false, reason: `archived state is peer ${raftState.thisPeerId}, manifest.json says ${manifest.peerId}` };
  }
  const pairs: [string, string, string][] = [
    ['term', raftState.hardState.term, manifest.term],
    ['commit', raftState.hardState.commit, manifest.commit],
    ['stateFormat', raftState.format, manifest.stateFormat],
  ];
  for (const [field, parsed, said] of pairs) {
    if (parsed !== said) return { ok: false, reason: `archived state has ${field} ${parsed}, manifest.json says ${field} ${said}` };
  }
  return { ok: true, raftState };
}
