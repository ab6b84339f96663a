/**
 * The vocabulary the decisions in policy/ are made on: what one round of observation learned about each Qdrant
 * peer, as plain data (docs/qdrant-facts.md#http-api). Policy owns these types; the qdrant/ adapter maps Qdrant's
 * answers into them (hook/qdrant/parse.ts) and re-exports them for its callers.
 * Peer ids, terms and commits are exact decimal strings: they are u64 in Qdrant and must never pass through a JS
 * number (docs/qdrant-facts.md#peer-ids-are-u64).
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
