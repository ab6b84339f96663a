/**
 * Worker pods: one per Qdrant volume, running `volume` with the PVC mounted, on the node that has
 * it attached (docs/how-it-works.md#the-timeline-of-one-helm-upgrade, pre-upgrade). The manifest builder is pure; the run loop talks to
 * the API only through WorkerPodOps, so the loop's timing and retry rules stay readable.
 */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { GuardError, infraError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { Progress } from '../runtime/progress.js';
import { QDRANT_SNAPSHOTS_PATH, QDRANT_STORAGE_PATH } from '../policy/layout.js';
import { WORKER_COMPONENT_LABEL, type WorkerPodSpec, type WorkerResult } from './types.js';

/** Labels a run's pods so one list request per poll sees them all. */
export const RUN_LABEL = 'qdrant-upgrade-guard/run';
export const WORKER_CONTAINER = 'volume';
/** Qdrant's images and the chart run Qdrant as uid 1000 unless the StatefulSet says otherwise. */
export const DEFAULT_QDRANT_UID = 1000;

/** Waiting reasons that will not fix themselves before the deadline: fail now, with the reason. */
const FATAL_WAITING = new Set(['InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError']);

export function buildWorkerPod(
  spec: WorkerPodSpec,
  options: { podName: string; namespace: string; runId: string; activeDeadlineSeconds: number },
): V1Pod {
  const p = spec.placement;
  const uid = p.runAsUser ?? DEFAULT_QDRANT_UID;
  const gid = p.runAsGroup ?? uid;
  const volumes: NonNullable<V1Pod['spec']>['volumes'] = [
    { name: 'storage', persistentVolumeClaim: { claimName: spec.storagePvc } },
    // A read-only root filesystem still needs a scratch dir for node and tar.
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
  ];
  const mounts = [
    { name: 'storage', mountPath: QDRANT_STORAGE_PATH },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  if (spec.snapshotsPvc) {
    volumes.push({ name: 'snapshots', persistentVolumeClaim: { claimName: spec.snapshotsPvc } });
    mounts.push({ name: 'snapshots', mountPath: QDRANT_SNAPSHOTS_PATH });
  }
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: options.podName,
      namespace: options.namespace,
      labels: {
        ...(spec.labels ?? {}),
        ...WORKER_COMPONENT_LABEL,
        'app.kubernetes.io/managed-by': 'qdrant-upgrade-guard',
        [RUN_LABEL]: options.runId,
      },
      // No ownerReference: hook resources are not part of the release, so the run deletes them itself.
    },
    spec: {
      restartPolicy: 'Never',
      // The worker only reads and archives files; it never needs the API.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      activeDeadlineSeconds: options.activeDeadlineSeconds,
      terminationGracePeriodSeconds: 10,
      tolerations: p.tolerations as NonNullable<V1Pod['spec']>['tolerations'],
      nodeSelector: Object.keys(p.nodeSelector).length > 0 ? p.nodeSelector : undefined,
      imagePullSecrets: p.imagePullSecrets.length > 0 ? p.imagePullSecrets.map((name) => ({ name })) : undefined,
      securityContext: {
        runAsUser: uid,
        runAsGroup: gid,
        // A root Qdrant (runAsUser 0) owns its files as root; the worker must match to read them.
        runAsNonRoot: uid !== 0,
        ...(p.fsGroup !== undefined ? { fsGroup: p.fsGroup, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: WORKER_CONTAINER,
          image: spec.image,
          imagePullPolicy: spec.imagePullPolicy,
          command: spec.command,
          args: spec.args,
          env: spec.env,
          resources: spec.resources,
          volumeMounts: mounts,
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: uid !== 0,
            capabilities: { drop: ['ALL'] },
          },
          terminationMessagePath: '/dev/termination-log',
          // The JSON summary when `volume` wrote one; the log tail when it crashed before that.
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
      volumes,
    },
  };
  if (spec.colocateWith) {
    pod.spec!.affinity = {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          {
            labelSelector: { matchLabels: { 'statefulset.kubernetes.io/pod-name': spec.colocateWith } },
            topologyKey: 'kubernetes.io/hostname',
          },
        ],
      },
    };
  }
  return JSON.parse(JSON.stringify(pod)) as V1Pod;
}

/** The API calls the loop needs; client.ts implements them with callApi. */
export interface WorkerPodOps {
  namespace: string;
  /** Throws GuardError; returns 'exists' on 409 AlreadyExists. */
  create(pod: V1Pod): Promise<'created' | 'exists'>;
  list(labelSelector: string): Promise<V1Pod[]>;
  /** 404 counts as deleted. */
  delete(name: string, gracePeriodSeconds: number): Promise<void>;
}

