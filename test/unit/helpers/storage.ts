/**
 * Builds real Qdrant-like storage dirs in temp folders from the shared fixtures, and hand-made tarballs
 * (hostile ones included) for archive tests. Not a test double: the code under test reads real files.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { Header } from 'tar';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const fixturesDir = path.resolve(repoRoot, 'test/fixtures/raft-state');

export function fixture(rel: string): string {
  return path.join(fixturesDir, rel);
}

export const THREE_PEER_0 = 'constructed/v1.13.4_cluster-3peer_qdrant-0.json';
export const THREE_PEER_1 = 'constructed/v1.13.4_cluster-3peer_qdrant-1.json';
export const LEGACY_BIGINT = 'constructed/legacy-bigint_created-v1.1_running-v1.13.4_cluster-2peer.json';

const made: string[] = [];

export async function tempDir(prefix = 'qug-'): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

export async function cleanupTempDirs(): Promise<void> {
  while (made.length > 0) await fs.rm(made.pop()!, { recursive: true, force: true }).catch(() => undefined);
}

export interface StorageSpec {
  /** A fixture path (relative to fixtures/raft-state), or raw content for raft_state.json. */
  stateFixture?: string;
  state?: string | Buffer;
  legacy?: Buffer;
  /** WAL segment sizes in bytes; [] creates an empty collections_meta_wal/. */
  wal?: number[];
  collections?: string[];
  aliases?: boolean;
}

/** Deterministic, incompressible-ish segment content so checksums are stable. */
export function segmentBytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(`seg-${seed}`).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, size - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export async function makeStorage(spec: StorageSpec, dir?: string): Promise<string> {
  const d = dir ?? (await tempDir('qug-storage-'));
  if (spec.stateFixture) await fs.copyFile(fixture(spec.stateFixture), path.join(d, 'raft_state.json'));
  if (spec.state !== undefined) await fs.writeFile(path.join(d, 'raft_state.json'), spec.state);
  if (spec.legacy) await fs.writeFile(path.join(d, 'raft_state'), spec.legacy);
  if (spec.wal) {
    await fs.mkdir(path.join(d, 'collections_meta_wal'));
    for (const [i, size] of spec.wal.entries()) {
      await fs.writeFile(path.join(d, 'collections_meta_wal', `open-${i + 1}`), segmentBytes(size, i));
    }
  }
  for (const c of spec.collections ?? []) {
    await fs.mkdir(path.join(d, 'collections', c, '0'), { recursive: true });
    await fs.writeFile(path.join(d, 'collections', c, 'config.json'), '{}');
  }
  if (spec.aliases) {
    await fs.mkdir(path.join(d, 'aliases'));
    await fs.writeFile(path.join(d, 'aliases', 'data.json'), '{}');
  }
  return d;
}

/** sha256 of every file under dir, keyed by relative path: to prove a tree was not touched. */
export async function treeDigest(dir: string, skip: (rel: string) => boolean = () => false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      if (e.isDirectory()) await walk(r);
      else if (e.isSymbolicLink()) out[r] = `link:${await fs.readlink(path.join(dir, r))}`;
      else out[r] = createHash('sha256').update(await fs.readFile(path.join(dir, r))).digest('hex');
    }
  };
  await walk('');
  return out;
}

export interface TarEntrySpec {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  body?: Buffer | string;
  linkpath?: string;
}

/** A gzip tarball built block by block, so tests can write what a well-behaved tar never would. */
export function buildTarGz(entries: TarEntrySpec[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    const type = e.type ?? 'File';
    const h = new Header({
      path: e.path,
      type,
      size: type === 'File' ? body.length : 0,
      mode: type === 'Directory' ? 0o755 : 0o644,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && body.length > 0) {
      blocks.push(body);
      if (body.length % 512) blocks.push(Buffer.alloc(512 - (body.length % 512)));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A manifest.json for hand-made archives, listing the given files with their real checksums. */
export function manifestFor(files: { path: string; body: Buffer | string }[], peerId: string, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    formatVersion: 1,
    tool: 'test',
    createdAt: '2025-03-21T10:15:02.000Z',
    statefulSet: 'qdrant',
    ordinal: 0,
    pod: 'qdrant-0',
    fromVersion: '1.13.4',
    toVersion: '1.13.5',
    storagePath: '/qdrant/storage',
    classification: 'initialized',
    stateFormat: 'json',
    peerId,
    term: '7',
    commit: '1342',
    directories: [],
    files: files.map((f) => ({ path: f.path, size: Buffer.from(f.body).length, sha256: sha256(f.body) })),
    ...overrides,
  });
}
