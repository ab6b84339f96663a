/**
 * What the hooks observe of one Qdrant peer over HTTP, as plain data (docs/qdrant-facts.md#http-api).
 * Peer ids, terms and commits are exact decimal strings: they are u64 in Qdrant and must never
 * pass through a JS number (docs/qdrant-facts.md#peer-ids-are-u64).
 */

/** Where to reach one peer: the pod IP from the Kubernetes API, no DNS needed. */
export interface PeerEndpoint {
  /** Pod name, e.g. "qdrant-1". */
  pod: string;
  ordinal: number;
  /** Base URL of the REST API, e.g. "http://10.0.0.7:6333". */
  url: string;
}

export interface VersionInfo {
  version: string;
  commit?: string;
}

export type ClusterStatus =
  | { status: 'disabled' }
  | {
      status: 'enabled';
      peerId: string;
      peers: Record<string, { uri: string }>;
      raft: {
        term: string;
        commit: string;
        pendingOperations: number;
        leader?: string;
        role?: string;
        isVoter?: boolean;
      };
      consensusThread: { status: 'working' | 'stopped' | 'stopped_with_err' | string; err?: string };
      messageSendFailures: Record<string, { count: number; latestError?: string }>;
    };

export interface ShardReplica {
  collection: string;
  shardId: number;
  peerId: string;
  state: string;
  /** True when reported by this peer as a local shard. */
  local: boolean;
}

export interface CollectionCluster {
  collection: string;
  peerId: string;
  replicas: ShardReplica[];
  transfers: number;
}

/** Everything one round of observation learned about a peer; missing parts say why. */
export interface PeerObservation {
  endpoint: PeerEndpoint;
  reachable: boolean;
  /** Why the peer could not be observed (connection refused, timeout, 401, ...). */
  error?: string;
  version?: VersionInfo;
  ready?: boolean;
  readyText?: string;
  cluster?: ClusterStatus;
  collections?: CollectionCluster[];
  /** 1.16+ only: telemetry details_level=3 result.cluster.peer_metadata. */
  peerMetadata?: Record<string, { version: string }>;
}

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
