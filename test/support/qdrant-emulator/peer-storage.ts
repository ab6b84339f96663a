/**
 * What a peer reads from and writes to its storage dir at start-up: raft_state.json (or the
 * legacy CBOR raft_state), and the in-memory state built from it. The file format itself is in
 * raft-state.ts; collections and the WAL in storage.ts and wal.ts.
 */
import fs from 'node:fs';
import { decode as decodeCbor } from 'cbor-x';
import { TARGET } from './log.js';
import type { EmulatedPeer } from './peer.js';
import type { CollectionSpec } from './peer-config.js';
import { parseRaftState, type RaftStateFile } from './raft-state.js';
import type { CollectionState } from './storage.js';
import type { LogEntry } from './wal.js';

export function loadStateFile(peer: EmulatedPeer): RaftStateFile | undefined {
  if (fs.existsSync(peer.statePath)) {
    peer.log.info(TARGET.persistent, `Loading raft state from ${peer.statePath}`);
    const text = fs.readFileSync(peer.statePath, 'utf8');
    try {
      return parseRaftState(text);
    } catch (err) {
      peer.log.error(TARGET.main, `Panic occurred in file src/main.rs: Can't initialize consensus: ${(err as Error).message}`);
      throw new Error(`cannot load ${peer.statePath}: ${(err as Error).message}`);
    }
  }
  if (fs.existsSync(peer.legacyStatePath)) {
    // docs/qdrant-facts.md#storage-directory: the legacy CBOR file is read only when the JSON one is absent.
    peer.log.info(TARGET.persistent, `Loading raft state from ${peer.legacyStatePath}`);
    const legacy = decodeLegacyState(fs.readFileSync(peer.legacyStatePath));
    if (legacy) return legacy;
    peer.log.warn(TARGET.persistent, `Legacy raft state at ${peer.legacyStatePath} is not decodable by the emulator; minting a new id`);
    return undefined;
  }
  return undefined;
}

export function restoreFrom(peer: EmulatedPeer, s: RaftStateFile): void {
  peer.id = s.thisPeerId;
  peer.term = safeNumber(s.hardState.term);
  peer.vote = s.hardState.vote;
  peer.commit = safeNumber(s.hardState.commit);
  peer.voters = [...s.confState.voters];
  peer.firstVoter = s.firstVoter;
  peer.addresses = new Map(s.peerAddressById);
  peer.metadata = new Map(s.peerMetadataById ?? []);
  peer.clusterMetadata = s.clusterMetadata;
  peer.snapshot = { index: safeNumber(s.latestSnapshotMeta.index), term: safeNumber(s.latestSnapshotMeta.term) };
  peer.applied = peer.commit;
}

export function toStateFile(peer: EmulatedPeer): RaftStateFile {
  const clusterOn = peer.cfg.clusterEnabled;
  const caughtUp = clusterOn && (peer.commit > 0 || peer.applied > 0);
  return {
    hardState: { term: String(peer.term), vote: peer.vote, commit: String(peer.commit) },
    confState: { voters: [...peer.voters], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    latestSnapshotMeta: { term: String(peer.snapshot.term), index: String(peer.snapshot.index) },
    applyProgressQueue: caughtUp ? [String(peer.applied + 1), String(peer.commit)] : null,
    ...(peer.firstVoter !== undefined ? { firstVoter: peer.firstVoter } : {}),
    peerAddressById: clusterOn ? new Map(peer.addresses) : new Map(),
    peerMetadataById: clusterOn ? new Map(peer.metadata) : new Map(),
    ...(peer.clusterMetadata ? { clusterMetadata: peer.clusterMetadata } : {}),
    thisPeerId: peer.id,
  };
}

export function lastOf(entries: LogEntry[]): number {
  return entries.length > 0 ? entries[entries.length - 1]!.index : 0;
}

export function safeNumber(u64: string): number {
  const n = Number(u64);
  if (!Number.isSafeInteger(n)) throw new Error(`raft state: index/term ${u64} is beyond what the emulator handles`);
  return n;
}

export function safeParse(text: string): RaftStateFile | undefined {
  try {
    return parseRaftState(text);
  } catch {
    return undefined;
  }
}

export function toCollectionState(spec: CollectionSpec): CollectionState {
  const shardNumber = spec.shardNumber ?? 1;
  const rf = spec.replicationFactor === 'all' || spec.replicationFactor === undefined ? 0 : spec.replicationFactor;
  return {
    name: spec.name,
    shardNumber,
    replicationFactor: rf,
    vectors: spec.vectors ?? { size: 4, distance: 'Dot' },
    shards: new Map(Array.from({ length: shardNumber }, (_, s) => [s, new Map<string, string>()])),
  };
}

/**
 * Qdrant <= 1.3 wrote raft_state as CBOR. The emulator decodes what it can (a map with
 * this_peer_id and friends) and otherwise mints a new id; it never writes that format.
 */
function decodeLegacyState(buf: Buffer): RaftStateFile | undefined {
  try {
    const v = decodeCbor(buf) as Record<string, unknown>;
    const id = v?.this_peer_id;
    if (typeof id !== 'number' && typeof id !== 'bigint') return undefined;
    const asU64 = (x: unknown): string => (typeof x === 'bigint' || typeof x === 'number' ? BigInt(x).toString() : '0');
    const state = (v.state ?? {}) as Record<string, Record<string, unknown>>;
    const hs = state.hard_state ?? {};
    const cs = state.conf_state ?? {};
    const addresses = new Map<string, string>();
    for (const [k, uri] of Object.entries((v.peer_address_by_id ?? {}) as Record<string, unknown>)) {
      if (typeof uri === 'string') addresses.set(String(k), uri);
    }
    return {
      hardState: { term: asU64(hs.term), vote: asU64(hs.vote), commit: asU64(hs.commit) },
      confState: {
        voters: ((cs.voters as unknown[]) ?? []).map(asU64),
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
      latestSnapshotMeta: { term: '0', index: '0' },
      applyProgressQueue: null,
      peerAddressById: addresses,
      thisPeerId: asU64(id),
    };
  } catch {
    return undefined;
  }
}
