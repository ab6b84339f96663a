/**
 * The catalogue of check ids: every id a report can carry, with the runbook section an operator reads when it
 * fails or warns. `check()` in report.ts accepts only these ids (a type error otherwise, and a thrown
 * InternalError at run time for anything that slipped past the types).
 *
 * ADDING A CHECK IS ONE LINE in CHECK_CATALOGUE below:
 *   'area.name': entry(RUNBOOKS.someSection, 'What it checks, in one sentence.'),
 * then run `npx tsx scripts/check-table.ts` (or `make readme`) to regenerate the README's table (a unit test says when it is stale).
 * A named constant in CHECK_IDS is optional. CI jobs and dashboards match on these strings, so an id is never renamed; a new rule gets a new id.
 */
import { RUNBOOKS, runbook, type RunbookAnchor } from './remedies.js';

interface CatalogueEntry {
  /** Section of docs/runbooks.md for a failure or warning of this check. */
  readonly runbook: RunbookAnchor;
  /** What the check looks at; the README's table shows it. */
  readonly about: string;
}

function entry(anchor: RunbookAnchor, about: string): CatalogueEntry {
  return { runbook: anchor, about };
}

export const CHECK_CATALOGUE = {
  // Per volume: `volume`, `inspect`, the startup check, and pre-upgrade's worker pods.
  'version.policy': entry(RUNBOOKS.versionRefused, 'The version change is the same version, a patch or one minor step (no skipped minor, major or downgrade).'),
  'volume.state': entry(RUNBOOKS.lostState, "The volume is fresh or holds a valid raft state; a used volume without one is refused (qdrant/qdrant#6229)."),
  'volume.archive': entry(RUNBOOKS.archives, "The volume's raft_state.json and collections_meta_wal/ were archived before the upgrade."),
  'volume.evidence': entry(RUNBOOKS.readingReports, 'Informational (inspect): what shows the volume was used: WAL segments, collections, aliases.'),
  'volume.peers': entry(RUNBOOKS.readingReports, 'Informational (inspect): format generation, voters and peers recorded in the state.'),
  'volume.note': entry(RUNBOOKS.readingReports, 'Informational (inspect): anything else worth knowing about the volume.'),
  'volume.phantom-voter': entry(RUNBOOKS.lostState, 'No address is shared by two voters in the raft state (a peer that came back under a new id, qdrant/qdrant#6229).'),
  'volume.stub-state': entry(RUNBOOKS.lostState, 'A volume that holds collections does not carry the empty state of a peer that never joined.'),
  'volume.snapshot': entry(RUNBOOKS.volumeSnapshot, 'The CSI VolumeSnapshot of the PVC became readyToUse before the deadline.'),
  // diagnose-logs: the #6229 signature in a Qdrant log the operator already has.
  'diagnose.signature': entry(RUNBOOKS.diagnoseLog, 'The log shows no sign of a peer that lost its raft state (qdrant/qdrant#6229), in its own log or in the log of a peer that saw it.'),
  'diagnose.new-state': entry(RUNBOOKS.newPeerId, 'No new raft state initialized on a volume that then loads collections.'),
  'diagnose.metadata-loop': entry(RUNBOOKS.metadataLoop, 'No replayed "Replaced metadata" lines (a version replaced by itself).'),
  'diagnose.replayed-operations': entry(RUNBOOKS.lostState, 'No collection operation applied a second time (a consensus log replayed under a new id).'),
  'diagnose.duplicate-peer': entry(RUNBOOKS.lostState, 'No second peer id asking for an address another id holds.'),
  'diagnose.join-rejected': entry(RUNBOOKS.lostState, "No join rejected because the URI belongs to another peer id (Qdrant 1.16's answer to a peer that lost its state)."),
  'diagnose.consensus-panic': entry(RUNBOOKS.lostState, 'No panic while initializing consensus with a new raft state (the crash loop of a 1.16 peer that lost its state).'),
  // Archives and restore.
  'archive.entry': entry(RUNBOOKS.archives, 'One archive, read through: manifest present, every checksum matching.'),
  'restore.archive': entry(RUNBOOKS.restore, 'The archive is intact: allowed entries only, every sha256 matching its manifest.'),
  'restore.not-running': entry(RUNBOOKS.restore, 'No Qdrant process holds the storage dir.'),
  'restore.identity': entry(RUNBOOKS.restore, 'The volume does not hold a valid state of another peer (unless --allow-peer-change).'),
  'restore.space': entry(RUNBOOKS.restore, 'The file system has room for the staged copy.'),
  'restore.lock': entry(RUNBOOKS.restore, 'No other restore or volume run holds the storage dir (its lock file in .upgrade-guard/).'),
  'restore.staging': entry(RUNBOOKS.restore, 'The staged copy was written, fsynced and re-read from disk matching every checksum before the swap.'),
  'restore.wal': entry(RUNBOOKS.restore, "Which consensus WAL the restored state goes with: the volume's own (newer) one, or the archive's when the volume has none or --with-wal."),
  'restore.applied': entry(RUNBOOKS.restore, 'The restored volume reads back as the archived peer.'),
  'volume.lock': entry(RUNBOOKS.restore, 'No restore or other volume run holds the storage dir (its lock file in .upgrade-guard/).'),
  // Cluster health: pre-upgrade (degraded cluster) and post-upgrade (not converged).
  'cluster.reachable': entry(RUNBOOKS.degradedCluster, 'Every pod of the StatefulSet answered GET / and GET /cluster.'),
  'cluster.mode': entry(RUNBOOKS.degradedCluster, 'Cluster mode is the same on every peer (all enabled, or a single node with it disabled).'),
  'cluster.leader': entry(RUNBOOKS.degradedCluster, 'Every peer follows the same leader, and at most one peer says it leads.'),
  'cluster.term': entry(RUNBOOKS.degradedCluster, 'Every peer is in the same Raft term.'),
  'cluster.commit': entry(RUNBOOKS.degradedCluster, 'Every peer has the same commit index.'),
  'cluster.pending': entry(RUNBOOKS.degradedCluster, 'pending_operations is 0 on every peer.'),
  'cluster.consensus-thread': entry(RUNBOOKS.degradedCluster, 'The consensus thread is `working` on every peer.'),
  'cluster.shards': entry(RUNBOOKS.degradedCluster, 'Every shard replica of every collection is Active.'),
  'cluster.membership': entry(RUNBOOKS.degradedCluster, 'The consensus holds exactly one peer per replica: no phantom, missing or duplicate (qdrant/qdrant#6348) peers.'),
  // Per peer.
  'peer.ready': entry(RUNBOOKS.degradedCluster, 'The pod answers /readyz with 200.'),
  'peer.version': entry(RUNBOOKS.notConverged, 'The pod runs the expected version (the same as the others before, the target after).'),
  'peer.identity': entry(RUNBOOKS.newPeerId, 'The pod answers with the peer id recorded for its ordinal before the upgrade.'),
  'peer.metadata': entry(RUNBOOKS.notConverged, "Every entry of the peer's peer_metadata names the target version (1.16+)."),
  'peer.log-loop': entry(RUNBOOKS.metadataLoop, "The pod's log shows no #6229 metadata-replacement loop."),
  'peer.identity-lost': entry(RUNBOOKS.newPeerId, "The pod's log shows no new raft state minted on a volume that held one."),
  'peer.address-change': entry(RUNBOOKS.readingReports, "Note: the pod's log shows a peer's address replaced."),
  // Rollout.
  'rollout.complete': entry(RUNBOOKS.rolloutStuck, 'The StatefulSet rollout reached its update revision with every pod ready.'),
  'rollout.staged': entry(RUNBOOKS.stagedStopped, 'The staged (partitioned) rollout: which ordinal it reached, or where it stopped.'),
  // The guard's own bookkeeping.
  'guard.record': entry(RUNBOOKS.guardBookkeeping, 'The record ConfigMap was updated with the verdict.'),
  'guard.event': entry(RUNBOOKS.guardBookkeeping, 'The Event on the StatefulSet was emitted.'),
  // How the hooks reach Qdrant, and the in-cluster restore.
  'qdrant.tls': entry(RUNBOOKS.readingReports, "Qdrant's TLS certificates are verified (a warning while --qdrant-insecure-skip-verify is on)."),
  'restore-volume.held': entry(RUNBOOKS.restore, 'No Qdrant container runs on the volume to restore (its pod is held by the startup check, or absent).'),
  'restore-volume.archive': entry(RUNBOOKS.restore, 'The archive to restore is named, or the record names the one taken before the last upgrade.'),
  'restore-volume.worker': entry(RUNBOOKS.restore, 'The worker pod ran `restore` on the PVC, with every check restore has, and it passed.'),
  'restore-volume.peer': entry(RUNBOOKS.restore, 'The peer came back ready and answers under its recorded peer id.'),
} as const satisfies Record<string, CatalogueEntry>;