export interface WorkerLoopOptions {
  clock: Clock;
  progress: Progress;
  pollIntervalMs: number;
  progressEveryMs: number;
}

interface Slot {
  spec: WorkerPodSpec;
  attempt: number;
  podName: string;
  result?: WorkerResult;
  last?: V1Pod;
}

/** What a pod is doing, for progress lines and timeout reasons. */
export function describePod(pod: V1Pod | undefined): string {
  if (!pod) return 'not created yet';
  const phase = pod.status?.phase ?? 'Pending';
  const scheduled = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
  if (scheduled && scheduled.status === 'False') {
    return `${phase}: ${scheduled.reason ?? 'not scheduled'}${scheduled.message ? ` ${scheduled.message}` : ''}`;
  }
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const waiting = statuses.find((s) => s.state?.waiting?.reason);
  if (waiting) {
    const w = waiting.state!.waiting!;
    return `${phase}: ${w.reason}${w.message ? ` ${w.message}` : ''}`;
  }
  return pod.spec?.nodeName ? `${phase} on ${pod.spec.nodeName}` : phase;
}

function isEvicted(pod: V1Pod): boolean {
  if (pod.status?.phase !== 'Failed') return false;
  if (pod.status?.reason === 'Evicted' || pod.status?.reason === 'Preempting') return true;
  return (pod.status?.conditions ?? []).some((c) => c.type === 'DisruptionTarget' && c.status === 'True');
}

function terminatedResult(slot: Slot, pod: V1Pod): WorkerResult {
  const status = (pod.status?.containerStatuses ?? []).find((s) => s.name === WORKER_CONTAINER);
  const t = status?.state?.terminated;
  // activeDeadlineSeconds fired: the kubelet killed the worker, which is our deadline passing.
  const phase = pod.status?.phase === 'Succeeded' ? 'Succeeded' : pod.status?.reason === 'DeadlineExceeded' ? 'Timeout' : 'Failed';
  const result: WorkerResult = {
    name: slot.spec.name,
    podName: slot.podName,
    phase,
    reason: t?.reason ?? pod.status?.reason ?? phase,
    attempts: slot.attempt,
  };
  if (t?.exitCode !== undefined) result.exitCode = t.exitCode;
  if (t?.message) result.terminationMessage = t.message;
  if (pod.spec?.nodeName) result.nodeName = pod.spec.nodeName;
  if (pod.status?.reason === 'DeadlineExceeded') result.reason = `DeadlineExceeded: ${pod.status.message ?? 'activeDeadlineSeconds passed'}`;
  else if (!t && pod.status?.message) result.reason = `${result.reason}: ${pod.status.message}`;
  return result;
}

