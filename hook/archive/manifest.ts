/**
 * manifest.json inside every archive: what was archived, from which peer, with a sha256 per file.
 * It is the last entry of the tarball because the checksums are computed while the files stream in
 * (a WAL may be 100s of MiB; it is never buffered), see write.ts.
 */
import { parseLossless } from '../storage/raft-state.js';
import { JsonNumber } from '../storage/raft-state.js';

export const MANIFEST_NAME = 'manifest.json';
export const MANIFEST_FORMAT_VERSION = 1;
/**
 * The one limit on manifest.json, shared by the writer (which refuses up front, write.ts) and the reader: ~160 bytes
 * per file, so about 6,500 WAL files (a consensus WAL holds a handful of segments). Kept at 1 MiB because the
 * lossless parse of a hostile manifest costs ~40 bytes of memory per byte: 1 MiB stays far inside the container.
 */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  formatVersion: number;
  tool: string;
  createdAt: string;
  statefulSet: string;
  ordinal: number;
  pod: string;
  fromVersion: string;
  toVersion: string;
  storagePath: string;
  classification: string;
  stateFormat: 'json' | 'cbor-legacy';
  /** u64 values as decimal strings (docs/qdrant-facts.md#peer-ids-are-u64). */
  peerId: string;
  term: string;
  commit: string;
  directories: string[];
  files: ManifestFile[];
}

const STRING_FIELDS = [
  'tool',
  'createdAt',
  'statefulSet',
  'pod',
  'fromVersion',
  'toVersion',
  'storagePath',
  'classification',
  'stateFormat',
  'peerId',
  'term',
  'commit',
] as const;

/** Parses and checks a manifest; returns the errors instead of throwing (a hostile archive is a verdict). */
export function parseManifest(bytes: Buffer): { ok: true; manifest: Manifest } | { ok: false; error: string } {
  let tree: unknown;
  try {
    tree = parseLossless(bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, error: `manifest.json is not valid JSON: ${(err as Error).message}` };
  }
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return { ok: false, error: 'manifest.json is not an object' };
  const m = tree as Record<string, unknown>;
  const num = (v: unknown): number | undefined =>
    v instanceof JsonNumber && /^(0|[1-9]\d{0,14})$/.test(v.text) ? Number(v.text) : undefined;
  const formatVersion = num(m.formatVersion);
  if (formatVersion !== MANIFEST_FORMAT_VERSION) {
    return { ok: false, error: `manifest.json formatVersion is ${String((m.formatVersion as JsonNumber)?.text ?? m.formatVersion)}, this tool reads ${MANIFEST_FORMAT_VERSION}` };
  }
  for (const f of STRING_FIELDS) {
    if (typeof m[f] !== 'string') return { ok: false, error: `manifest.json ${f}: expected a string` };
  }
  const ordinal = num(m.ordinal);
  if (ordinal === undefined) return { ok: false, error: 'manifest.json ordinal: expected a non-negative integer' };
  if (!Array.isArray(m.directories) || !m.directories.every((d) => typeof d === 'string')) {
    return { ok: false, error: 'manifest.json directories: expected an array of strings' };
  }
  if (!Array.isArray(m.files)) return { ok: false, error: 'manifest.json files: expected an array' };
  const files: ManifestFile[] = [];
  for (const [i, f] of m.files.entries()) {
    const o = f as Record<string, unknown>;
    const size = num(o?.size);
    if (typeof o?.path !== 'string' || size === undefined || typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) {
      return { ok: false, error: `manifest.json files[${i}]: expected {path, size, sha256}` };
    }
    files.push({ path: o.path, size, sha256: o.sha256 });
  }
  const manifest = { ...(m as unknown as Manifest), formatVersion, ordinal, files, directories: m.directories as string[] };
  return { ok: true, manifest };
}
