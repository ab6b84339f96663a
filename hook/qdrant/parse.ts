/**
 * Qdrant REST bodies -> the observation types of types.ts, without losing u64 precision.
 * Bodies are parsed with lossless-json, so every number arrives as a LosslessNumber holding its
 * decimal text; ids, terms and commits stay decimal strings from the wire to the report
 * (docs/qdrant-facts.md#peer-ids-are-u64: ids above 2^53 exist, `JSON.parse` corrupts them silently).
 */
import { isLosslessNumber, parse } from 'lossless-json';
import type { ClusterStatus, CollectionCluster, ShardReplica } from './types.js';

/** A body that parsed but does not have the shape the OpenAPI spec promises. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

const U64 = /^(0|[1-9][0-9]*)$/;

/** Parses JSON text keeping every number as a LosslessNumber. Throws SyntaxError on non-JSON. */
export function parseLossless(text: string): unknown {
  return parse(text);
}

function field(obj: unknown, key: string, where: string): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ShapeError(`${where} is not an object`);
  return (obj as Record<string, unknown>)[key];
}

function objectAt(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ShapeError(`${where} is not an object`);
  return v as Record<string, unknown>;
}

export function u64(v: unknown, where: string): string {
  if (isLosslessNumber(v)) {
    const text = (v as { value: string }).value;
    if (U64.test(text)) return text;
  }
  throw new ShapeError(`${where} is not an unsigned integer (got ${describe(v)})`);
}

function count(v: unknown, where: string): number {
  const n = Number(u64(v, where));
  if (!Number.isSafeInteger(n)) throw new ShapeError(`${where} is out of range`);
  return n;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new ShapeError(`${where} is not a string (got ${describe(v)})`);
  return v;
}

function optStr(v: unknown, where: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, where);
}

function describe(v: unknown): string {
  if (isLosslessNumber(v)) return `number ${(v as { value: string }).value}`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `string ${JSON.stringify(v.slice(0, 40))}` : typeof v;
}

function peerIdKey(k: string, where: string): string {
  if (!U64.test(k)) throw new ShapeError(`${where} key ${JSON.stringify(k)} is not a peer id`);
  return k;
}

/** `result` of GET /cluster (docs/qdrant-facts.md#http-api). */
export function toClusterStatus(result: unknown): ClusterStatus {
  const status = str(field(result, 'status', 'result'), 'result.status');
  if (status === 'disabled') return { status: 'disabled' };
  if (status !== 'enabled') throw new ShapeError(`result.status is ${JSON.stringify(status)}, expected "enabled" or "disabled"`);
  const r = objectAt(result, 'result');
  const peers: Record<string, { uri: string }> = {};
  for (const [k, v] of Object.entries(objectAt(r.peers, 'result.peers'))) {
    peers[peerIdKey(k, 'result.peers')] = { uri: str(field(v, 'uri', `result.peers.${k}`), `result.peers.${k}.uri`) };
  }
  const raft = objectAt(r.raft_info, 'result.raft_info');
  // Present in every 1.x answer; pre-1.0 ones lack it, and "unknown" is then not "working".
  const cts =
    r.consensus_thread_status === undefined
      ? { consensus_thread_status: 'unknown' }
      : objectAt(r.consensus_thread_status, 'result.consensus_thread_status');
  const failures: Record<string, { count: number; latestError?: string }> = {};
  for (const [uri, v] of Object.entries(r.message_send_failures === undefined ? {} : objectAt(r.message_send_failures, 'result.message_send_failures'))) {
    const latestError = optStr(field(v, 'latest_error', `message_send_failures.${uri}`), `message_send_failures.${uri}.latest_error`);
    failures[uri] = {
      count: count(field(v, 'count', `message_send_failures.${uri}`), `message_send_failures.${uri}.count`),
      ...(latestError !== undefined ? { latestError } : {}),
    };
  }
  const leader = raft.leader === undefined || raft.leader === null ? undefined : u64(raft.leader, 'result.raft_info.leader');
  const role = optStr(raft.role, 'result.raft_info.role');
  const err = optStr(cts.err, 'result.consensus_thread_status.err');
  return {
    status: 'enabled',
    peerId: u64(r.peer_id, 'result.peer_id'),
    peers,
    raft: {
      term: u64(raft.term, 'result.raft_info.term'),
      commit: u64(raft.commit, 'result.raft_info.commit'),
      pendingOperations: count(raft.pending_operations, 'result.raft_info.pending_operations'),
      ...(leader !== undefined ? { leader } : {}),
      ...(role !== undefined ? { role } : {}),
      ...(typeof raft.is_voter === 'boolean' ? { isVoter: raft.is_voter } : {}),
    },
    consensusThread: {
      status: str(cts.consensus_thread_status, 'result.consensus_thread_status.consensus_thread_status'),
      ...(err !== undefined ? { err } : {}),
    },
    messageSendFailures: failures,
  };
}

