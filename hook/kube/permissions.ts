/**
 * Every permission hook/kube/client.ts uses, one row per API call kind. The chart's hook Role
 * (templates/upgrade-guard/hook-role.yaml) should grant exactly these (least privilege, no Secrets,
 * no pods/exec), and a chart test can compare the rendered rules against this list.
 */
export interface Permission {
  /** API group; "" is the core group. */
  group: string;
  /** Resource, with "/subresource" when there is one. */
  resource: string;
  verbs: string[];
  /** What needs it, for the Role's comments and error remedies. */
  why: string;
}

export const REQUIRED_PERMISSIONS: readonly Permission[] = [
  { group: 'apps', resource: 'statefulsets', verbs: ['get'], why: 'discover the Qdrant StatefulSet' },
  {
    group: 'apps',
    resource: 'statefulsets',
    verbs: ['patch'],
    why: 'staged rollout: lower rollingUpdate.partition one peer at a time',
  },
  { group: '', resource: 'pods', verbs: ['list'], why: 'find the Qdrant pods and watch worker pods' },
  { group: '', resource: 'pods', verbs: ['create', 'delete'], why: 'run and clean up the per-volume worker pods' },
  { group: '', resource: 'pods/log', verbs: ['get'], why: 'detect the #6229 log loop while waiting' },
  { group: '', resource: 'persistentvolumeclaims', verbs: ['get', 'list'], why: 'find the volume of each ordinal' },
  { group: '', resource: 'configmaps', verbs: ['get', 'create', 'update'], why: 'the upgrade record' },
  { group: '', resource: 'events', verbs: ['create'], why: 'UpgradeGuardPassed / UpgradeRefused on the StatefulSet' },
  {
    group: 'snapshot.storage.k8s.io',
    resource: 'volumesnapshots',
    verbs: ['get', 'create'],
    why: 'optional CSI snapshots (upgradeGuard.volumeSnapshotClassName)',
  },
];
