/**
 * The Kubernetes API calls of every cluster command, declared in one table: which KubeApi methods a
 * command uses (COMMAND_METHODS) and which requests each method sends (METHOD_CALLS, next to client.ts,
 * which implements them). The chart's Roles are rendered to grant exactly the rules rolesFor() derives from
 * these declarations: test/chart/rbac.test.ts renders the chart and fails on a missing AND on an unused grant,
 * the integration tests run each command against the API double with only its Role, and docs/rbac.md is
 * generated from this file (scripts/rbac-table.mjs, checked current by a test).
 *
 * Name-scoped calls (`names`) become rules with resourceNames. Requests that carry no name (create, list)
 * cannot be limited that way (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources).
 */

/** The commands that call the Kubernetes API; each has its own Role in the chart. */
export type GuardCommand = 'pre-upgrade' | 'post-upgrade' | 'verify' | 'restore-volume';
export const GUARD_COMMANDS: readonly GuardCommand[] = ['pre-upgrade', 'post-upgrade', 'verify', 'restore-volume'];

/**
 * Which names a name-scoped request uses, resolved by rolesFor() from the release:
 *  - statefulset: the Qdrant StatefulSet (the chart's fullname);
 *  - record: the record ConfigMap `<release>-upgrade-guard`;
 *  - qdrant-pods: the StatefulSet's pods `<statefulset>-<ordinal>` for every ordinal that exists.
 */
export type NameSet = 'statefulset' | 'record' | 'qdrant-pods';

/** When a call is made: always, or only with a feature on (the chart grants it only then). */
export type Condition = 'always' | 'staged' | 'volume-snapshots';

export interface ApiCall {
  /** API group; "" is the core group. */
  group: string;
  /** Plural resource, with "/subresource" when there is one. */
  resource: string;
  verb: string;
  /** Set when the request names its object: the Role then lists these names. */
  names?: NameSet;
}

/** The methods of KubeApi (hook/kube/types.ts) that send requests. */
export type KubeMethod =
  | 'getStatefulSet'
  | 'listPods'
  | 'getPvc'
  | 'listPvcs'
  | 'runWorkerPods'
  | 'deletePod'
  | 'createVolumeSnapshot'
  | 'waitVolumeSnapshotReady'
  | 'readRecord'
  | 'writeRecord'
  | 'updateRecord'
  | 'emitEvent'
  | 'podLogs'
  | 'patchStatefulSetPartition'
  | 'releaseStatefulSetPartition';

const core = (resource: string, verb: string, names?: NameSet): ApiCall => ({ group: '', resource, verb, ...(names ? { names } : {}) });
const apps = (resource: string, verb: string, names?: NameSet): ApiCall => ({ group: 'apps', resource, verb, ...(names ? { names } : {}) });
const snapshots = (verb: string): ApiCall => ({ group: 'snapshot.storage.k8s.io', resource: 'volumesnapshots', verb });

/** Every request each adapter method can send (hook/kube/client.ts), retries and conflict paths included. */
export const METHOD_CALLS: Record<KubeMethod, readonly ApiCall[]> = {
  getStatefulSet: [apps('statefulsets', 'get', 'statefulset')],
  listPods: [core('pods', 'list')],
  getPvc: [core('persistentvolumeclaims', 'get')],
  listPvcs: [core('persistentvolumeclaims', 'list')],
  // Create, poll by label (list) and delete the worker pods; a leftover of the same name is listed and deleted.
  runWorkerPods: [core('pods', 'create'), core('pods', 'list'), core('pods', 'delete')],
  deletePod: [core('pods', 'delete', 'qdrant-pods')],
  // A 409 on create (a retried request that went through) reads the existing object back.
  createVolumeSnapshot: [snapshots('create'), snapshots('get')],
  waitVolumeSnapshotReady: [snapshots('get')],
  readRecord: [core('configmaps', 'get', 'record')],
  // Create when it does not exist yet (a create names nothing), else replace at the version read.
  writeRecord: [core('configmaps', 'get', 'record'), core('configmaps', 'create'), core('configmaps', 'update', 'record')],
  updateRecord: [core('configmaps', 'get', 'record'), core('configmaps', 'create'), core('configmaps', 'update', 'record')],
  emitEvent: [core('events', 'create')],
  podLogs: [core('pods/log', 'get', 'qdrant-pods')],
  // Server-side apply is a PATCH.
  patchStatefulSetPartition: [apps('statefulsets', 'patch', 'statefulset')],
  releaseStatefulSetPartition: [apps('statefulsets', 'patch', 'statefulset')],
};

