/**
 * The REST API of an emulated peer on port 6333 (docs/qdrant-facts.md#http-api), with the field names of
 * the OpenAPI specs 1.13.5 and 1.19.0 (checked by test/integration/qdrant-emulator-openapi.test.ts).
 * Peer ids, terms and commits are written as bare JSON numbers through BigInt, never JS numbers.
 *
 * API keys follow Qdrant's actix middleware: `/`, `/healthz`, `/readyz*`, `/livez*` are whitelisted;
 * everything else needs header `api-key` (or `Authorization: Bearer`). A missing or unknown key is
 * 401 with a plain-text body (Qdrant before ~1.14 answered 403 for both; current Qdrant separates
 * Unauthorized from Forbidden); the read-only key on a write is 403.
 */
import type http from 'node:http';
import { stringify } from 'lossless-json';
import type { EmulatedPeer } from './peer.js';
import { readBody } from './peer-http.js';
import { versionAtLeast } from './version.js';
import { collectionConfig } from './storage.js';

type Json = unknown;

const big = (id: string): bigint => BigInt(id);

function send(res: http.ServerResponse, status: number, body: Json): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(stringify(body) ?? 'null');
}

/** Seconds spent, as the float Qdrant puts in `time`. */
const elapsed = (started: number): string => JSON.stringify(Math.max(1e-6, (performance.now() - started) / 1000));

function wrapped(res: http.ServerResponse, result: Json, started: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(`{"result":${stringify(result) ?? 'null'},"status":"ok","time":${elapsed(started)}}`);
}

function failure(res: http.ServerResponse, status: number, error: string, started: number): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`{"status":{"error":${JSON.stringify(error)}},"time":${elapsed(started)}}`);
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}

function whitelisted(pathname: string): boolean {
  return pathname === '/' || pathname === '/healthz' || pathname.startsWith('/readyz') || pathname.startsWith('/livez');
}

/** Returns true when the request may proceed; otherwise the response has been sent. */
function authorise(peer: EmulatedPeer, req: http.IncomingMessage, res: http.ServerResponse, pathname: string): boolean {
  const { apiKey, readOnlyApiKey } = peer.cfg;
  if (!apiKey && !readOnlyApiKey) return true;
  if (whitelisted(pathname)) return true;
  const header = req.headers['api-key'];
  const auth = req.headers.authorization;
  const key = (Array.isArray(header) ? header[0] : header) ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
  if (!key) {
    text(res, 401, 'Must provide an API key or an Authorization bearer token');
    return false;
  }
  if (apiKey && key === apiKey) return true;
  if (readOnlyApiKey && key === readOnlyApiKey) {
    if (req.method === 'GET' || req.method === 'HEAD') return true;
    text(res, 403, 'Forbidden: Write access is denied for the read-only API key');
    return false;
  }
  text(res, 401, 'Invalid API key or JWT');
  return false;
}

export async function handleRest(peer: EmulatedPeer, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const started = performance.now();
  const url = new URL(req.url ?? '/', 'http://rest');
  const pathname = url.pathname.replace(/\/+$/, '') || '/';
  if (!peer.initialized || peer.isStopped) return text(res, 503, 'starting');
  if (!authorise(peer, req, res, pathname)) return;
  const method = req.method ?? 'GET';

  if (method === 'GET' && pathname === '/') {
    return send(res, 200, { title: 'qdrant - vector search engine', version: peer.cfg.version, commit: peer.cfg.commitSha });
  }
  if (method === 'GET' && (pathname === '/healthz' || pathname === '/livez')) return text(res, 200, 'healthz check passed');
  if (method === 'GET' && pathname === '/readyz') {
    return peer.isReady() ? text(res, 200, 'all shards are ready') : text(res, 503, 'some shards are not ready');
  }
  if (method === 'GET' && pathname === '/cluster') return wrapped(res, clusterStatus(peer), started);
  if (method === 'GET' && pathname === '/collections') {
    return wrapped(res, { collections: [...peer.collections.keys()].map((name) => ({ name })) }, started);
  }
  if (method === 'GET' && pathname === '/telemetry') {
    const level = Number(url.searchParams.get('details_level') ?? '0');
    return wrapped(res, telemetry(peer, Number.isFinite(level) ? level : 0), started);
  }
  if (method === 'GET' && pathname === '/metrics') return text(res, 200, metrics(peer));

  const coll = /^\/collections\/([^/]+)(\/cluster)?$/.exec(pathname);
  if (coll) {
    const name = decodeURIComponent(coll[1]!);
    if (method === 'GET' && coll[2]) {
      const c = peer.collections.get(name);
      if (!c) return failure(res, 404, `Not found: Collection \`${name}\` doesn't exist!`, started);
      return wrapped(res, collectionCluster(peer, name), started);
    }
    if (method === 'GET' && !coll[2]) {
      if (!peer.collections.has(name)) return failure(res, 404, `Not found: Collection \`${name}\` doesn't exist!`, started);
      return wrapped(res, collectionInfo(peer, name), started);
    }
    if (method === 'PUT' && !coll[2]) {
      let body: Record<string, unknown> = {};
      try {
        const raw = await readBody(req);
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        return failure(res, 400, 'Json deserialize error: invalid body', started);
      }
      const vectors = body.vectors as { size?: number; distance?: string } | undefined;
      try {
        await peer.createCollection({
          name,
          shardNumber: typeof body.shard_number === 'number' ? body.shard_number : undefined,
          replicationFactor: typeof body.replication_factor === 'number' ? body.replication_factor : 1,
          vectors: vectors?.size ? { size: vectors.size, distance: vectors.distance ?? 'Dot' } : undefined,
        });
      } catch (err) {
        const message = (err as Error).message;
        return failure(res, message.startsWith('Wrong input') ? 400 : 500, message, started);
      }
      return wrapped(res, true, started);
    }
  }
  res.writeHead(404);
  res.end();
}

