/**
 * The guard's own qdrant adapter pointed at real peers: what pre-upgrade, post-upgrade and verify would observe.
 */
import { HttpQdrantApi } from '../../../hook/qdrant/http-api.js';
import type { PeerEndpoint, PeerObservation } from '../../../hook/qdrant/types.js';
import type { RealQdrantCluster, RealQdrantPeer } from './cluster.js';

export function endpointOf(p: RealQdrantPeer): PeerEndpoint {
  return { pod: p.name, ordinal: p.ordinal, url: p.url };
}

export const realApi = () => new HttpQdrantApi({ timeoutMs: 5_000 });

/** One round of observation of every peer, running or not, as the hooks do it. */
export async function observeAll(c: RealQdrantCluster): Promise<PeerObservation[]> {
  const api = realApi();
  return Promise.all(c.peers.map((p) => api.observe(endpointOf(p))));
}
