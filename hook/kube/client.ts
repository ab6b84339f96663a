/**
 * KubeApi on @kubernetes/client-node 1.x. Thin: each method is one or two API calls through
 * callApi() (retries and error mapping live there) and returns plain snapshots (snapshots.ts).
 * Never reads Secrets and never logs request headers, so the token cannot leak into output.
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  Observable,
  PatchStrategy,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
  type ConfigurationOptions,
  type CoreV1Event,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1ConfigMap,
  type V1PersistentVolumeClaim,
  type V1Pod,
} from '@kubernetes/client-node';
import { GuardError, infraError } from '../errors.js';
import { callApi, type ApiFailure, type CallDescription, type Expected } from './call.js';
import { selectorString, toPodSnapshot, toPvcSnapshot, toStatefulSetSnapshot } from './snapshots.js';
import {
  RECORD_KEY,
  type KubeApi,
  type KubeApiOptions,
  type ObjectRef,
  type PodSnapshot,
  type StatefulSetSnapshot,
  type VolumeSnapshotResult,
} from './types.js';
import { runWorkerLoop, type WorkerPodOps } from './workers.js';

const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';
/** The component name Events carry; `kubectl get events` shows it as the source. */
export const REPORTING_COMPONENT = 'qdrant-upgrade-guard';
/** Field manager of every server-side apply the hooks make. */
export const FIELD_MANAGER = 'qdrant-upgrade-guard';
const LOG_LIMIT_BYTES = 4 * 1024 * 1024;

/** Namespace precedence: flag, in-cluster service-account file, kubeconfig context, "default". */
export function resolveNamespace(kc: KubeConfig, flag: string | undefined, saFile: string): string {
  if (flag) return flag;
  if (existsSync(saFile)) {
    const ns = readFileSync(saFile, 'utf8').trim();
    if (ns) return ns;
  }
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || 'default';
}

/** Builds an observable middleware (what client-node 1.x applies per request). */
function middleware(pre: (ctx: RequestContext) => void): ObservableMiddleware {
  return {
    pre: (ctx: RequestContext) => {
      pre(ctx);
      return new Observable(Promise.resolve(ctx));
    },
    post: (rsp: ResponseContext) => new Observable(Promise.resolve(rsp)),
  };
}

