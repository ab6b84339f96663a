/**
 * Writes one raft-state archive (README.md "Archives and restore").
 *
 * - raft_state.json goes in first, from the exact bytes the classification parsed; the WAL is read after it.
 *   A state whose commit is behind the log is consistent for Raft; a log behind the state is not.
 * - Files stream through tar headers (the `tar` package's Header/Pax), gzip level 6 (the default of
 *   `tar czf`, so the benchmark compares like with like) and sha256, in 1 MiB reads into two reused
 *   buffers: the WAL is never buffered. zlib's output chunk stays at its 16 KiB default: bigger chunks
 *   were no faster and raised peak RSS by ~10 MiB (bench/volume.bench.ts).
 * - The tarball is written to a hidden temp name in the archive dir, fsynced, renamed, and the dir fsynced:
 *   a crash or a full disk leaves no half archive under the real name, and the temp file is removed on error.
 * - manifest.json is the last entry because its checksums are those of the bytes actually archived.
 */
import { constants as fsConstants, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Header, Pax } from 'tar';
import { GuardError, infraError, wrapError } from '../errors.js';
import { ensureDir } from '../storage/dirs.js';
import { STATE_JSON, STATE_LEGACY, WAL_DIR, type StorageInspection } from '../storage/inspect.js';
import { MANIFEST_FORMAT_VERSION, MANIFEST_NAME, MAX_MANIFEST_BYTES, type Manifest, type ManifestFile } from './manifest.js';
import { archiveName, type PodIdentity } from './name.js';

export const GZIP_LEVEL = 6;
const READ_CHUNK = 1024 * 1024;
const BLOCK = 512;
export const TOOL_ID = 'qdrant-upgrade-guard/1';

/** The file-system calls that can fail for reasons outside our control; tests inject failures here. */
export interface ArchiveIo {
  createWriteStream(file: string): Writable;
}
export const nodeArchiveIo: ArchiveIo = {
  createWriteStream: (file) => createWriteStream(file, { flags: 'wx', mode: 0o600 }),
};

export interface WriteArchiveOptions {
  inspection: StorageInspection;
  archiveDir: string;
  pod: PodIdentity;
  podName: string;
  from: string;
  to: string;
  now: Date;
  io?: ArchiveIo;
  /** Tests only: below the shared MAX_MANIFEST_BYTES, so the refusal can be shown without 30,000 files. */
  maxManifestBytes?: number;
}

/** The archive's manifest.json would exceed what `restore` reads: refused before anything is written. */
export class ManifestTooLarge extends Error {}

export interface WrittenArchive {
  name: string;
  path: string;
  sha256: string;
  bytes: number;
  manifest: Manifest;
}

/** A WAL segment that changed size or vanished while read: Qdrant rotated it; the caller retries. */
class ChangedWhileReading extends Error {}

function header(data: {
  path: string;
  type: 'File' | 'Directory';
  size: number;
  mode: number;
  mtime: Date;
}): Buffer[] {
  const h = new Header({
    path: data.path,
    type: data.type,
    size: data.size,
    mode: data.mode,
    mtime: data.mtime,
    uid: 1000,
    gid: 1000,
    uname: '',
    gname: '',
  });
  const block = Buffer.alloc(BLOCK);
  const needPax = h.encode(block, 0);
  if (!needPax) return [block];
  // Long names: a PAX extended header carries the full path, as tar(1) does.
  const pax = new Pax({ path: data.path, mtime: data.mtime, size: data.size }).encode();
  return [pax, block];
}

function padding(size: number): Buffer | undefined {
  const rem = size % BLOCK;
  return rem === 0 ? undefined : Buffer.alloc(BLOCK - rem);
}

interface WalFile {
  rel: string;
  abs: string;
  size: number;
  mode: number;
  mtime: Date;
}

