// The real Qdrant server in the e2e cluster: which binaries QDRANT_BIN_DIR holds, whether the running kubelet
// stand-in can see them, which Qdrant each pod actually ran (the stand-in's pod annotation), and a small data plane
// (collections, points, counts) spoken over HTTP to a pod IP, as an application would.
import fs from 'node:fs';
import path from 'node:path';
import { QDRANT_RAN_ANNOTATION, QDRANT_RUNTIME_ANNOTATION } from '../../cluster/kubelet/images.js';
import { availableQdrantVersions, qdrantBinDir } from '../../support/real-qdrant/binaries.js';
import { standinDir } from './cluster.js';
import type { GuardRelease, Values } from './guard-release.js';

/** Chart values that make the stand-in run the real binary for this release's Qdrant pods (or refuse to start). */
export function realQdrantValues(): Values {
  return { podAnnotations: { [QDRANT_RUNTIME_ANNOTATION]: 'real' } };
}

/**
 * Whether the real-Qdrant scenarios can run: undefined when they can, else the plain reason to skip. With CI set and
 * QDRANT_BIN_DIR set, a missing version is an error instead: CI promised the binaries.
 */
export function realQdrantSkipReason(versions: readonly string[]): string | undefined {
  const dir = qdrantBinDir();
  if (!dir) return `QDRANT_BIN_DIR is not set: the real-Qdrant e2e scenarios need Qdrant ${versions.join(' and ')} (README, "Real Qdrant")`;
  const have = availableQdrantVersions();
  const missing = versions.filter((v) => !have.includes(v));
  if (missing.length === 0) return undefined;
  const reason = `QDRANT_BIN_DIR=${dir} has no Qdrant ${missing.join(', ')} (it has: ${have.join(', ') || 'none'})`;
  if (process.env.CI) throw new Error(`${reason}; CI sets QDRANT_BIN_DIR, so these scenarios must run`);
  return reason;
}

/**
 * QDRANT_BIN_DIR as the running kubelet stand-in sees it (its process environment), or undefined. A cluster started
 * before QDRANT_BIN_DIR was set runs every Qdrant pod on the emulator; the scenarios say so instead of timing out.
 */
export function standinQdrantBinDir(): string | undefined {
  const pidFile = path.join(path.dirname(standinDir), 'kubelet.pid');
  const pid = fs.readFileSync(pidFile, 'utf8').trim();
  const env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  const v = env.find((e) => e.startsWith('QDRANT_BIN_DIR='))?.slice('QDRANT_BIN_DIR='.length);
  return v ? path.resolve(v) : undefined;
}

/** Per ordinal, what the stand-in ran for the pod's current Qdrant container: `real <version> <binary>` or `emulator <version>`. */
export async function qdrantRan(rel: GuardRelease): Promise<Map<number, string>> {
  const list = await rel.cluster.kubectlJson([
    'get', 'pods', '-n', rel.namespace, '-l', `app.kubernetes.io/name=qdrant,app.kubernetes.io/instance=${rel.release}`,
  ]);
  const out = new Map<number, string>();
  for (const p of list.items) out.set(Number(String(p.metadata.name).split('-').pop()), p.metadata.annotations?.[QDRANT_RAN_ANNOTATION] ?? '(not started)');
  return out;
}

async function call(ip: string, method: string, p: string, body?: unknown): Promise<string> {
  const res = await fetch(`http://${ip}:6333${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} on ${ip} answered ${res.status}: ${text.slice(0, 500)}`);
  return text;
}

/** A collection spread over the peers: `shards` shards, each on `replicas` peers. */
export async function createCollection(ip: string, name: string, shards: number, replicas: number): Promise<void> {
  await call(ip, 'PUT', `/collections/${name}`, { vectors: { size: 4, distance: 'Dot' }, shard_number: shards, replication_factor: replicas });
}

/** Upserts points 1..n (4-dimensional vectors derived from the id), waiting until they are applied. */
export async function upsertPoints(ip: string, name: string, n: number): Promise<void> {
  const batch = 100;
  for (let start = 1; start <= n; start += batch) {
    const points = [];
    for (let id = start; id < Math.min(start + batch, n + 1); id++) points.push({ id, vector: [id % 7, id % 11, id % 13, 1], payload: { n: id } });
    await call(ip, 'PUT', `/collections/${name}/points?wait=true`, { points });
  }
}

/** The exact number of points in the collection, as the cluster answers through this peer. */
export async function countPoints(ip: string, name: string): Promise<number> {
  const text = await call(ip, 'POST', `/collections/${name}/points/count`, { exact: true });
  const m = /"count"\s*:\s*(\d+)/.exec(text);
  if (!m) throw new Error(`count of ${name} on ${ip}: no count in ${text.slice(0, 300)}`);
  return Number(m[1]);
}

/** Points held by this peer's own shard replicas (`local_shards` of GET /collections/{name}/cluster), by shard id. */
export async function localShardPoints(ip: string, name: string): Promise<Record<string, number>> {
  const text = await call(ip, 'GET', `/collections/${name}/cluster`);
  const local = /"local_shards"\s*:\s*\[(.*?)\]/s.exec(text)?.[1] ?? '';
  const out: Record<string, number> = {};
  for (const m of local.matchAll(/\{"shard_id":(\d+),"points_count":(\d+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Voter and peer ids from GET /cluster on this peer, as decimal strings (ids are u64: never JS numbers). */
export async function clusterPeerIds(ip: string): Promise<{ self: string; peers: string[] }> {
  const text = await call(ip, 'GET', '/cluster');
  const self = /"peer_id"\s*:\s*(\d+)/.exec(text)?.[1];
  const peersBlock = /"peers"\s*:\s*\{(.*?)\}\s*,\s*"raft_info"/s.exec(text)?.[1] ?? '';
  const peers = [...peersBlock.matchAll(/"(\d+)"\s*:\s*\{/g)].map((m) => m[1]!).sort();
  if (!self) throw new Error(`GET /cluster on ${ip}: no peer_id in ${text.slice(0, 300)}`);
  return { self, peers };
}
