/** Pods: the StatefulSet's pods, their logs, and the worker pods the hooks run (workers.ts drives those). */
import type { ConfigurationOptions, ObservableMiddleware, V1Pod } from '@kubernetes/client-node';
import { infraError } from '../../errors.js';
import { middleware, type KubeContext } from '../context.js';
import { selectorString, toPodSnapshot } from '../snapshots.js';
import type { KubeApi, PodSnapshot } from '../types.js';
import { runWorkerLoop, type WorkerPodOps } from '../workers.js';

const LOG_LIMIT_BYTES = 4 * 1024 * 1024;

export function podOps(ctx: KubeContext): Pick<KubeApi, 'listPods' | 'podLogs' | 'runWorkerPods' | 'deletePod'> {
  const { call, core, namespace } = ctx;

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

  return {
    async listPods(selector) {
      const labelSelector = selectorString(selector);
      const list = await call(
        { verb: 'list', resource: 'pods', group: '', what: `list pods (${labelSelector})` },
        () => core.listNamespacedPod({ namespace, labelSelector }),
      );
      return list.items.map(toPodSnapshot).sort(byOrdinal);
    },

    runWorkerPods(specs, { deadlineMs }) {
      const { clock, progress, pollIntervalMs, progressEveryMs } = ctx;
      return runWorkerLoop(specs, deadlineMs, workerOps, { clock, progress, pollIntervalMs, progressEveryMs });
    },

    async podLogs(pod, { container, sinceTime, previous, tailLines, limitBytes }) {
      // readNamespacedPodLog has no sinceTime parameter in 1.x; the API has, so add it to the query.
      const extra: ConfigurationOptions<ObservableMiddleware> | undefined = sinceTime
        ? { middleware: [middleware((c) => c.setQueryParam('sinceTime', sinceTime))], middlewareMergeStrategy: 'append' }
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

    deletePod: (name, gracePeriodSeconds) => workerOps.delete(name, gracePeriodSeconds),
  };
}

function byOrdinal(a: PodSnapshot, b: PodSnapshot): number {
  const oa = a.ordinal ?? Number.MAX_SAFE_INTEGER;
  const ob = b.ordinal ?? Number.MAX_SAFE_INTEGER;
  return oa - ob || a.name.localeCompare(b.name);
}
