/**
 * Builders of PeerObservation for the policy tables: a healthy N-peer cluster as Qdrant 1.13+ reports it
 * through GET /, /readyz, /cluster and /collections/{name}/cluster (docs/qdrant-facts.md#http-api), and small
 * edits to break one thing at a time. Plain data, not a test double of Qdrant.
 */
import type { CollectionCluster, PeerObservation } from '../../../hook/qdrant/types.js';

/** qdrant-2's id is above 2^53 (a peer created before v1.2, docs/qdrant-facts.md#peer-ids-are-u64). */
export const IDS = ['1439658109858024', '5720141224587513', '11532566549086892528'] as const;

export const uri = (ordinal: number) => `http://qdrant-${ordinal}.qdrant-headless:6335/`;

export interface ClusterOptions {
  n?: number;
  version?: string;
  term?: string;
  commit?: string;
  ids?: readonly string[];
  /** Collections: one "docs" shard 0 replicated on every peer, unless given. */
  collections?: boolean;
  peerMetadata?: boolean;
}

export function healthyCluster(opts: ClusterOptions = {}): PeerObservation[] {
  const n = opts.n ?? 3;
  const ids = opts.ids ?? IDS;
  const peers: Record<string, { uri: string }> = {};
  for (let i = 0; i < n; i++) peers[ids[i]!] = { uri: uri(i) };
  const out: PeerObservation[] = [];
  for (let i = 0; i < n; i++) {
    const self = ids[i]!;
    const collections: CollectionCluster[] = [
      {
        collection: 'docs',
        peerId: self,
        transfers: 0,
        replicas: Array.from({ length: n }, (_, j) => ({
          collection: 'docs',
          shardId: 0,
          peerId: ids[j]!,
          state: 'Active',
          local: j === i,
        })),
      },
    ];
    const o: PeerObservation = {
      endpoint: { pod: `qdrant-${i}`, ordinal: i, url: `http://10.0.0.${10 + i}:6333` },
      reachable: true,
      version: { version: opts.version ?? '1.13.4' },
      ready: true,
      readyText: 'all shards are ready',
      cluster: {
        status: 'enabled',
        peerId: self,
        peers: structuredClone(peers),
        raft: {
          term: opts.term ?? '7',
          commit: opts.commit ?? '1520',
          pendingOperations: 0,
          leader: ids[0]!,
          role: i === 0 ? 'Leader' : 'Follower',
          isVoter: true,
        },
        consensusThread: { status: 'working' },
        messageSendFailures: {},
      },
    };
    if (opts.collections !== false) o.collections = collections;
    if (opts.peerMetadata) {
      o.peerMetadata = Object.fromEntries(ids.slice(0, n).map((id) => [id, { version: opts.version ?? '1.13.4' }]));
    }
    out.push(o);
  }
  return out;
}

/** Edits one observation of a copy of the cluster. */
export function edit(obs: PeerObservation[], ordinal: number, f: (o: PeerObservation) => void): PeerObservation[] {
  const copy = structuredClone(obs);
  f(copy[ordinal]!);
  return copy;
}

/** Edits the enabled cluster status of one observation. */
export function editCluster(
  obs: PeerObservation[],
  ordinal: number,
  f: (c: Extract<NonNullable<PeerObservation['cluster']>, { status: 'enabled' }>) => void,
): PeerObservation[] {
  return edit(obs, ordinal, (o) => {
    if (o.cluster?.status !== 'enabled') throw new Error('test setup: cluster not enabled');
    f(o.cluster);
  });
}

export function unreachable(obs: PeerObservation[], ordinal: number, error = 'connect ECONNREFUSED 10.0.0.12:6333'): PeerObservation[] {
  return edit(obs, ordinal, (o) => {
    const ep = o.endpoint;
    for (const k of Object.keys(o)) delete (o as unknown as Record<string, unknown>)[k];
    Object.assign(o, { endpoint: ep, reachable: false, error });
  });
}

/** Sets the state of replica (docs, shard 0, peer of `owner`) as every peer reports it. */
export function shardState(obs: PeerObservation[], owner: number, state: string, reporters?: number[]): PeerObservation[] {
  const copy = structuredClone(obs);
  const ownerId = (copy[owner]!.cluster as { peerId: string }).peerId;
  copy.forEach((o, i) => {
    if (reporters && !reporters.includes(i)) return;
    for (const c of o.collections ?? []) for (const r of c.replicas) if (r.peerId === ownerId) r.state = state;
  });
  return copy;
}
