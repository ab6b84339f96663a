/**
 * raft_state.json as Qdrant writes it (docs/qdrant-facts.md#peer-ids-are-u64): parsed losslessly (peer ids are u64
 * and may exceed 2^53, `first_voter` may be u64::MAX), written back compactly in serde's struct order
 * with u64s as bare JSON numbers, and replaced atomically the way the `atomicwrites` crate does it:
 * a temp file inside a fresh `.atomicwriteXXXXXX/` dir, fsync, rename over the target, fsync the
 * directory, remove the temp dir.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isLosslessNumber, parse, stringify } from 'lossless-json';
import { versionAtLeast } from './version.js';

/** Decimal string of a u64; never a JS number. */
export type U64 = string;

export interface RaftStateFile {
  hardState: { term: U64; vote: U64; commit: U64 };
  confState: { voters: U64[]; learners: U64[]; votersOutgoing: U64[]; learnersNext: U64[]; autoLeave: boolean };
  latestSnapshotMeta: { term: U64; index: U64 };
  /** `[current, last]` or null. Caught up = `[commit + 1, commit]`. */
  applyProgressQueue: [U64, U64] | null;
  /** Since 1.12.2; absent in older files. */
  firstVoter?: U64;
  /** Insertion-ordered: Qdrant writes a HashMap, any order is valid. */
  peerAddressById: Map<U64, string>;
  /** Since 1.8.0; undefined = the key is absent from the file. */
  peerMetadataById?: Map<U64, { version: string }>;
  /** Since 1.11.0; omitted from the file when empty. Kept as lossless-json values. */
  clusterMetadata?: Record<string, unknown>;
  thisPeerId: U64;
}

const U64_RE = /^(0|[1-9][0-9]*)$/;
const U64_MAX = 18446744073709551615n;

function u64(value: unknown, where: string): U64 {
  if (isLosslessNumber(value)) {
    const text = (value as { value: string }).value;
    if (U64_RE.test(text) && BigInt(text) <= U64_MAX) return text;
  }
  throw new Error(`raft state: ${where} is not a u64 (got ${describe(value)})`);
}

function describe(value: unknown): string {
  if (isLosslessNumber(value)) return (value as { value: string }).value;
  return typeof value === 'string' ? JSON.stringify(value) : String(value === null ? 'null' : typeof value);
}

function obj(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`raft state: ${where} is not an object`);
  }
  return value as Record<string, unknown>;
}

function u64List(value: unknown, where: string): U64[] {
  if (!Array.isArray(value)) throw new Error(`raft state: ${where} is not an array`);
  return value.map((v, i) => u64(v, `${where}[${i}]`));
}

function keyU64(key: string, where: string): U64 {
  if (!U64_RE.test(key)) throw new Error(`raft state: ${where} key ${JSON.stringify(key)} is not a peer id`);
  return key;
}

/** Parses a raft_state.json text. Throws with the failing key on anything Qdrant would refuse. */
export function parseRaftState(text: string): RaftStateFile {
  let root: unknown;
  try {
    root = parse(text);
  } catch (err) {
    throw new Error(`raft state: not JSON (${(err as Error).message})`);
  }
  const top = obj(root, 'document');
  const state = obj(top.state, 'state');
  const hs = obj(state.hard_state, 'state.hard_state');
  const cs = obj(state.conf_state, 'state.conf_state');
  if (typeof cs.auto_leave !== 'boolean') throw new Error('raft state: state.conf_state.auto_leave is not a boolean');
  const snap = top.latest_snapshot_meta === undefined ? undefined : obj(top.latest_snapshot_meta, 'latest_snapshot_meta');
  let queue: [U64, U64] | null = null;
  if (top.apply_progress_queue !== null && top.apply_progress_queue !== undefined) {
    const q = u64List(top.apply_progress_queue, 'apply_progress_queue');
    if (q.length !== 2) throw new Error('raft state: apply_progress_queue is not [current, last]');
    queue = [q[0]!, q[1]!];
  }
  const addresses = new Map<U64, string>();
  for (const [k, v] of Object.entries(obj(top.peer_address_by_id, 'peer_address_by_id'))) {
    if (typeof v !== 'string') throw new Error(`raft state: peer_address_by_id.${k} is not a string`);
    addresses.set(keyU64(k, 'peer_address_by_id'), v);
  }
  let metadata: Map<U64, { version: string }> | undefined;
  if (top.peer_metadata_by_id !== undefined) {
    metadata = new Map();
    for (const [k, v] of Object.entries(obj(top.peer_metadata_by_id, 'peer_metadata_by_id'))) {
      const version = obj(v, `peer_metadata_by_id.${k}`).version;
      if (typeof version !== 'string') throw new Error(`raft state: peer_metadata_by_id.${k}.version is not a string`);
      metadata.set(keyU64(k, 'peer_metadata_by_id'), { version });
    }
  }
  const clusterMetadata =
    top.cluster_metadata === undefined ? undefined : obj(top.cluster_metadata, 'cluster_metadata');
  return {
    hardState: {
      term: u64(hs.term, 'state.hard_state.term'),
      vote: u64(hs.vote, 'state.hard_state.vote'),
      commit: u64(hs.commit, 'state.hard_state.commit'),
    },
    confState: {
      voters: u64List(cs.voters, 'state.conf_state.voters'),
      learners: u64List(cs.learners, 'state.conf_state.learners'),
      votersOutgoing: u64List(cs.voters_outgoing, 'state.conf_state.voters_outgoing'),
      learnersNext: u64List(cs.learners_next, 'state.conf_state.learners_next'),
      autoLeave: cs.auto_leave,
    },
    latestSnapshotMeta: snap
      ? { term: u64(snap.term, 'latest_snapshot_meta.term'), index: u64(snap.index, 'latest_snapshot_meta.index') }
      : { term: '0', index: '0' },
    applyProgressQueue: queue,
    ...(top.first_voter !== undefined ? { firstVoter: u64(top.first_voter, 'first_voter') } : {}),
    peerAddressById: addresses,
    ...(metadata ? { peerMetadataById: metadata } : {}),
    ...(clusterMetadata && Object.keys(clusterMetadata).length > 0 ? { clusterMetadata } : {}),
    thisPeerId: u64(top.this_peer_id, 'this_peer_id'),
  };
}

