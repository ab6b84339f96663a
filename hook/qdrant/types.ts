/**
 * The Qdrant adapter's interface (QdrantApi) and how it reaches the pods. What one observation holds is policy's
 * vocabulary (hook/policy/types.ts, docs/qdrant-facts.md#http-api): this adapter maps Qdrant's answers into it and
 * re-exports it for its callers. Peer ids, terms and commits are exact decimal strings: they are u64 in Qdrant
 * and must never pass through a JS number (docs/qdrant-facts.md#peer-ids-are-u64).
 */
import type { ClusterStatus, CollectionCluster, PeerEndpoint, PeerObservation, VersionInfo } from '../policy/types.js';

export type { ClusterStatus, CollectionCluster, PeerEndpoint, PeerObservation, ShardReplica, VersionInfo } from '../policy/types.js';

/** How the hooks reach Qdrant's REST port (hook/qdrant/tls.ts builds it from the CLI flags). */
export interface QdrantReach {
  scheme: 'http' | 'https';
  port: number;
  /** PEM of the CA(s) to trust instead of the system store (https only). */
  ca?: string;
  /** Where `ca` was read from, for messages. */
  caFile?: string;
  /** https only: accept any certificate. Every report says so (a `qdrant.tls` warning). */
  insecureSkipVerify?: boolean;
  /** The namespace of the pods, for the name check. */
  namespace?: string;
}

/** The adapter the commands use; hook/qdrant/http-api.ts implements it, tests may fake it. */
export interface QdrantApi {
  /** How pods are reached (scheme, port, TLS trust); endpointOf() builds URLs from it. Default http on 6333. */
  readonly reach?: QdrantReach;
  version(ep: PeerEndpoint): Promise<VersionInfo>;
  ready(ep: PeerEndpoint): Promise<{ ready: boolean; text: string }>;
  cluster(ep: PeerEndpoint): Promise<ClusterStatus>;
  collectionNames(ep: PeerEndpoint): Promise<string[]>;
  collectionCluster(ep: PeerEndpoint, collection: string): Promise<CollectionCluster>;
  /** undefined before 1.16, where the guard does not read peer metadata (docs/qdrant-facts.md#peer-metadata-api). */
  peerMetadata(ep: PeerEndpoint): Promise<Record<string, { version: string }> | undefined>;
  /** All of the above, never throwing: failures land in `reachable`/`error`. */
  observe(ep: PeerEndpoint): Promise<PeerObservation>;
}
