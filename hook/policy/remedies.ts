/**
 * Where operator-facing text sends people, and the remedies that more than one check gives, worded once.
 * Every remedy names a section of docs/runbooks.md (test/unit/policy/runbook-anchors.test.ts holds each anchor
 * to a heading there) and, where it applies, the upstream issue.
 * Pure: strings in, strings out.
 */

/** The runbook page, as a path in this repository. */
export const RUNBOOK_PAGE = 'docs/runbooks.md';

/** Sections of docs/runbooks.md. The values are the headings' anchors: renaming a heading means changing it here. */
export const RUNBOOKS = {
  lostState: 'lost-or-corrupt-raft-state',
  noArchive: 'no-archive-to-restore',
  versionRefused: 'version-change-refused',
  degradedCluster: 'degraded-cluster',
  postUpgradeFailed: 'post-upgrade-failed',
  metadataLoop: 'metadata-replacement-loop',
  newPeerId: 'new-peer-id',
  notConverged: 'not-converged',
  rolloutStuck: 'rollout-stuck',
  stagedStopped: 'staged-rollout-stopped',
  startupCheck: 'startup-check-holds-a-pod',
  restore: 'restore-an-archive',
  archives: 'list-and-check-archives',
  volumeSnapshot: 'volumesnapshot-failed',
  guardBookkeeping: 'record-or-event-not-written',
  readingReports: 'reading-a-report',
  diagnoseLog: 'diagnose-a-qdrant-log',
  emergencyOff: 'turn-the-guard-off-in-an-emergency',
} as const;

export type RunbookAnchor = (typeof RUNBOOKS)[keyof typeof RUNBOOKS];

/** `docs/runbooks.md#<anchor>`, the form every message uses. */
export function runbook(anchor: RunbookAnchor): string {
  return `${RUNBOOK_PAGE}#${anchor}`;
}

/** Upstream issues a remedy may cite: the incident and its relatives (docs/incident-6229.md). */
export const UPSTREAM = {
  lostRaftState: 'https://github.com/qdrant/qdrant/issues/6229',
  duplicatePeer: 'https://github.com/qdrant/qdrant/issues/6348',
  notReadyRollout: 'https://github.com/qdrant/qdrant-helm/issues/285',
} as const;

/** Qdrant's own upgrade guide (one minor at a time, no downgrade path). */
export const QDRANT_UPGRADE_GUIDE = 'https://qdrant.tech/documentation/upgrades/';

/** Where a restore runs and what it restores. */
export interface RestoreTarget {
  /** The archive to give `restore --archive`, as the place that runs restore sees it. */
  archivePath?: string;
  /** The storage dir, as the place that runs restore sees it (`/qdrant/storage` in a Job mounting the PVC). */
  storagePath: string;
  /** The StatefulSet to scale down first, when the advice is for a Kubernetes cluster. */
  statefulset?: string;
  /** Whose volume it is (`qdrant-1`), named when no archive is known. */
  pod?: string;
  /** The PVC, when known: the operator mounts it in the restore Job. */
  pvc?: string;
  /** The Helm release (from the record): with it and the StatefulSet, the advice is the in-cluster restore-volume. */
  release?: string;
  namespace?: string;
}

/**
 * The restore advice. With a StatefulSet the steps include scaling down and back (restore refuses while Qdrant
 * holds the dir); without one (the startup check, a laptop) Qdrant is simply kept stopped on that volume.
 * With no archive path the operator lists the volume's archives first.
 */
export function restoreArchive(t: RestoreTarget): string {
  const file = t.archivePath ?? '<file>';
  const command = `qdrant-upgrade-guard restore --archive ${file} --storage ${t.storagePath}`;
  const name = t.archivePath ? baseName(t.archivePath) : undefined;
  const on = t.pvc ? ` on pvc/${t.pvc}` : '';
  const what = name
    ? `restore ${name}${on}`
    : `restore the newest pre-upgrade archive of ${t.pod ? `${t.pod}'s volume` : 'this volume'}${on} (list them with ` +
      `\`qdrant-upgrade-guard archives --storage ${t.storagePath}\`)`;
  const see = `(${runbook(RUNBOOKS.restore)})`;
  const ordinal = t.pod && t.statefulset && t.pod.startsWith(`${t.statefulset}-`) ? Number(t.pod.slice(t.statefulset.length + 1)) : NaN;
  if (t.statefulset && t.release && Number.isInteger(ordinal) && ordinal >= 0) {
    // The peer runs under the id it minted, so its startup check passes and nothing holds it: with the StatefulSet
    // at 0 no pod uses the volume, and restore-volume's worker restores it; --allow-peer-change because the volume
    // now holds the minted id's valid state (restore.identity names both).
    const inCluster = restoreVolumeCommand({
      ...(t.namespace ? { namespace: t.namespace } : {}),
      release: t.release,
      statefulset: t.statefulset,
      ordinal,
      ...(t.archivePath ? { archive: t.archivePath } : {}),
    });
    const ns = t.namespace ? ` -n ${t.namespace}` : '';
    return (
      `Scale the StatefulSet to 0 (kubectl${ns} scale statefulset ${t.statefulset} --replicas=0), ${what} with ` +
      `\`${inCluster} --allow-peer-change\`, then scale back ${see}.`
    );
  }
  if (t.statefulset) {
    return (
      `Scale the StatefulSet to 0 (kubectl scale statefulset ${t.statefulset} --replicas=0), ${what} with ` +
      `\`${command}\`, then scale back ${see}.`
    );
  }
  return `Keep Qdrant stopped on this volume and ${what} with \`${command}\` ${see}.`;
}

/** When no archive of the volume exists: a backup, or the peer rejoins as a new one. */
export function noArchive(t: { pod?: string; pvc?: string; oldId?: string }): string {
  const whose = t.pvc ? `pvc/${t.pvc}` : t.pod ? `${t.pod}'s volume` : 'this volume';
  return (
    `No raft-state archive of ${whose} was found. Restore raft_state.json from a backup or VolumeSnapshot taken ` +
    `before the loss; if there is none, remove the old peer on the leader (DELETE /cluster/peer/${t.oldId ?? '<old id>'}), empty the ` +
    `volume and let the pod join as a new peer (${runbook(RUNBOOKS.noArchive)}).`
  );
}

/** After a restore onto a peer that came back under a new id: the id it minted must leave the consensus. */
export function removeMintedPeer(mintedId: string): string {
  return `Afterwards remove the id it minted from the consensus on the leader (DELETE /cluster/peer/${mintedId}).`;
}

/** Why starting Qdrant on a used volume without its state is never the way out. */
export const NEVER_START_WITHOUT_STATE =
  `Starting Qdrant on a used volume without its raft state mints a new peer id and replays the old consensus log under it (${UPSTREAM.lostRaftState}).`;

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/**
 * The in-cluster restore an operator runs from a laptop with a kubeconfig (docs/operations.md#restore-a-volume-in-the-cluster),
 * with the values filled in. Remedies given where Qdrant runs in Kubernetes print this instead of a host-folder restore.
 */
export function restoreVolumeCommand(t: { namespace?: string; release: string; statefulset: string; ordinal: number; archive?: string }): string {
  return [
    'qdrant-upgrade-guard restore-volume',
    ...(t.namespace ? [`--namespace ${t.namespace}`] : []),
    `--release ${t.release}`,
    `--statefulset ${t.statefulset}`,
    `--ordinal ${t.ordinal}`,
    t.archive ? `--archive ${baseName(t.archive)}` : '--latest',
  ].join(' ');
}