export interface MethodUse {
  method: KubeMethod;
  when: Condition;
  /** What the command needs it for: the comments of docs/rbac.md. */
  why: string;
}

/**
 * What each command calls. Keep a row here in the same change that adds a call to a command: the
 * integration tests run every command with only the Role derived from this table, so a missing row fails there.
 */
export const COMMAND_METHODS: Record<GuardCommand, readonly MethodUse[]> = {
  'pre-upgrade': [
    { method: 'getStatefulSet', when: 'always', why: 'discover the Qdrant StatefulSet' },
    { method: 'listPods', when: 'always', why: 'its pods, their IPs and images' },
    { method: 'listPvcs', when: 'always', why: 'the PVCs of the volume claim templates, in one request' },
    { method: 'runWorkerPods', when: 'always', why: 'one worker pod per PVC runs `volume` (check and archive)' },
    { method: 'updateRecord', when: 'always', why: 'write the record ConfigMap' },
    { method: 'emitEvent', when: 'always', why: 'UpgradeGuardPassed / UpgradeRefused on the StatefulSet' },
    { method: 'createVolumeSnapshot', when: 'volume-snapshots', why: 'a CSI VolumeSnapshot per PVC' },
    { method: 'waitVolumeSnapshotReady', when: 'volume-snapshots', why: 'wait for readyToUse' },
  ],
  'post-upgrade': [
    { method: 'getStatefulSet', when: 'always', why: 'rollout status of the StatefulSet' },
    { method: 'listPods', when: 'always', why: 'its pods, their revisions and IPs' },
    { method: 'podLogs', when: 'always', why: 'the #6229 loop in the Qdrant logs fails fast' },
    { method: 'readRecord', when: 'always', why: 'the peer ids recorded before the upgrade' },
    { method: 'updateRecord', when: 'always', why: 'the verdict and the staged step reached' },
    { method: 'emitEvent', when: 'always', why: 'UpgradeVerified / UpgradeVerificationFailed' },
    { method: 'patchStatefulSetPartition', when: 'staged', why: 'lower the partition one peer at a time' },
    { method: 'releaseStatefulSetPartition', when: 'staged', why: 'give the partition back to Helm when done' },
  ],
  verify: [
    { method: 'getStatefulSet', when: 'always', why: 'the StatefulSet and its image' },
    { method: 'listPods', when: 'always', why: 'its pods and their IPs' },
    { method: 'podLogs', when: 'always', why: 'the #6229 loop in the Qdrant logs' },
    { method: 'readRecord', when: 'always', why: 'the peer ids recorded before the upgrade' },
  ],
  'restore-volume': [
    { method: 'getStatefulSet', when: 'always', why: 'the StatefulSet: pod placement, uid, claims' },
    { method: 'listPods', when: 'always', why: 'is Qdrant running on that volume? where is its pod?' },
    { method: 'readRecord', when: 'always', why: 'the recorded peer id and archive of the ordinal' },
    { method: 'runWorkerPods', when: 'always', why: 'the worker pod that runs `restore` on the PVC' },
    { method: 'deletePod', when: 'always', why: 'restart the held Qdrant pod once its state is back' },
  ],
};

/** One RBAC rule as the chart renders it. */
export interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