async function listWal(storage: string): Promise<{ dirs: { rel: string; mtime: Date; mode: number }[]; files: WalFile[] }> {
  const dirs: { rel: string; mtime: Date; mode: number }[] = [];
  const files: WalFile[] = [];
  const walk = async (rel: string) => {
    const abs = path.join(storage, rel);
    const st = await fs.lstat(abs);
    if (!st.isDirectory()) return;
    dirs.push({ rel, mtime: st.mtime, mode: st.mode & 0o777 });
    const entries = await fs.readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const childRel = `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(childRel);
      else if (e.isFile()) {
        const fst = await fs.lstat(path.join(storage, childRel));
        files.push({ rel: childRel, abs: path.join(storage, childRel), size: fst.size, mode: fst.mode & 0o777, mtime: fst.mtime });
      }
      // Links and special files are not part of a WAL and are never archived.
    }
  };
  try {
    await walk(WAL_DIR);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { dirs, files };
}

/** Writes into the gzip stream; resolves once zlib has consumed the chunk, so its buffer may be reused. */
type Sink = (chunk: Buffer) => Promise<void>;

/**
 * Streams one file into the sink with two read buffers used in turn: the next read overlaps the
 * compression of the previous chunk, and memory stays flat however big the WAL is.
 */
async function streamFile(f: WalFile, hash: ReturnType<typeof createHash>, sink: Sink): Promise<void> {
  let fh;
  try {
    fh = await fs.open(f.abs, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ChangedWhileReading(`${f.rel} vanished`);
    throw err;
  }
  const buffers = [Buffer.allocUnsafe(Math.min(READ_CHUNK, f.size)), Buffer.allocUnsafe(Math.min(READ_CHUNK, f.size))];
  let pending: Promise<void> | undefined;
  try {
    let left = f.size;
    for (let turn = 0; left > 0; turn ^= 1) {
      // This buffer's previous write was awaited before the other buffer's write was issued.
      const buf = buffers[turn]!;
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), null);
      if (bytesRead === 0) throw new ChangedWhileReading(`${f.rel} shrank while being read`);
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      left -= bytesRead;
      if (pending) await pending;
      pending = sink(chunk);
    }
    if (pending) await pending;
  } finally {
    await pending?.catch(() => undefined);
    await fh.close();
  }
}

function manifestOf(opts: WriteArchiveOptions, directories: string[], files: ManifestFile[]): Manifest {
  const { inspection } = opts;
  const state = inspection.state!;
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    tool: TOOL_ID,
    createdAt: opts.now.toISOString(),
    statefulSet: opts.pod.statefulSet,
    ordinal: opts.pod.ordinal,
    pod: opts.podName,
    fromVersion: opts.from,
    toVersion: opts.to,
    storagePath: inspection.storagePath,
    classification: inspection.classification,
    stateFormat: state.format,
    peerId: state.thisPeerId,
    term: state.term,
    commit: state.commit,
    directories,
    files,
  };
}

function manifestBytes(m: Manifest): Buffer {
  return Buffer.from(JSON.stringify(m, null, 2) + '\n');
}

/**
 * The manifest's size is known before a byte is written (a sha256 is always 64 hex digits): an archive whose
 * manifest `restore` would refuse is never written.
 */
function checkManifestSize(opts: WriteArchiveOptions, stateName: string, wal: Awaited<ReturnType<typeof listWal>>): void {
  const limit = opts.maxManifestBytes ?? MAX_MANIFEST_BYTES;
  const zero = '0'.repeat(64);
  const files: ManifestFile[] = [{ path: stateName, size: opts.inspection.stateBytes!.length, sha256: zero }];
  if (stateName === STATE_JSON && opts.inspection.evidence.legacyStatePresent) files.push({ path: STATE_LEGACY, size: Number.MAX_SAFE_INTEGER, sha256: zero });
  for (const f of wal.files) files.push({ path: f.rel, size: f.size, sha256: zero });
  const size = manifestBytes(manifestOf(opts, wal.dirs.map((d) => d.rel), files)).length;
  if (size > limit) {
    throw new ManifestTooLarge(
      `the archive's manifest.json would be ${size} bytes for ${files.length} files (${wal.files.length} in ${WAL_DIR}/), above the ${limit}-byte limit restore reads; not archived`,
    );
  }
}