/** `result` of GET /collections/{name}/cluster. */
export function toCollectionCluster(collection: string, result: unknown): CollectionCluster {
  const r = objectAt(result, 'result');
  const peerId = u64(r.peer_id, 'result.peer_id');
  const replicas: ShardReplica[] = [];
  const local = r.local_shards ?? [];
  const remote = r.remote_shards ?? [];
  if (!Array.isArray(local) || !Array.isArray(remote)) throw new ShapeError('result.local_shards/remote_shards are not arrays');
  local.forEach((s, i) => {
    replicas.push({
      collection,
      shardId: count(field(s, 'shard_id', `local_shards[${i}]`), `local_shards[${i}].shard_id`),
      peerId,
      state: str(field(s, 'state', `local_shards[${i}]`), `local_shards[${i}].state`),
      local: true,
    });
  });
  remote.forEach((s, i) => {
    replicas.push({
      collection,
      shardId: count(field(s, 'shard_id', `remote_shards[${i}]`), `remote_shards[${i}].shard_id`),
      peerId: u64(field(s, 'peer_id', `remote_shards[${i}]`), `remote_shards[${i}].peer_id`),
      state: str(field(s, 'state', `remote_shards[${i}]`), `remote_shards[${i}].state`),
      local: false,
    });
  });
  const transfers = Array.isArray(r.shard_transfers) ? r.shard_transfers.length : 0;
  return { collection, peerId, replicas, transfers };
}

/**
 * `result.cluster.peer_metadata` of GET /telemetry?details_level=3, read on 1.16+ only
 * (docs/qdrant-facts.md#peer-metadata-api); undefined when the server does not report it.
 */
export function toPeerMetadata(result: unknown): Record<string, { version: string }> | undefined {
  const cluster = field(result, 'cluster', 'result');
  if (cluster === undefined || cluster === null) return undefined;
  const md = field(cluster, 'peer_metadata', 'result.cluster');
  if (md === undefined || md === null) return undefined;
  const out: Record<string, { version: string }> = {};
  for (const [k, v] of Object.entries(objectAt(md, 'result.cluster.peer_metadata'))) {
    out[peerIdKey(k, 'result.cluster.peer_metadata')] = {
      version: str(field(v, 'version', `peer_metadata.${k}`), `result.cluster.peer_metadata.${k}.version`),
    };
  }
  return out;
}

/** GET / is not wrapped: `{"title", "version", "commit"}`. */
export function toVersionInfo(body: unknown): { version: string; commit?: string } {
  const version = str(field(body, 'version', 'body'), 'version');
  const commit = optStr(field(body, 'commit', 'body'), 'commit');
  return { version, ...(commit !== undefined ? { commit } : {}) };
}

/** `result` of GET /collections. */
export function toCollectionNames(result: unknown): string[] {
  const list = field(result, 'collections', 'result');
  if (!Array.isArray(list)) throw new ShapeError('result.collections is not an array');
  return list.map((c, i) => str(field(c, 'name', `collections[${i}]`), `collections[${i}].name`));
}
