/**
 * The fixed set of check ids of the cluster-aware hooks (STYLE.md "Fixed sets of codes"). CI jobs and
 * dashboards match on these strings, so an id is never renamed; a new rule gets a new id.
 * The per-volume ids (`version.policy`, `volume.state`) live beside their rules in version.ts and
 * volume-verdict.ts; ALL_CHECK_IDS lists every id a guard report can carry.
 */
import { VERSION_CHECK_ID } from './version.js';
import { VOLUME_STATE_CHECK_ID } from './volume-verdict.js';

export const CHECK_IDS = {
  /** Every pod of the StatefulSet answered GET / and GET /cluster. */
  clusterReachable: 'cluster.reachable',
  /** Cluster mode is the same on every peer (all enabled, or a single node with it disabled). */
  clusterMode: 'cluster.mode',
  /** Every peer follows the same leader, and at most one peer says it leads. */
  clusterLeader: 'cluster.leader',
  /** Every peer is in the same Raft term. */
  clusterTerm: 'cluster.term',
  /** Every peer has the same commit index. */
  clusterCommit: 'cluster.commit',
  /** pending_operations is 0 on every peer. */
  clusterPending: 'cluster.pending',
  /** The consensus thread is `working` on every peer. */
  clusterConsensusThread: 'cluster.consensus-thread',
  /** Every shard replica of every collection is Active. */
  clusterShards: 'cluster.shards',
  /** The consensus holds exactly one peer per replica: no phantom, missing or duplicate (#6348) peers. */
  clusterMembership: 'cluster.membership',
  /** A pod answers /readyz with 200. */
  peerReady: 'peer.ready',
  /** A pod runs the expected version (the same as the others before, the target after). */
  peerVersion: 'peer.version',
  /** A pod answers with the peer id recorded for its ordinal before the upgrade. */
  peerIdentity: 'peer.identity',
  /** Every entry of a peer's peer_metadata names the target version (1.16+, reference/qdrant.md §6). */
  peerMetadata: 'peer.metadata',
  /** The pod's log shows the #6229 metadata-replacement loop. */
  peerLogLoop: 'peer.log-loop',
  /** The pod's log shows a new raft state minted on a volume that held one. */
  peerIdentityLost: 'peer.identity-lost',
  /** The pod's log shows a peer's address replaced (a note, not a failure). */
  peerAddressChange: 'peer.address-change',
  /** The StatefulSet rollout reached its update revision with every pod ready. */
  rolloutComplete: 'rollout.complete',
  /** The staged (partitioned) rollout: which ordinal it reached, or where it stopped. */
  rolloutStaged: 'rollout.staged',
} as const;

export type ClusterCheckId = (typeof CHECK_IDS)[keyof typeof CHECK_IDS];

export const CLUSTER_CHECK_IDS: readonly ClusterCheckId[] = Object.values(CHECK_IDS);

export type GuardCheckId = ClusterCheckId | typeof VERSION_CHECK_ID | typeof VOLUME_STATE_CHECK_ID;

/** Every id any guard report can carry. */
export const ALL_CHECK_IDS: readonly GuardCheckId[] = [VERSION_CHECK_ID, VOLUME_STATE_CHECK_ID, ...CLUSTER_CHECK_IDS];