export function createKubeApi(options: KubeApiOptions): KubeApi {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw infraError(`cannot load the Kubernetes client configuration: ${(err as Error).message}`, {
      remedy: 'Run in a pod with a service account, or set KUBECONFIG / --kubeconfig.',
      cause: err,
    });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw infraError('the Kubernetes client configuration names no cluster', {
      remedy: 'Check the current context of the kubeconfig.',
    });
  }
  const namespace = resolveNamespace(
    kc,
    options.namespace,
    options.serviceAccountNamespaceFile ?? SERVICE_ACCOUNT_NAMESPACE_FILE,
  );
  const { clock, progress } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  const retry = {
    attempts: options.attempts ?? 4,
    backoffMs: options.backoffMs ?? 200,
    maxBackoffMs: options.maxBackoffMs ?? 1600,
  };
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const progressEveryMs = (options.progressEverySeconds ?? 10) * 1000;
  let requests = 0;

  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    middleware: [
      middleware((ctx) => {
        requests += 1;
        options.onRequest?.(ctx.getHttpMethod(), ctx.getUrl());
        // A fresh signal per attempt: a hung apiserver costs one timeout, then callApi retries.
        ctx.setSignal(AbortSignal.timeout(requestTimeoutMs));
      }),
    ],
  });
  const core = new CoreV1Api(config);
  const apps = new AppsV1Api(config);
  const custom = new CustomObjectsApi(config);

  const call = <T>(d: Omit<CallDescription, 'namespace'>, fn: () => Promise<T>, expected?: Expected<T>) =>
    callApi({ ...d, namespace }, fn, { clock, retry }, expected);

  // A wrong name or namespace is a configuration error (exit 2), not the API failing.
  const stsNotFound = (name: string) => (f: ApiFailure) => {
    throw new GuardError('usage', `StatefulSet ${name} not found in namespace ${namespace}: is --statefulset right?`, {
      remedy: `kubectl get statefulsets -n ${namespace} lists the names; pass the Qdrant one (the chart's fullname).`,
      cause: f.cause,
    });
  };

  // Record ConfigMaps as last read, for optimistic writes.
  const lastRead = new Map<string, { resourceVersion: string; data: Record<string, string> } | null>();

  async function readConfigMap(name: string): Promise<V1ConfigMap | undefined> {
    const cm = await call(
      { verb: 'get', resource: 'configmaps', group: '', what: `read the record ConfigMap ${name}` },
      () => core.readNamespacedConfigMap({ name, namespace }) as Promise<V1ConfigMap | undefined>,
      { 404: () => undefined },
    );
    lastRead.set(
      name,
      cm ? { resourceVersion: cm.metadata?.resourceVersion ?? '', data: { ...(cm.data ?? {}) } } : null,
    );
    return cm;
  }

  /** Creates (base null) or replaces at base.resourceVersion; 'conflict' when someone wrote first. */
  async function putRecord(
    name: string,
    json: string,
    labels: Record<string, string>,
    base: { resourceVersion: string; data: Record<string, string> } | null,
  ): Promise<'ok' | 'conflict'> {
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace, labels },
      data: { ...(base?.data ?? {}), [RECORD_KEY]: json },
    };
    const conflict = () => 'conflict' as const;
    if (!base) {
      return call(
        { verb: 'create', resource: 'configmaps', group: '', what: `create the record ConfigMap ${name}` },
        async () => (await core.createNamespacedConfigMap({ namespace, body }), 'ok' as const),
        { 409: conflict },
      );
    }
    body.metadata!.resourceVersion = base.resourceVersion;
    return call(
      { verb: 'update', resource: 'configmaps', group: '', what: `update the record ConfigMap ${name}` },
      async () => (await core.replaceNamespacedConfigMap({ name, namespace, body }), 'ok' as const),
      // 404: deleted since we read it; report it as a conflict, the caller re-reads.
      { 409: conflict, 404: conflict },
    );
  }

  const conflictError = (name: string) =>
    infraError(`the record ConfigMap ${name} was changed by another writer while this hook updated it`, {
      remedy:
        'Another upgrade-guard hook may be running for this release (two helm upgrades at once?). ' +
        'Wait for it to finish, then retry.',
      transient: true,
    });

  const workerOps: WorkerPodOps = {
    namespace,
    create: (pod: V1Pod) =>
      call(
        { verb: 'create', resource: 'pods', group: '', what: `create worker pod ${pod.metadata?.name}` },
        async () => (await core.createNamespacedPod({ namespace, body: pod }), 'created' as const),
        { 409: () => 'exists' as const },
      ),
    list: (labelSelector: string) =>
      call(
        { verb: 'list', resource: 'pods', group: '', what: `list worker pods (${labelSelector})` },
        async () => (await core.listNamespacedPod({ namespace, labelSelector })).items,
      ),
    delete: (name: string, gracePeriodSeconds: number) =>
      call(
        { verb: 'delete', resource: 'pods', group: '', what: `delete worker pod ${name}` },
        async () => void (await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds })),
        { 404: () => undefined },
      ),
  };

  const api: KubeApi = {
    namespace,

    async getStatefulSet(name) {
      const sts = await call(
        { verb: 'get', resource: 'statefulsets', group: 'apps', what: `get StatefulSet ${name}` },
        () => apps.readNamespacedStatefulSet({ name, namespace }),
        { 404: stsNotFound(name) },
      );
      return toStatefulSetSnapshot(sts);
    },

    async listPods(selector) {
      const labelSelector = selectorString(selector);
      const list = await call(
        { verb: 'list', resource: 'pods', group: '', what: `list pods (${labelSelector})` },
        () => core.listNamespacedPod({ namespace, labelSelector }),
      );
      return list.items.map(toPodSnapshot).sort(byOrdinal);
    },

    async getPvc(name) {
      const pvc = await call(
        { verb: 'get', resource: 'persistentvolumeclaims', group: '', what: `get PVC ${name}` },
        () => core.readNamespacedPersistentVolumeClaim({ name, namespace }) as Promise<V1PersistentVolumeClaim | undefined>,
        { 404: () => undefined },
      );
      return pvc ? toPvcSnapshot(pvc) : undefined;
    },

    async listPvcs(selector) {
      const labelSelector = selectorString(selector);
      const list = await call(
        { verb: 'list', resource: 'persistentvolumeclaims', group: '', what: `list PVCs (${labelSelector})` },
        () => core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector }),
      );
      return list.items.map(toPvcSnapshot).sort((a, b) => a.name.localeCompare(b.name));
    },

    runWorkerPods(specs, { deadlineMs }) {
      return runWorkerLoop(specs, deadlineMs, workerOps, { clock, progress, pollIntervalMs, progressEveryMs });
    },

    async createVolumeSnapshot({ pvc, className, name, labels }) {
      const body = {
        apiVersion: `${SNAPSHOT_GROUP}/v1`,
        kind: 'VolumeSnapshot',
        metadata: { name, namespace, labels: labels ?? {} },
        spec: { volumeSnapshotClassName: className, source: { persistentVolumeClaimName: pvc } },
      };
      const d = { verb: 'create', resource: 'volumesnapshots', group: SNAPSHOT_GROUP, what: `create VolumeSnapshot ${name} of PVC ${pvc}` };
      const created = await call(d, () => custom.createNamespacedCustomObject({ group: SNAPSHOT_GROUP, version: 'v1', namespace, plural: 'volumesnapshots', body }), {
        404: (f) => {
          throw infraError(`the VolumeSnapshot API (${SNAPSHOT_GROUP}/v1) is not served by this cluster`, {
            remedy:
              'Install the CSI external-snapshotter CRDs and controller, or unset upgradeGuard.volumeSnapshotClassName.',
            cause: f.cause,
          });
        },
        // A retried create whose first attempt went through: the object is ours if it snapshots the same PVC.
        409: async () => {
          const existing = await getVolumeSnapshot(name);
          if (existing?.spec?.source?.persistentVolumeClaimName !== pvc) {
            throw infraError(`a VolumeSnapshot named ${name} already exists for another volume`, {
              remedy: `Delete VolumeSnapshot ${name} in namespace ${namespace} or retry later (names carry a timestamp).`,
            });
          }
          return existing;
        },
      });
      const meta = (created as { metadata?: { name?: string; uid?: string } }).metadata;
      return { name: meta?.name ?? name, uid: meta?.uid ?? '' };
    },

    async waitVolumeSnapshotReady(name, deadlineMs) {
      let lastProgress = clock.now();
      for (;;) {
        const vs = await getVolumeSnapshot(name);
        if (!vs) {
          throw infraError(`VolumeSnapshot ${name} disappeared from namespace ${namespace} while waiting for it`, {
            remedy: 'Something deleted it; check the snapshot controller and retry.',
          });
        }
        const status = vs.status ?? {};
        const base = {
          name,
          ...(status.boundVolumeSnapshotContentName ? { boundVolumeSnapshotContentName: status.boundVolumeSnapshotContentName } : {}),
          ...(status.restoreSize !== undefined ? { restoreSize: String(status.restoreSize) } : {}),
        };
        if (status.readyToUse === true) return { ...base, state: 'ready', message: 'readyToUse' } satisfies VolumeSnapshotResult;
        if (status.error?.message) return { ...base, state: 'failed', message: status.error.message } satisfies VolumeSnapshotResult;
        const seen = `readyToUse ${status.readyToUse ?? 'unset'}${status.boundVolumeSnapshotContentName ? `, content ${status.boundVolumeSnapshotContentName}` : ', no content bound yet'}`;
        const now = clock.now();
        if (now >= deadlineMs) return { ...base, state: 'timeout', message: `deadline passed with ${seen}` } satisfies VolumeSnapshotResult;
        if (now - lastProgress >= progressEveryMs) {
          lastProgress = now;
          progress.say(`waiting for VolumeSnapshot ${name} (${seen})`);
        }
        await clock.sleep(Math.min(pollIntervalMs, deadlineMs - now));
      }
    },

    async readRecord(name) {
      const cm = await readConfigMap(name);
      return cm?.data?.[RECORD_KEY];
    },

    async writeRecord(name, json, labels) {
      const base = lastRead.get(name) ?? null;
      if ((await putRecord(name, json, labels, base)) === 'ok') {
        lastRead.delete(name);
        return;
      }
      // Someone wrote between our read and our write. Retry only when their write left the record as we read it.
      const before = base?.data[RECORD_KEY];
      const current = await readConfigMap(name);
      const now = current?.data?.[RECORD_KEY];
      if (now === json) return;
      if (now !== before || (current === undefined) !== (base === null)) throw conflictError(name);
      if ((await putRecord(name, json, labels, lastRead.get(name) ?? null)) !== 'ok') throw conflictError(name);
      lastRead.delete(name);
    },

    async updateRecord(name, mutate, labels) {
      for (let attempt = 1; attempt <= 2; attempt++) {
        const current = (await readConfigMap(name))?.data?.[RECORD_KEY];
        const next = mutate(current);
        if ((await putRecord(name, next, labels, lastRead.get(name) ?? null)) === 'ok') {
          lastRead.delete(name);
          return next;
        }
      }
      throw conflictError(name);
    },

    async emitEvent({ involved, type, reason, message }) {
      const now = new Date(clock.now());
      // kubectl's naming: <object>.<unix nanoseconds in hex>, unique enough per object.
      const suffix = (BigInt(clock.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000))).toString(16);
      const body: CoreV1Event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${involved.name}.${suffix}`, namespace },
        involvedObject: { ...involvedRef(involved), namespace },
        type,
        reason,
        // The apiserver rejects messages over 1 KiB.
        message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
        source: { component: REPORTING_COMPONENT },
        reportingComponent: REPORTING_COMPONENT,
        reportingInstance: process.env['HOSTNAME'] || REPORTING_COMPONENT,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      await call(
        { verb: 'create', resource: 'events', group: '', what: `create Event ${reason} on ${involved.kind} ${involved.name}` },
        () => core.createNamespacedEvent({ namespace, body }),
      );
    },

    async podLogs(pod, { container, sinceTime, previous, tailLines, limitBytes }) {
      // readNamespacedPodLog has no sinceTime parameter in 1.x; the API has, so add it to the query.
      const extra: ConfigurationOptions<ObservableMiddleware> | undefined = sinceTime
        ? { middleware: [middleware((ctx) => ctx.setQueryParam('sinceTime', sinceTime))], middlewareMergeStrategy: 'append' }
        : undefined;
      return call(
        { verb: 'get', resource: 'pods/log', group: '', what: `read the log of pod ${pod}${container ? ` container ${container}` : ''}` },
        () =>
          core.readNamespacedPodLog(
            { name: pod, namespace, container, previous, tailLines, limitBytes: limitBytes ?? LOG_LIMIT_BYTES },
            extra,
          ),
        {
          400: (f) => {
            // Not started yet, or no previous instance: there is simply no log to read.
            if (/is waiting to start|PodInitializing|ContainerCreating|previous terminated container .* not found/.test(f.message)) return '';
            throw infraError(`could not read the log of pod ${pod}: ${f.message}`, { cause: f.cause });
          },
          404: (f) => {
            throw infraError(`pod ${pod} not found in namespace ${namespace} while reading its log`, {
              remedy: 'The pod was deleted or replaced; the next poll lists the current pods.',
              transient: true,
              cause: f.cause,
            });
          },
        },
      );
    },

    async patchStatefulSetPartition(name, partition) {
      return applyPartition(name, partition, `set the rollout partition of StatefulSet ${name} to ${partition}`);
    },

    async releaseStatefulSetPartition(name) {
      return applyPartition(name, undefined, `hand the rollout partition of StatefulSet ${name} back to Helm`);
    },

    deletePod: (name, gracePeriodSeconds) => workerOps.delete(name, gracePeriodSeconds),

    requestCount: () => requests,
  };

  /**
   * The partition is written with server-side apply under our own field manager, forced: Helm 4 applies the
   * chart's partition server-side too, and a merge patch would leave the field owned by an Update manager that
   * Helm's next apply conflicts with ("conflict with node-fetch ... rollingUpdate.partition"). Applying an
   * intent without the field (partition undefined) gives it up again: the API defaults it to 0, which restarts
   * nothing once every pod runs the update revision, and the next `helm upgrade` owns it alone.
   */
  async function applyPartition(name: string, partition: number | undefined, what: string): Promise<StatefulSetSnapshot> {
    const body = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace },
      ...(partition === undefined ? {} : { spec: { updateStrategy: { rollingUpdate: { partition } } } }),
    };
    const sts = await call(
      { verb: 'patch', resource: 'statefulsets', group: 'apps', what },
      () =>
        apps.patchNamespacedStatefulSet(
          { name, namespace, body, fieldManager: FIELD_MANAGER, force: true },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        ),
      { 404: stsNotFound(name) },
    );
    return toStatefulSetSnapshot(sts);
  }

  async function getVolumeSnapshot(name: string): Promise<VolumeSnapshotObject | undefined> {
    return call(
      { verb: 'get', resource: 'volumesnapshots', group: SNAPSHOT_GROUP, what: `get VolumeSnapshot ${name}` },
      () =>
        custom.getNamespacedCustomObject({ group: SNAPSHOT_GROUP, version: 'v1', namespace, plural: 'volumesnapshots', name }) as Promise<VolumeSnapshotObject>,
      { 404: () => undefined },
    );
  }

  return api;
}

interface VolumeSnapshotObject {
  metadata?: { name?: string; uid?: string };
  spec?: { source?: { persistentVolumeClaimName?: string } };
  status?: {
    readyToUse?: boolean;
    boundVolumeSnapshotContentName?: string;
    restoreSize?: string | number;
    error?: { message?: string; time?: string };
  };
}

function involvedRef(ref: ObjectRef) {
  return { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, ...(ref.uid ? { uid: ref.uid } : {}) };
}

function byOrdinal(a: PodSnapshot, b: PodSnapshot): number {
  const oa = a.ordinal ?? Number.MAX_SAFE_INTEGER;
  const ob = b.ordinal ?? Number.MAX_SAFE_INTEGER;
  return oa - ob || a.name.localeCompare(b.name);
}