// A tiny writer: key order and bare u64 numbers are under our control, and integer-like map keys
// are not reordered the way a JS object would reorder them.
const str = (s: string): string => JSON.stringify(s);
const num = (n: U64): string => {
  if (!U64_RE.test(n)) throw new Error(`not a u64: ${n}`);
  return n;
};
const list = (xs: U64[]): string => `[${xs.map(num).join(',')}]`;
const object = (entries: Array<[string, string]>): string =>
  `{${entries.map(([k, v]) => `${str(k)}:${v}`).join(',')}}`;

/**
 * Compact JSON in Qdrant's field order. `version` decides which optional keys a given Qdrant writes:
 * `peer_metadata_by_id` from 1.8.0, `first_voter` from 1.12.2 (docs/qdrant-facts.md#raft-state-file).
 */
export function serializeRaftState(s: RaftStateFile, version = '1.13.5'): string {
  const entries: Array<[string, string]> = [
    [
      'state',
      object([
        [
          'hard_state',
          object([
            ['term', num(s.hardState.term)],
            ['vote', num(s.hardState.vote)],
            ['commit', num(s.hardState.commit)],
          ]),
        ],
        [
          'conf_state',
          object([
            ['voters', list(s.confState.voters)],
            ['learners', list(s.confState.learners)],
            ['voters_outgoing', list(s.confState.votersOutgoing)],
            ['learners_next', list(s.confState.learnersNext)],
            ['auto_leave', String(s.confState.autoLeave)],
          ]),
        ],
      ]),
    ],
    [
      'latest_snapshot_meta',
      object([
        ['term', num(s.latestSnapshotMeta.term)],
        ['index', num(s.latestSnapshotMeta.index)],
      ]),
    ],
    ['apply_progress_queue', s.applyProgressQueue ? list(s.applyProgressQueue) : 'null'],
  ];
  if (s.firstVoter !== undefined && versionAtLeast(version, '1.12.2')) entries.push(['first_voter', num(s.firstVoter)]);
  entries.push(['peer_address_by_id', object([...s.peerAddressById].map(([id, uri]) => [num(id), str(uri)]))]);
  if (versionAtLeast(version, '1.8.0')) {
    const md = s.peerMetadataById ?? new Map();
    entries.push([
      'peer_metadata_by_id',
      object([...md].map(([id, m]) => [num(id), object([['version', str(m.version)]])])),
    ]);
  }
  if (s.clusterMetadata && Object.keys(s.clusterMetadata).length > 0 && versionAtLeast(version, '1.11.0')) {
    entries.push(['cluster_metadata', stringify(s.clusterMetadata) ?? '{}']);
  }
  entries.push(['this_peer_id', num(s.thisPeerId)]);
  return object(entries);
}

/** Writes `content` to `target` atomically, as Qdrant's `atomicwrites` usage does (docs/qdrant-facts.md#raft-state-file). */
export function atomicWriteFile(target: string, content: string | Uint8Array): void {
  const dir = path.dirname(target);
  const tmpDir = fs.mkdtempSync(path.join(dir, '.atomicwrite'));
  const tmpFile = path.join(tmpDir, path.basename(target));
  try {
    const fd = fs.openSync(tmpFile, 'w', 0o644);
    try {
      fs.writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmpFile, target);
    fsyncDir(dir);
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function writeRaftState(storageDir: string, s: RaftStateFile, version: string): void {
  atomicWriteFile(path.join(storageDir, 'raft_state.json'), serializeRaftState(s, version));
}

/** Peer ids since 1.2 are drawn below 2^53 (docs/qdrant-facts.md#peer-ids-are-u64). */
export function mintPeerId(random?: () => number): U64 {
  if (random) {
    // A simulation's seeded source: 2^53 values from two draws, so ids repeat with the seed.
    const hi = BigInt(Math.floor(random() * 2 ** 21));
    const lo = BigInt(Math.floor(random() * 2 ** 32));
    return (((hi << 32n) | lo) + 1n).toString();
  }
  const bytes = new BigUint64Array(1);
  globalThis.crypto.getRandomValues(bytes);
  return ((bytes[0]! % 2n ** 53n) + 1n).toString();
}
