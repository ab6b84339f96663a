/**
 * What the cluster-aware commands (pre-upgrade, post-upgrade, verify) share: their common flags,
 * the adapters they are given, and how a pod becomes a Qdrant endpoint. Orchestration only: every
 * decision lives in policy/, every call in kube/ or qdrant/.
 */
import type { KubeApi, PodSnapshot, StatefulSetSnapshot } from '../kube/types.js';
import type { PeerEndpoint, PeerObservation, QdrantApi } from '../qdrant/types.js';
import type { Clock } from '../runtime/clock.js';
import type { Progress } from '../runtime/progress.js';
import { parseVersion } from '../policy/version.js';
import { DEFAULT_REACH, type QdrantReach } from '../qdrant/tls.js';

export interface ClusterTarget {
  /** Kubernetes namespace (default: the service account's). */
  namespace?: string;
  /** Helm release name: names the record ConfigMap `<release>-upgrade-guard`. */
  release: string;
  /** The Qdrant StatefulSet. */
  statefulset: string;
  /** Path to a kubeconfig (default: KUBECONFIG or in-cluster). */
  kubeconfig?: string;
}

export interface ClusterDeps {
  kube: KubeApi;
  qdrant: QdrantApi;
  clock: Clock;
  progress: Progress;
}

/** Qdrant's default REST port; the chart passes the configured one (--qdrant-port). */
export const QDRANT_HTTP_PORT = DEFAULT_REACH.port;
/** The chart's volume claim templates: storage, and snapshots when snapshotPersistence is on. */
export const STORAGE_CLAIM = 'qdrant-storage';
export const SNAPSHOTS_CLAIM = 'qdrant-snapshots';

export function recordName(release: string): string {
  return `${release}-upgrade-guard`;
}

export function guardLabels(release: string): Record<string, string> {
  return {
    'app.kubernetes.io/managed-by': 'qdrant-upgrade-guard',
    'app.kubernetes.io/instance': release,
    'app.kubernetes.io/component': 'upgrade-guard',
  };
}

/**
 * The pod IP from the API: no cluster DNS needed, and no confusion with a pod of the same name later. Scheme and
 * port are the ones Qdrant was configured with (the chart's --qdrant-scheme/--qdrant-port; default http, 6333).
 */
export function endpointOf(pod: PodSnapshot, reach: Pick<QdrantReach, 'scheme' | 'port'> = DEFAULT_REACH): PeerEndpoint {
  const host = pod.ip.includes(':') ? `[${pod.ip}]` : pod.ip;
  return { pod: pod.name, ordinal: pod.ordinal ?? -1, url: `${reach.scheme}://${host}:${reach.port}` };
}

/** Observes every pod that has an IP, in parallel; a pod without one is recorded as unreachable. */
export async function observePods(qdrant: QdrantApi, pods: PodSnapshot[]): Promise<PeerObservation[]> {
  return Promise.all(
    pods.map((pod) =>
      pod.ip
        ? qdrant.observe(endpointOf(pod, qdrant.reach))
        : Promise.resolve<PeerObservation>({
            endpoint: { pod: pod.name, ordinal: pod.ordinal ?? -1, url: '' },
            reachable: false,
            error: `no pod IP (phase ${pod.phase}${pod.waitingReason ? `, ${pod.waitingReason}` : ''})`,
          }),
    ),
  );
}

/** The StatefulSet's own pods (ordinal names), in ordinal order. */
export function podsOf(sts: StatefulSetSnapshot, pods: PodSnapshot[]): PodSnapshot[] {
  const prefix = `${sts.name}-`;
  return pods
    .filter((p) => p.ordinal !== null && p.name === `${prefix}${p.ordinal}`)
    .sort((a, b) => (a.ordinal ?? 0) - (b.ordinal ?? 0));
}

/** The tag of an image reference (`qdrant/qdrant:v1.13.5@sha256:...` -> `v1.13.5`), or undefined. */
export function imageTag(image: string): string | undefined {
  const noDigest = image.split('@')[0]!;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.indexOf(':', lastSlash + 1);
  return colon === -1 ? undefined : noDigest.slice(colon + 1);
}

/**
 * The Qdrant version an image tag names, if it names one: `v1.13.5` and `v1.13.5-unprivileged`
 * (the official image's unprivileged variant) both give 1.13.5.
 */
export function versionOfImage(image: string): string | undefined {
  const tag = imageTag(image)?.replace(/-unprivileged$/, '');
  if (!tag) return undefined;
  try {
    return parseVersion(tag).version;
  } catch {
    return undefined;
  }
}

/** Builds the real adapters, loaded lazily: @kubernetes/client-node is heavy and `inspect` never needs it. */
export async function realDeps(
  target: ClusterTarget,
  options: { env: NodeJS.ProcessEnv; clock: Clock; progress: Progress; qdrantTimeoutMs?: number; reach?: QdrantReach },
): Promise<ClusterDeps> {
  const [{ createKubeApi }, { HttpQdrantApi }] = await Promise.all([
    import('../kube/client.js'),
    import('../qdrant/http-api.js'),
  ]);
  const kube = createKubeApi({
    ...(target.namespace ? { namespace: target.namespace } : {}),
    ...(target.kubeconfig ? { kubeconfig: target.kubeconfig } : {}),
    clock: options.clock,
    progress: options.progress,
  });
  // Both keys come from the release Secret through env; the read-only one is used when present (every call reads).
  const apiKey = options.env.QDRANT_API_KEY;
  const readOnlyApiKey = options.env.QDRANT_READ_ONLY_API_KEY;
  const qdrant = new HttpQdrantApi({
    ...(apiKey ? { apiKey } : {}),
    ...(readOnlyApiKey ? { readOnlyApiKey } : {}),
    reach: { ...(options.reach ?? DEFAULT_REACH), namespace: kube.namespace },
    timeoutMs: options.qdrantTimeoutMs ?? 5000,
  });
  return { kube, qdrant, clock: options.clock, progress: options.progress };
}
