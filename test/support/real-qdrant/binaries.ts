/**
 * Finds real Qdrant server binaries by version in the folder named by QDRANT_BIN_DIR.
 *
 * Accepted layouts, first match wins:
 *   <dir>/qdrant-v<version>         an executable
 *   <dir>/v<version>/qdrant         one folder per version, as Qdrant's release archive
 *                                   qdrant-x86_64-unknown-linux-gnu.tar.gz unpacks
 *   <dir>/qdrant-v<version>.xz      unpacked once (xz -dc) into .cache/qdrant-bin/<version>/qdrant
 *
 * When <dir>/SOURCES.md lists a sha256 for a version (a table row naming `qdrant-v<version>` and a 64-hex
 * digest), the binary is checked against it; a mismatch is an error, never a silent fallback.
 * The cache is filled by writing a temporary file and renaming it, so concurrent callers (mocha files,
 * the kubelet stand-in) each see either no binary or a whole, verified one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

export interface QdrantBinary { version: string; path: string }

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const SHA = /\b[0-9a-f]{64}\b/;

/** QDRANT_BIN_DIR resolved to an absolute path, or undefined when unset or empty. */
export function qdrantBinDir(): string | undefined {
  const dir = process.env.QDRANT_BIN_DIR;
  return dir && dir.trim() !== '' ? path.resolve(dir.trim()) : undefined;
}

/** Where unpacked .xz binaries are kept; QDRANT_BIN_CACHE overrides it (the unit tests use a temp dir). */
function cacheRoot(): string {
  const over = process.env.QDRANT_BIN_CACHE;
  return over && over.trim() !== '' ? path.resolve(over.trim()) : path.join(repoRoot, '.cache', 'qdrant-bin');
}

function isExecutableFile(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Versions present in QDRANT_BIN_DIR in any accepted layout, ascending by semver. */
export function availableQdrantVersions(): string[] {
  const dir = qdrantBinDir();
  if (!dir) return [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const found = new Set<string>();
  for (const name of names) {
    let m = /^qdrant-v(.+?)(\.xz)?$/.exec(name);
    if (m && VERSION.test(m[1])) {
      const p = path.join(dir, name);
      if (m[2] ? isFile(p) : isExecutableFile(p)) found.add(m[1]);
      continue;
    }
    m = /^v(.+)$/.exec(name);
    if (m && VERSION.test(m[1]) && isExecutableFile(path.join(dir, name, 'qdrant'))) found.add(m[1]);
  }
  return [...found].sort(semver.compare);
}

/** sha256 per version from SOURCES.md, read from the rows that name `qdrant-v<version>`. */
export function expectedSha256(dir: string, version: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, 'SOURCES.md'), 'utf8');
  } catch {
    return undefined;
  }
  const escaped = version.replace(/[.+-]/g, (c) => `\\${c}`);
  const named = new RegExp(`qdrant-v${escaped}(?![0-9]|-[0-9A-Za-z])`);
  for (const line of text.split('\n')) {
    if (!named.test(line)) continue;
    const sha = SHA.exec(line);
    if (sha) return sha[0];
  }
  return undefined;
}

type Source =
  | { kind: 'executable'; path: string }
  | { kind: 'xz'; path: string };

function locate(dir: string, version: string): Source | undefined {
  if (!VERSION.test(version)) return undefined;
  const plain = path.join(dir, `qdrant-v${version}`);
  if (isExecutableFile(plain)) return { kind: 'executable', path: plain };
  const folder = path.join(dir, `v${version}`, 'qdrant');
  if (isExecutableFile(folder)) return { kind: 'executable', path: folder };
  const xz = path.join(dir, `qdrant-v${version}.xz`);
  if (isFile(xz)) return { kind: 'xz', path: xz };
  return undefined;
}

function mismatch(file: string, version: string, got: string, want: string, dir: string): Error {
  return new Error(
    `Qdrant ${version}: ${file} has sha256 ${got}, but ${path.join(dir, 'SOURCES.md')} lists ${want}. ` +
      'The binary is not the one described there (a partial copy or another build): replace it, or fix SOURCES.md.',
  );
}