export async function runWorkerLoop(
  specs: WorkerPodSpec[],
  deadlineMs: number,
  ops: WorkerPodOps,
  o: WorkerLoopOptions,
): Promise<WorkerResult[]> {
  const runId = randomBytes(5).toString('hex');
  const slots: Slot[] = specs.map((spec) => ({ spec, attempt: 1, podName: spec.name }));
  const created = new Set<string>();
  const selector = `${RUN_LABEL}=${runId}`;
  let lastProgress = o.clock.now();

  const activeDeadline = () => Math.max(1, Math.ceil((deadlineMs - o.clock.now()) / 1000));
  const create = async (slot: Slot): Promise<void> => {
    const pod = buildWorkerPod(slot.spec, {
      podName: slot.podName,
      namespace: ops.namespace,
      runId,
      activeDeadlineSeconds: activeDeadline(),
    });
    if ((await ops.create(pod)) === 'exists') {
      await removeLeftover(slot.podName, ops, o, deadlineMs);
      if ((await ops.create(pod)) === 'exists') {
        throw infraError(`worker pod ${slot.podName} still exists after it was deleted`, {
          remedy: `kubectl delete pod ${slot.podName} -n ${ops.namespace}, then retry the upgrade.`,
          transient: true,
        });
      }
    }
    created.add(slot.podName);
  };

  try {
    await settleAll(slots.map(create));
    while (slots.some((s) => !s.result)) {
      const now = o.clock.now();
      if (now >= deadlineMs) {
        for (const s of slots.filter((x) => !x.result)) {
          s.result = {
            name: s.spec.name,
            podName: s.podName,
            phase: 'Timeout',
            reason: `deadline passed while ${describePod(s.last)}`,
            attempts: s.attempt,
          };
          if (s.last?.spec?.nodeName) s.result.nodeName = s.last.spec.nodeName;
        }
        break;
      }
      await o.clock.sleep(Math.min(o.pollIntervalMs, deadlineMs - now));
      const pods = await ops.list(selector);
      const byName = new Map(pods.map((p) => [p.metadata?.name ?? '', p]));
      const retries: Slot[] = [];
      for (const slot of slots.filter((s) => !s.result)) {
        const pod = byName.get(slot.podName);
        const gone = !pod || pod.metadata?.deletionTimestamp !== undefined;
        if (gone || isEvicted(pod)) {
          // Evicted, preempted or deleted under us: the volume was not examined, so one fresh try.
          const why = gone ? 'deleted before it finished' : `${pod!.status?.reason ?? 'Evicted'}: ${pod!.status?.message ?? ''}`.trim();
          if (slot.attempt === 1) {
            o.progress.say(`worker ${slot.podName} ${why}; retrying once`);
            retries.push(slot);
          } else {
            slot.result = { name: slot.spec.name, podName: slot.podName, phase: 'Evicted', reason: why, attempts: slot.attempt };
          }
          continue;
        }
        slot.last = pod;
        const phase = pod.status?.phase;
        if (phase === 'Succeeded' || phase === 'Failed') {
          slot.result = terminatedResult(slot, pod);
          continue;
        }
        const fatal = (pod.status?.containerStatuses ?? []).find((s) => FATAL_WAITING.has(s.state?.waiting?.reason ?? ''));
        if (fatal) {
          slot.result = {
            name: slot.spec.name,
            podName: slot.podName,
            phase: 'Failed',
            reason: describePod(pod),
            attempts: slot.attempt,
          };
          if (pod.spec?.nodeName) slot.result.nodeName = pod.spec.nodeName;
        }
      }
      for (const slot of retries) {
        await ops.delete(slot.podName, 0);
        created.delete(slot.podName);
        slot.attempt += 1;
        slot.podName = `${slot.spec.name}-r${slot.attempt}`;
        slot.last = undefined;
      }
      await settleAll(retries.map(create));
      if (o.clock.now() - lastProgress >= o.progressEveryMs) {
        lastProgress = o.clock.now();
        o.progress.say(progressLine(slots));
      }
    }
  } finally {
    await cleanup(slots, created, ops, o.progress);
  }
  return slots.map((s) => s.result!);
}

/** Like Promise.all, but waits for every create to land first, so cleanup knows every pod that exists. */
async function settleAll(promises: Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

export function progressLine(slots: { result?: WorkerResult; podName: string; last?: V1Pod }[]): string {
  const done = slots.filter((s) => s.result).length;
  const waiting = slots.filter((s) => !s.result).map((s) => `${s.podName} (${describePod(s.last)})`);
  return `workers: ${done}/${slots.length} done${waiting.length ? `, waiting for ${waiting.join(', ')}` : ''}`;
}

/** A pod of the same name from an earlier run that died mid-way; delete it only if it is a worker. */
async function removeLeftover(name: string, ops: WorkerPodOps, o: WorkerLoopOptions, deadlineMs: number): Promise<void> {
  const workerSelector = Object.entries(WORKER_COMPONENT_LABEL)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const isOurs = (await ops.list(workerSelector)).some((p) => p.metadata?.name === name);
  if (!isOurs) {
    throw infraError(`a pod named ${name} already exists and is not an upgrade-guard worker`, {
      remedy: `Rename or delete pod ${name} in namespace ${ops.namespace}.`,
    });
  }
  o.progress.say(`deleting worker pod ${name} left over from an earlier run`);
  await ops.delete(name, 0);
  while (o.clock.now() < deadlineMs) {
    if (!(await ops.list(workerSelector)).some((p) => p.metadata?.name === name)) return;
    await o.clock.sleep(o.pollIntervalMs);
  }
}

async function cleanup(slots: Slot[], created: Set<string>, ops: WorkerPodOps, progress: Progress): Promise<void> {
  const failures: string[] = [];
  await Promise.all(
    [...created].map(async (name) => {
      const slot = slots.find((s) => s.podName === name);
      // A finished pod has nothing to stop; an unfinished one gets a short grace and is gone.
      const grace = slot?.result && slot.result.phase !== 'Timeout' ? 0 : 2;
      try {
        await ops.delete(name, grace);
      } catch (err) {
        failures.push(`${name}: ${err instanceof GuardError ? err.message : String(err)}`);
      }
    }),
  );
  for (const f of failures) {
    progress.say(`could not delete worker pod ${f}; delete it by hand (kubectl delete pod -n ${ops.namespace} ...)`);
  }
}