export interface RoleContext {
  /** The Qdrant StatefulSet (the chart's fullname). */
  statefulset: string;
  /** The Helm release: names the record ConfigMap. */
  release: string;
  /** Ordinals whose pods may be named (max of replicaCount and the live replica count). */
  replicas: number;
  staged: boolean;
  volumeSnapshots: boolean;
}

export function namesOf(set: NameSet, ctx: RoleContext): string[] {
  switch (set) {
    case 'statefulset':
      return [ctx.statefulset];
    case 'record':
      return [`${ctx.release}-upgrade-guard`];
    case 'qdrant-pods':
      return Array.from({ length: ctx.replicas }, (_, i) => `${ctx.statefulset}-${i}`);
  }
}

/** The calls a command makes in this configuration, deduplicated. */
export function callsOf(command: GuardCommand, ctx: Pick<RoleContext, 'staged' | 'volumeSnapshots'>): ApiCall[] {
  const on = (c: Condition) => c === 'always' || (c === 'staged' && ctx.staged) || (c === 'volume-snapshots' && ctx.volumeSnapshots);
  const seen = new Map<string, ApiCall>();
  for (const use of COMMAND_METHODS[command].filter((u) => on(u.when))) {
    for (const call of METHOD_CALLS[use.method]) seen.set(callKey(call), call);
  }
  // A name-scoped call is covered by the unscoped one of the same verb.
  return [...seen.values()].filter((c) => !c.names || !seen.has(callKey({ ...c, names: undefined })));
}

function callKey(c: ApiCall): string {
  return `${c.group}|${c.resource}|${c.verb}|${c.names ?? ''}`;
}

/**
 * The Role rules of a command: one rule per (group, resource, names), verbs sorted; rules in a stable order
 * (group, resource, unscoped first). The chart's templates render the same list (test/chart/rbac.test.ts).
 */
export function rulesOf(command: GuardCommand, ctx: RoleContext): Rule[] {
  const byKey = new Map<string, Rule>();
  for (const c of callsOf(command, ctx)) {
    const key = `${c.group}|${c.resource}|${c.names ?? ''}`;
    const rule = byKey.get(key) ?? {
      apiGroups: [c.group],
      resources: [c.resource],
      ...(c.names ? { resourceNames: namesOf(c.names, ctx) } : {}),
      verbs: [],
    };
    if (!rule.verbs.includes(c.verb)) rule.verbs.push(c.verb);
    byKey.set(key, rule);
  }
  for (const r of byKey.values()) r.verbs.sort();
  return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r);
}

/** Flattens rules to `group/resource verb [name]` strings: what tests compare in both directions. */
export function grants(rules: readonly Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    for (const g of r.apiGroups) {
      for (const res of r.resources) {
        for (const v of r.verbs) {
          const names = r.resourceNames && r.resourceNames.length > 0 ? r.resourceNames : ['*'];
          for (const n of names) out.add(`${g || 'core'}/${res} ${v} ${n}`);
        }
      }
    }
  }
  return [...out].sort();
}

/** Legacy shape: every (group, resource) with the verbs any command uses (kube-errors tests). */
export interface Permission {
  group: string;
  resource: string;
  verbs: string[];
  why: string;
}

export const REQUIRED_PERMISSIONS: readonly Permission[] = (() => {
  const by = new Map<string, Permission>();
  for (const command of GUARD_COMMANDS) {
    for (const use of COMMAND_METHODS[command]) {
      for (const c of METHOD_CALLS[use.method]) {
        const key = `${c.group}|${c.resource}`;
        const p = by.get(key) ?? { group: c.group, resource: c.resource, verbs: [], why: use.why };
        if (!p.verbs.includes(c.verb)) p.verbs.push(c.verb);
        by.set(key, p);
      }
    }
  }
  // getPvc is part of the adapter's surface even though no command calls it today.
  const pvc = by.get('|persistentvolumeclaims');
  if (pvc && !pvc.verbs.includes('get')) pvc.verbs.push('get');
  return [...by.values()];
})();