/** Every id any report can carry. */
export type CheckId = keyof typeof CHECK_CATALOGUE;

export const ALL_CHECK_IDS = Object.keys(CHECK_CATALOGUE) as readonly CheckId[];

export function isCheckId(id: string): id is CheckId {
  return Object.prototype.hasOwnProperty.call(CHECK_CATALOGUE, id);
}

/** `docs/runbooks.md#<anchor>` for a check. */
export function runbookOf(id: CheckId): string {
  return runbook(CHECK_CATALOGUE[id].runbook);
}

/** Named constants for the ids the cluster-aware hooks emit from several places. */
export const CHECK_IDS = {
  clusterReachable: 'cluster.reachable',
  clusterMode: 'cluster.mode',
  clusterLeader: 'cluster.leader',
  clusterTerm: 'cluster.term',
  clusterCommit: 'cluster.commit',
  clusterPending: 'cluster.pending',
  clusterConsensusThread: 'cluster.consensus-thread',
  clusterShards: 'cluster.shards',
  clusterMembership: 'cluster.membership',
  peerReady: 'peer.ready',
  peerVersion: 'peer.version',
  peerIdentity: 'peer.identity',
  peerMetadata: 'peer.metadata',
  peerLogLoop: 'peer.log-loop',
  peerIdentityLost: 'peer.identity-lost',
  peerAddressChange: 'peer.address-change',
  rolloutComplete: 'rollout.complete',
  rolloutStaged: 'rollout.staged',
} as const satisfies Record<string, CheckId>;

export type ClusterCheckId = (typeof CHECK_IDS)[keyof typeof CHECK_IDS];

export const CLUSTER_CHECK_IDS: readonly ClusterCheckId[] = Object.values(CHECK_IDS);

/** Kept for callers that named the union before the catalogue existed. */
export type GuardCheckId = CheckId;
