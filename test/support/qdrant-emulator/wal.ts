/**
 * The consensus log in `collections_meta_wal/` (docs/qdrant-facts.md#storage-directory). Qdrant uses the `wal`
 * crate (pre-allocated segments with CRCs); the emulator keeps one growing segment `open-1` in
 * its own framing: an 8-byte header, then per entry a u64 little-endian length, the entry as JSON,
 * and zero padding to 8 bytes. Enough for the hooks (which only copy and count segments) and for
 * the emulator to replay its own log after a restart or a lost raft_state.json (docs/incident-6229.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from './raft-state.js';

export type ReplicaStateName = string;

/** One consensus operation; peer ids are decimal strings. */
export type ConsensusOp =
  | { type: 'Empty' }
  | { type: 'AddPeer'; peerId: string; uri: string }
  | { type: 'UpdatePeerMetadata'; peerId: string; version: string }
  | {
      type: 'CreateCollection';
      name: string;
      shardNumber: number;
      /** 0 = one replica on every peer that joins. */
      replicationFactor: number;
      vectors: { size: number; distance: string };
    }
  | { type: 'SetReplica'; collection: string; shardId: number; peerId: string; state: ReplicaStateName };

export interface LogEntry {
  index: number;
  term: number;
  op: ConsensusOp;
}

const HEADER = Buffer.from('qewal\0\0\x01', 'latin1');

export const WAL_DIR = 'collections_meta_wal';
export const WAL_SEGMENT = 'open-1';

function frame(entry: LogEntry): Buffer {
  const body = Buffer.from(JSON.stringify(entry));
  const pad = (8 - (body.length % 8)) % 8;
  const out = Buffer.alloc(8 + body.length + pad);
  out.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(out, 8);
  return out;
}

export class Wal {
  readonly file: string;

  constructor(storageDir: string) {
    this.file = path.join(storageDir, WAL_DIR, WAL_SEGMENT);
  }

  /** True when the directory exists, whatever it holds (a used volume, docs/qdrant-facts.md#storage-directory). */
  static exists(storageDir: string): boolean {
    return fs.existsSync(path.join(storageDir, WAL_DIR));
  }

  /** Every readable entry; a torn tail is ignored the way a WAL reader stops at a bad frame. */
  read(): LogEntry[] {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(this.file);
    } catch {
      return [];
    }
    if (buf.length < HEADER.length || !buf.subarray(0, HEADER.length).equals(HEADER)) return [];
    const entries: LogEntry[] = [];
    let off = HEADER.length;
    while (off + 8 <= buf.length) {
      const len = Number(buf.readBigUInt64LE(off));
      if (len === 0 || off + 8 + len > buf.length) break;
      try {
        entries.push(JSON.parse(buf.subarray(off + 8, off + 8 + len).toString('utf8')) as LogEntry);
      } catch {
        break;
      }
      off += 8 + len + ((8 - (len % 8)) % 8);
    }
    return entries;
  }

  append(entries: LogEntry[]): void {
    if (entries.length === 0) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    if (!fs.existsSync(this.file)) fs.writeFileSync(this.file, HEADER);
    const fd = fs.openSync(this.file, 'a');
    try {
      fs.writeSync(fd, Buffer.concat(entries.map(frame)));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Replaces the whole segment (used when a follower drops a conflicting suffix). */
  rewrite(entries: LogEntry[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    atomicWriteFile(this.file, Buffer.concat([HEADER, ...entries.map(frame)]));
  }

  /** Creates the directory and an empty segment, as Qdrant does when consensus starts. */
  ensure(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    if (!fs.existsSync(this.file)) fs.writeFileSync(this.file, HEADER);
  }
}