async function writeOnce(opts: WriteArchiveOptions, name: string, tmp: string): Promise<WrittenArchive> {
  const { inspection } = opts;
  const stateBytes = inspection.stateBytes!;
  const stateName = inspection.stateFile?.name ?? STATE_JSON;
  const now = opts.now;
  const files: ManifestFile[] = [];
  const dirs: string[] = [];

  const wal = await listWal(inspection.storagePath);
  checkManifestSize(opts, stateName, wal);

  const archiveHash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      archiveHash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const gzip = zlib.createGzip({ level: GZIP_LEVEL, chunkSize: 16 * 1024 });
  const out = (opts.io ?? nodeArchiveIo).createWriteStream(tmp);
  const done = pipeline(gzip, tap, out);
  // A failure downstream (ENOSPC, EROFS) rejects `done`; a write waiting on zlib must see it too.
  const failed = new Promise<never>((_resolve, reject) => void done.catch(reject));
  failed.catch(() => undefined);
  const sink: Sink = (chunk) =>
    Promise.race([failed, new Promise<void>((resolve, reject) => void gzip.write(chunk, (err) => (err ? reject(err) : resolve())))]);
  const put = async (...chunks: (Buffer | undefined)[]) => {
    for (const c of chunks) if (c && c.length > 0) await sink(c);
  };
  const putFile = async (f: WalFile) => {
    const hash = createHash('sha256');
    await put(...header({ path: f.rel, type: 'File', size: f.size, mode: f.mode, mtime: f.mtime }));
    await streamFile(f, hash, sink);
    await put(padding(f.size));
    files.push({ path: f.rel, size: f.size, sha256: hash.digest('hex') });
  };

  try {
    // 1. The state file, from the bytes already read and parsed (read before the WAL, see header comment).
    await put(...header({ path: stateName, type: 'File', size: stateBytes.length, mode: 0o644, mtime: now }), stateBytes, padding(stateBytes.length));
    files.push({ path: stateName, size: stateBytes.length, sha256: createHash('sha256').update(stateBytes).digest('hex') });
    // A legacy file beside the JSON one is kept too: Qdrant reads it when the JSON one is missing.
    if (stateName === STATE_JSON && inspection.evidence.legacyStatePresent) {
      const legacyPath = path.join(inspection.storagePath, STATE_LEGACY);
      const st = await fs.lstat(legacyPath).catch(() => undefined);
      if (st?.isFile()) await putFile({ rel: STATE_LEGACY, abs: legacyPath, size: st.size, mode: 0o644, mtime: st.mtime });
    }
    // 2. The consensus WAL, streamed (listed before the state was put in, see above).
    for (const d of wal.dirs) {
      await put(...header({ path: `${d.rel}/`, type: 'Directory', size: 0, mode: d.mode | 0o700, mtime: d.mtime }));
      dirs.push(d.rel);
    }
    for (const f of wal.files) await putFile(f);
  } catch (err) {
    gzip.destroy();
    await done.catch(() => undefined);
    throw err;
  }
  // 3. The manifest, last: it carries the checksums of what was written above.
  const manifest = manifestOf(opts, dirs, files);
  const mbytes = manifestBytes(manifest);
  await put(...header({ path: MANIFEST_NAME, type: 'File', size: mbytes.length, mode: 0o644, mtime: now }), mbytes, padding(mbytes.length));
  await put(Buffer.alloc(BLOCK * 2)); // end-of-archive marker
  gzip.end();
  await done;

  // Durable before visible: fsync the file, rename, fsync the directory.
  const fh = await fs.open(tmp, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  const final = path.join(opts.archiveDir, name);
  await fs.rename(tmp, final);
  await fsyncDir(opts.archiveDir);
  return { name, path: final, sha256: archiveHash.digest('hex'), bytes, manifest };
}

export async function fsyncDir(dir: string): Promise<void> {
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } catch (err) {
    // Some file systems refuse fsync on a directory (EINVAL); the rename is still atomic there.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  } finally {
    await dh.close();
  }
}

export async function ensureArchiveDir(dir: string): Promise<void> {
  try {
    await ensureDir(dir, 0o750);
    const st = await fs.stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await fs.access(dir, fsConstants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw infraError(`archive directory ${dir} cannot be used (${code})`, {
      cause: err,
      remedy:
        'Mount a writable volume there (the storage volume, or snapshotPersistence with upgradeGuard.archive.location=snapshots), or pass another --archive-dir.',
    });
  }
}

/**
 * Archives the state file (already read and parsed in `inspection`) and the WAL. Retries up to 3 times if
 * Qdrant rotates a WAL segment underneath; removes its temp file on every failure.
 */
export async function writeArchive(opts: WriteArchiveOptions): Promise<WrittenArchive> {
  if (!opts.inspection.stateBytes || !opts.inspection.state) {
    throw new GuardError('internal', 'writeArchive called without a parsed raft state', {
      remedy: 'This is a bug in qdrant-upgrade-guard; please report it with this output.',
    });
  }
  await ensureArchiveDir(opts.archiveDir);
  const name = archiveName(opts.pod, opts.from, opts.to, opts.now);
  for (let attempt = 1; ; attempt++) {
    const tmp = path.join(opts.archiveDir, `.${name}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      return await writeOnce(opts, name, tmp);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      if (err instanceof ManifestTooLarge) throw err;
      if (err instanceof ChangedWhileReading && attempt < 3) continue;
      const code = (err as NodeJS.ErrnoException).code;
      if (err instanceof ChangedWhileReading || code) {
        throw infraError(`writing archive ${name} to ${opts.archiveDir} failed: ${(err as Error).message}`, {
          cause: err,
          transient: err instanceof ChangedWhileReading,
          remedy:
            code === 'ENOSPC'
              ? `The archive volume is full; the volume's raft state was not changed. Free space in ${opts.archiveDir} (or lower upgradeGuard.archive.keep) and retry.`
              : 'The volume itself was not changed. Check the archive volume (writable, space, permissions) and retry.',
        });
      }
      throw wrapError(err, `while writing archive ${name}`);
    }
  }
}