function sha256FileSync(p: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

async function sha256File(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(p, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Hashing a 100 MB unoptimised binary costs a noticeable fraction of a second: once per file state per process. */
const verified = new Map<string, string>();
function fileKey(p: string): string {
  const st = fs.statSync(p);
  return `${p}\0${st.size}\0${st.mtimeMs}`;
}

/** The cache marker records which .xz (path, size, mtime) the cached binary came from and its digest. */
function markerFor(xz: string): string {
  const st = fs.statSync(xz);
  return JSON.stringify({ source: xz, size: st.size, mtimeMs: st.mtimeMs });
}

function cachePaths(version: string): { dir: string; bin: string; marker: string } {
  const dir = path.join(cacheRoot(), version);
  return { dir, bin: path.join(dir, 'qdrant'), marker: path.join(dir, 'source.json') };
}

function cacheHit(version: string, xz: string): string | undefined {
  const c = cachePaths(version);
  try {
    if (fs.readFileSync(c.marker, 'utf8') === markerFor(xz) && isExecutableFile(c.bin)) return c.bin;
  } catch {
    /* not cached yet */
  }
  return undefined;
}

function tmpName(dir: string, base: string): string {
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Moves a verified temp binary into place and writes the marker; both by rename, so readers never see halves. */
function publish(version: string, xz: string, tmpBin: string): string {
  const c = cachePaths(version);
  fs.chmodSync(tmpBin, 0o755);
  fs.renameSync(tmpBin, c.bin);
  const tmpMarker = tmpName(c.dir, 'source.json');
  fs.writeFileSync(tmpMarker, markerFor(xz));
  fs.renameSync(tmpMarker, c.marker);
  return c.bin;
}

function unpackSync(dir: string, version: string, xz: string): string {
  const hit = cacheHit(version, xz);
  if (hit) return hit;
  const c = cachePaths(version);
  fs.mkdirSync(c.dir, { recursive: true });
  const tmp = tmpName(c.dir, 'qdrant');
  const fd = fs.openSync(tmp, 'w', 0o700);
  try {
    const r = spawnSync('xz', ['-dc', xz], { stdio: ['ignore', fd, 'pipe'] });
    if (r.error) throw new Error(`Qdrant ${version}: cannot run xz to unpack ${xz}: ${r.error.message} (install xz-utils)`);
    if (r.status !== 0) throw new Error(`Qdrant ${version}: xz -dc ${xz} failed (exit ${r.status}): ${String(r.stderr).trim()}`);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  const want = expectedSha256(dir, version);
  if (want) {
    const got = sha256FileSync(tmp);
    if (got !== want) {
      fs.rmSync(tmp, { force: true });
      throw mismatch(`${xz} (unpacked)`, version, got, want, dir);
    }
  }
  return publish(version, xz, tmp);
}

async function unpack(dir: string, version: string, xz: string): Promise<string> {
  const hit = cacheHit(version, xz);
  if (hit) return hit;
  const c = cachePaths(version);
  await fs.promises.mkdir(c.dir, { recursive: true });
  const tmp = tmpName(c.dir, 'qdrant');
  const out = fs.createWriteStream(tmp, { mode: 0o700 });
  const hash = createHash('sha256');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('xz', ['-dc', xz], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      out.on('error', reject);
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => hash.update(d));
      child.stdout.pipe(out);
      child.on('error', (e) => reject(new Error(`Qdrant ${version}: cannot run xz to unpack ${xz}: ${e.message} (install xz-utils)`)));
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`Qdrant ${version}: xz -dc ${xz} failed (exit ${code}): ${stderr.trim()}`));
        // 'close', not 'finish': exec of a file whose write descriptor is still open fails with ETXTBSY.
        if (out.closed) resolve();
        else out.on('close', () => resolve());
      });
    });
  } catch (e) {
    out.destroy();
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  const want = expectedSha256(dir, version);
  const got = hash.digest('hex');
  if (want && got !== want) {
    await fs.promises.rm(tmp, { force: true });
    throw mismatch(`${xz} (unpacked)`, version, got, want, dir);
  }
  return publish(version, xz, tmp);
}

function checkExecutableSync(dir: string, version: string, p: string): void {
  const want = expectedSha256(dir, version);
  if (!want) return;
  const key = fileKey(p);
  const got = verified.get(key) ?? sha256FileSync(p);
  if (got !== want) throw mismatch(p, version, got, want, dir);
  verified.set(key, got);
}

async function checkExecutable(dir: string, version: string, p: string): Promise<void> {
  const want = expectedSha256(dir, version);
  if (!want) return;
  const key = fileKey(p);
  const got = verified.get(key) ?? (await sha256File(p));
  if (got !== want) throw mismatch(p, version, got, want, dir);
  verified.set(key, got);
}

/**
 * The executable for `version` (e.g. "1.13.5", no leading v), or undefined when QDRANT_BIN_DIR is unset or lacks
 * it. Throws when the binary is there but unusable (xz failed, sha256 differs from SOURCES.md).
 */
export async function resolveQdrantBinary(version: string): Promise<QdrantBinary | undefined> {
  const v = version.replace(/^v/, '');
  const dir = qdrantBinDir();
  if (!dir) return undefined;
  const src = locate(dir, v);
  if (!src) return undefined;
  if (src.kind === 'xz') return { version: v, path: await unpack(dir, v, src.path) };
  await checkExecutable(dir, v, src.path);
  return { version: v, path: src.path };
}

/** As resolveQdrantBinary, blocking: for callers that cannot await (the kubelet stand-in's container start). */
export function resolveQdrantBinarySync(version: string): QdrantBinary | undefined {
  const v = version.replace(/^v/, '');
  const dir = qdrantBinDir();
  if (!dir) return undefined;
  const src = locate(dir, v);
  if (!src) return undefined;
  if (src.kind === 'xz') return { version: v, path: unpackSync(dir, v, src.path) };
  checkExecutableSync(dir, v, src.path);
  return { version: v, path: src.path };
}
