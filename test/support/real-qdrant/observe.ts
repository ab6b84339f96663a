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

/**
 * Observes every peer until `assess` returns no failing check (ignoring `tolerate`) or `ms` pass, and returns the
 * last checks: a real cluster needs a moment after a restart to elect a leader, as the post-upgrade hook knows.
 */
export async function settle<C extends { id: string; status: string }>(
  c: RealQdrantCluster,
  assess: (obs: PeerObservation[]) => C[],
  ms = 60_000,
  tolerate: readonly string[] = [],
): Promise<C[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const checks = assess(await observeAll(c));
    const failing = checks.filter((x) => x.status === 'fail' && !tolerate.includes(x.id));
    if (failing.length === 0 || Date.now() > deadline) return checks;
    await new Promise((r) => setTimeout(r, 500));
  }
}