function clusterStatus(peer: EmulatedPeer): Json {
  if (!peer.cfg.clusterEnabled) return { status: 'disabled' };
  const { commit, pending } = peer.reportedRaft();
  const peers: Record<string, { uri: string }> = {};
  for (const [id, uri] of peer.addresses) peers[id] = { uri };
  return {
    status: 'enabled',
    peer_id: big(peer.id),
    peers,
    raft_info: {
      term: big(String(peer.term)),
      commit: big(String(commit)),
      pending_operations: pending,
      leader: peer.leaderId && !peer.looping ? big(peer.leaderId) : null,
      role: peer.role,
      is_voter: peer.voters.includes(peer.id),
    },
    consensus_thread_status: peer.consensusThreadStatus(),
    message_send_failures: peer.messageSendFailures(),
  };
}

function collectionCluster(peer: EmulatedPeer, name: string): Json {
  const c = peer.collections.get(name)!;
  const local: Json[] = [];
  const remote: Json[] = [];
  for (const [shardId, replicas] of c.shards) {
    const localId = c.localAs?.get(shardId);
    for (const [peerId, state] of replicas) {
      if (peerId === peer.id || peerId === localId) local.push({ shard_id: shardId, points_count: 0, state });
      else remote.push({ shard_id: shardId, peer_id: big(peerId), state });
    }
  }
  return { peer_id: big(peer.id), shard_count: c.shardNumber, local_shards: local, remote_shards: remote, shard_transfers: [] };
}

function collectionInfo(peer: EmulatedPeer, name: string): Json {
  const c = peer.collections.get(name)!;
  return {
    status: 'green',
    optimizer_status: 'ok',
    indexed_vectors_count: 0,
    points_count: 0,
    segments_count: 0,
    config: collectionConfig(c, peer.voters.length),
    payload_schema: {},
  };
}

/**
 * `result.cluster.status` from details_level 1, `peers` from 2, `peer_metadata` from 3 on 1.16+
 * only (docs/qdrant-facts.md#http-api).
 */
function telemetry(peer: EmulatedPeer, level: number): Json {
  const cluster: Record<string, Json> = { enabled: peer.cfg.clusterEnabled };
  if (peer.cfg.clusterEnabled && level >= 1) {
    const { commit, pending } = peer.reportedRaft();
    cluster.status = {
      number_of_peers: peer.addresses.size,
      term: big(String(peer.term)),
      commit: big(String(commit)),
      pending_operations: pending,
      role: peer.role,
      is_voter: peer.voters.includes(peer.id),
      peer_id: big(peer.id),
      consensus_thread_status: peer.consensusThreadStatus(),
    };
    if (level >= 2) {
      const peers: Record<string, { uri: string }> = {};
      for (const [id, uri] of peer.addresses) peers[id] = { uri };
      cluster.peers = peers;
    }
    if (level >= 3 && versionAtLeast(peer.cfg.version, '1.16.0')) {
      const md: Record<string, { version: string }> = {};
      for (const [id, m] of peer.metadata) md[id] = { version: m.version };
      cluster.peer_metadata = md;
    }
  }
  return {
    id: telemetryId(peer.id),
    app: { name: 'qdrant', version: peer.cfg.version, startup: peer.startedAt.toISOString() },
    collections: { number_of_collections: peer.collections.size },
    cluster,
  };
}

function telemetryId(peerId: string): string {
  const hex = BigInt(peerId).toString(16).padStart(32, '0').slice(-32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function metrics(peer: EmulatedPeer): string {
  const { commit, pending } = peer.reportedRaft();
  const lines = [
    '# HELP app_info information about qdrant server',
    '# TYPE app_info gauge',
    `app_info{name="qdrant",version="${peer.cfg.version}"} 1`,
    '# TYPE collections_total gauge',
    `collections_total ${peer.collections.size}`,
  ];
  if (peer.cfg.clusterEnabled) {
    lines.push(
      '# TYPE cluster_enabled gauge',
      'cluster_enabled 1',
      `cluster_peers_total ${peer.addresses.size}`,
      `cluster_term ${peer.term}`,
      `cluster_commit ${commit}`,
      `cluster_pending_operations_total ${pending}`,
      `cluster_voter ${peer.voters.includes(peer.id) ? 1 : 0}`,
    );
  }
  return lines.join('\n') + '\n';
}
