// The intended differences between this chart's render and the official chart's (qdrant/qdrant-helm 1.19.0), for
// the same values: test/chart/official-parity.test.ts fails on any difference no entry here explains, and on an
// entry no render needs any more. README.md ("Migrating from the official chart") lists every entry by its `what`,
// with the reason; test/chart/official-keys.test.ts checks that it does.

export type IntendedDifference = {
  /** How the README names it (its table row starts with this text in backquotes). */
  what: string;
  /** Matches `<Kind>/<name> <path>` of a difference (paths as test/chart/support/object-diff.ts writes them). */
  match: RegExp;
  /** Why, in one sentence: the README's second column. */
  why: string;
  /** When set, only differences of these values are intended (e.g. a field only this chart writes). */
  when?: (ours: unknown, official: unknown) => boolean;
};

/** A field this chart writes and the official chart leaves out. */
const oursOnly = (_ours: unknown, official: unknown) => official === undefined || official === null;

export const INTENDED_DIFFERENCES: IntendedDifference[] = [
  {
    what: 'chart labels',
    match: /^\w+\/\S+ metadata\.labels\.(helm\.sh\/chart|app\.kubernetes\.io\/part-of)$/,
    why: 'this chart\'s name and version; display only, in no selector',
  },
  {
    what: 'metadata.namespace',
    match: /^\w+\/\S+ metadata\.namespace$/,
    why: 'written out; Helm installs into the release namespace either way',
  },
  {
    what: 'pod template checksums',
    match: /^StatefulSet\/\S+ spec\.template\.metadata\.annotations\.checksum\/(config|secret|apikey)$/,
    why: 'each chart hashes its own ConfigMap and keys; `checksum/apikey` digests how the keys are configured, never a generated key',
  },
  {
    what: 'startup check',
    match: /^StatefulSet\/\S+ spec\.template\.spec\.(initContainers\[upgrade-guard-startup-check\]|volumes\[upgrade-guard-tmp\])$/,
    why: 'the guard\'s init container: a used volume without its raft state stops the pod before Qdrant mints a new peer id',
  },
  {
    what: 'no ensure-dir-ownership',
    match: /^StatefulSet\/\S+ spec\.template\.spec\.initContainers\[ensure-dir-ownership\]$/,
    why: 'no container runs as root: the kubelet gives the volumes to `podSecurityContext.fsGroup` instead of a recursive `chown`',
  },
  {
    what: 'security context defaults',
    match: /^StatefulSet\/\S+ spec\.template\.spec\.(securityContext|containers\[qdrant\]\.securityContext)(\.\w+)*$/,
    why: 'non-root uid/gid 1000, seccomp RuntimeDefault and all capabilities dropped by default; your keys are merged into them',
    when: oursOnly,
  },
  {
    what: 'gid 1000, fsGroup 1000, OnRootMismatch',
    match:
      /^StatefulSet\/\S+ spec\.template\.spec\.(containers\[qdrant\]\.securityContext\.runAsGroup|securityContext\.fsGroup|securityContext\.fsGroupChangePolicy)$/,
    why: 'the defaults when you set none (official: gid 2000, fsGroup 3000, `Always`): the guard\'s pods read the same volumes as 1000:1000, and `OnRootMismatch` walks a volume only when its root has another group (once, on the first start after the migration)',
    when: (ours, official) =>
      (ours === 1000 && (official === 2000 || official === 3000)) || (ours === 'OnRootMismatch' && official === 'Always'),
  },
  {
    what: 'persistentVolumeClaimRetentionPolicy',
    match: /^StatefulSet\/\S+ spec\.persistentVolumeClaimRetentionPolicy$/,
    why: '`Retain` written out (the Kubernetes default): volumes outlive a deleted StatefulSet and a scale-down',
    when: oursOnly,
  },
  {
    what: 'automountServiceAccountToken: false',
    match: /^(StatefulSet\/\S+ spec\.template\.spec\.automountServiceAccountToken|ServiceAccount\/\S+ automountServiceAccountToken)$/,
    why: 'Qdrant never calls the Kubernetes API, so its pods carry no token (`serviceAccount.automountServiceAccountToken` turns it on)',
    when: oursOnly,
  },
  {
    what: 'workingDir and terminationGracePeriodSeconds',
    match: /^StatefulSet\/\S+ spec\.template\.spec\.(containers\[qdrant\]\.workingDir|terminationGracePeriodSeconds)$/,
    why: 'the image\'s `/qdrant` and Kubernetes\' 30 s written out (the official chart renders a grace period only when you set one)',
    when: (ours, official) => (official === undefined && (ours === '/qdrant' || ours === 30)),
  },
  {
    what: 'API keys as environment variables',
    match:
      /^StatefulSet\/\S+ spec\.template\.spec\.(containers\[qdrant\]\.env\[QDRANT__SERVICE__(API_KEY|READ_ONLY_API_KEY)\]|containers\[qdrant\]\.volumeMounts\[\/qdrant\/config\/local\.yaml\]|volumes\[qdrant-secret\])$/,
    why: 'Qdrant reads the keys from `secretKeyRef` variables (a key in your own Secret is read at pod start, not copied at render time); the Secret still serves `local.yaml` for pods of the official chart\'s revision',
  },
  {
    what: 'Secret type',
    match: /^Secret\/\S+ type$/,
    why: '`Opaque` written out (the default type)',
    when: (ours, official) => ours === 'Opaque' && official === undefined,
  },
  {
    what: 'liveness and startup path /livez',
    match: /^StatefulSet\/\S+ spec\.template\.spec\.containers\[qdrant\]\.(livenessProbe|startupProbe)\.httpGet\.path$/,
    why: 'Qdrant\'s liveness endpoint (https://qdrant.tech/documentation/guides/monitoring/#kubernetes-health-endpoints); `/` answers alike while the server is up',
    when: (ours, official) => ours === '/livez' && official === '/',
  },
  {
    what: 'default image repository',
    match: /^StatefulSet\/\S+ spec\.template\.spec\.containers\[qdrant\]\.image$/,
    why: '`qdrant/qdrant` against `docker.io/qdrant/qdrant`: the same image (Docker Hub is the default registry); a repository you set is used as is',
    when: (ours, official) => `docker.io/${String(ours)}` === official,
  },
  {
    what: 'ServiceMonitor selector',
    match: /^ServiceMonitor\/\S+ spec\.(selector\.matchLabels\.\S+|namespaceSelector)$/,
    why: 'selects the headless Service alone, by labels no upgrade changes, in the release namespace (the official selector also matches the client Service, so each pod is scraped twice, and carries the chart version)',
  },
  {
    what: 'container order',
    match: /^StatefulSet\/\S+ spec\.template\.spec\.containers\(order\)$/,
    why: 'Qdrant first, then `sidecarContainers` (the official chart puts sidecars first): `kubectl logs` and `exec` default to the first container',
  },
];
