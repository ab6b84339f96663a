/**
 * Collection files in `<storage>/collections/<name>/` (docs/qdrant-facts.md#storage-directory): `config.json` and one
 * dir per shard with `replica_state.json` (the replica set: `is_local`, `this_peer_id`, `peers`), plus
 * empty `wal/` and `segments/` dirs for local replicas. Ids are written as bare u64 numbers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isLosslessNumber, parse } from 'lossless-json';
import { atomicWriteFile } from './raft-state.js';

export interface CollectionState {
  name: string;
  shardNumber: number;
  /** 0 = one replica on every peer. */
  replicationFactor: number;
  vectors: { size: number; distance: string };
  /** shard id -> (peer id -> replica state), insertion ordered. */
  shards: Map<number, Map<string, string>>;
  /**
   * shard id -> the peer id its local replica was written under (replica_state.json `this_peer_id`), when that
   * differs from the running peer's id: after a lost raft state Qdrant still reports that replica as local.
   */
  localAs?: Map<number, string>;
}

export function collectionsDir(storageDir: string): string {
  return path.join(storageDir, 'collections');
}

/**
 * A collection's config as Qdrant reports it (GET /collections/{name} `result.config`) and keeps it in
 * `collections/<name>/config.json`: one shape for both, so the two never drift apart.
 */
export function collectionConfig(c: CollectionState, peersNow: number) {
  return {
    params: {
      vectors: c.vectors,
      shard_number: c.shardNumber,
      replication_factor: c.replicationFactor === 0 ? Math.max(1, peersNow) : c.replicationFactor,
      write_consistency_factor: 1,
      on_disk_payload: true,
    },
    hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false },
    optimizer_config: {
      deleted_threshold: 0.2,
      vacuum_min_vector_number: 1000,
      default_segment_number: 0,
      max_segment_size: null,
      memmap_threshold: null,
      indexing_threshold: 20000,
      flush_interval_sec: 5,
      max_optimization_threads: null,
    },
    wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
    quantization_config: null,
  };
}

export function writeCollectionConfig(storageDir: string, c: CollectionState, peersNow: number): void {
  const dir = path.join(collectionsDir(storageDir), c.name);
  fs.mkdirSync(dir, { recursive: true });
  const config = {
    ...collectionConfig(c, peersNow),
    // Emulator-only: keeps "one replica per peer" across restarts; Qdrant ignores unknown keys.
    emulator_replicate_to_all: c.replicationFactor === 0,
  };
  atomicWriteFile(path.join(dir, 'config.json'), JSON.stringify(config));
}

export function writeReplicaState(storageDir: string, c: CollectionState, shardId: number, thisPeerId: string): void {
  const dir = path.join(collectionsDir(storageDir), c.name, String(shardId));
  fs.mkdirSync(dir, { recursive: true });
  const replicas = c.shards.get(shardId) ?? new Map<string, string>();
  const isLocal = replicas.has(thisPeerId);
  if (isLocal) {
    fs.mkdirSync(path.join(dir, 'wal'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'segments'), { recursive: true });
  }
  const peers = [...replicas].map(([id, state]) => `"${id}":${JSON.stringify(state)}`).join(',');
  atomicWriteFile(
    path.join(dir, 'replica_state.json'),
    `{"is_local":${isLocal},"this_peer_id":${thisPeerId},"peers":{${peers}}}`,
  );
}

export function writeCollection(storageDir: string, c: CollectionState, thisPeerId: string, peersNow: number): void {
  writeCollectionConfig(storageDir, c, peersNow);
  for (const shardId of c.shards.keys()) writeReplicaState(storageDir, c, shardId, thisPeerId);
}

/** Reads back what writeCollection wrote; unreadable collections are skipped (Qdrant would log and skip too). */
export function loadCollections(storageDir: string): Map<string, CollectionState> {
  const out = new Map<string, CollectionState>();
  let names: string[];
  try {
    names = fs.readdirSync(collectionsDir(storageDir));
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const dir = path.join(collectionsDir(storageDir), name);
    try {
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as {
        params: { vectors: { size: number; distance: string }; shard_number: number; replication_factor: number };
        emulator_replicate_to_all?: boolean;
      };
      const c: CollectionState = {
        name,
        shardNumber: cfg.params.shard_number,
        replicationFactor: cfg.emulator_replicate_to_all ? 0 : cfg.params.replication_factor,
        vectors: cfg.params.vectors,
        shards: new Map(),
      };
      for (let s = 0; s < c.shardNumber; s++) {
        const replicas = new Map<string, string>();
        try {
          const rs = parse(fs.readFileSync(path.join(dir, String(s), 'replica_state.json'), 'utf8')) as {
            peers?: Record<string, unknown>;
            is_local?: boolean;
            this_peer_id?: unknown;
          };
          if (rs.is_local === true && isLosslessNumber(rs.this_peer_id)) {
            c.localAs ??= new Map();
            c.localAs.set(s, String(rs.this_peer_id));
          }
          for (const [id, state] of Object.entries(rs.peers ?? {})) {
            if (typeof state === 'string') replicas.set(id, state);
            else if (isLosslessNumber(state)) replicas.set(id, String(state));
          }
        } catch {
          // no replica_state.json for this shard: an empty replica set
        }
        c.shards.set(s, replicas);
      }
      out.set(name, c);
    } catch {
      continue;
    }
  }
  return out;
}

/** Qdrant creates `aliases/data.json` when its table of contents starts. */
export function ensureAliases(storageDir: string): void {
  const dir = path.join(storageDir, 'aliases');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'data.json');
  if (!fs.existsSync(file)) atomicWriteFile(file, '{}');
}
