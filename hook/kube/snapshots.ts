/**
 * client-node model objects -> the plain snapshots of types.ts. Pure functions, so the rest of the
 * hook never holds a client-node class instance (and tests can build snapshots by hand).
 */
import type { V1ContainerStatus, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { ContainerStatusSummary, JsonObject, PodSnapshot, PvcSnapshot, StatefulSetSnapshot } from './types.js';

/** Model instances (Dates, classes) to plain JSON. */
export function plain<T>(value: T): JsonObject {
  return JSON.parse(JSON.stringify(value ?? {})) as JsonObject;
}

function iso(value: Date | string | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined;
  return value instanceof Date ? value.toISOString() : String(value);
}

export function toStatefulSetSnapshot(sts: V1StatefulSet): StatefulSetSnapshot {
  const spec = sts.spec;
  const pod = spec?.template?.spec;
  const containers = pod?.containers ?? [];
  const qdrant = containers.find((c) => c.name === 'qdrant') ?? containers[0];
  const csc = qdrant?.securityContext;
  const psc = pod?.securityContext;
  return {
    name: sts.metadata?.name ?? '',
    namespace: sts.metadata?.namespace ?? '',
    uid: sts.metadata?.uid ?? '',
    generation: sts.metadata?.generation ?? 0,
    observedGeneration: sts.status?.observedGeneration ?? 0,
    replicas: spec?.replicas ?? 1,
    readyReplicas: sts.status?.readyReplicas ?? 0,
    currentReplicas: sts.status?.currentReplicas ?? 0,
    updatedReplicas: sts.status?.updatedReplicas ?? 0,
    currentRevision: sts.status?.currentRevision ?? '',
    updateRevision: sts.status?.updateRevision ?? '',
    partition: spec?.updateStrategy?.rollingUpdate?.partition ?? 0,
    updateStrategyType: spec?.updateStrategy?.type ?? 'RollingUpdate',
    serviceName: spec?.serviceName ?? '',
    selector: { ...(spec?.selector?.matchLabels ?? {}) },
    claimTemplates: (spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? '').filter((n) => n !== ''),
    qdrantImage: qdrant?.image ?? '',
    ...guardImageOf(pod?.initContainers ?? []),
    podSpec: {
      tolerations: (pod?.tolerations ?? []).map((t) => plain(t)),
      nodeSelector: { ...(pod?.nodeSelector ?? {}) },
      imagePullSecrets: (pod?.imagePullSecrets ?? []).map((s) => s.name ?? '').filter((n) => n !== ''),
      runAsUser: csc?.runAsUser ?? psc?.runAsUser,
      runAsGroup: csc?.runAsGroup ?? psc?.runAsGroup,
      fsGroup: psc?.fsGroup,
    },
  };
}

/** The startup check's image (hook/policy/rollout.ts names the container): restore-volume's worker runs it. */
function guardImageOf(init: { name: string; image?: string }[]): { guardImage?: string } {
  const image = init.find((c) => c.name === 'upgrade-guard-startup-check')?.image;
  return image ? { guardImage: image } : {};
}

function summarizeContainer(s: V1ContainerStatus): ContainerStatusSummary {
  const st = s.state;
  const base = { name: s.name, ready: s.ready ?? false, restartCount: s.restartCount ?? 0 };
  const last = s.lastState?.terminated;
  const lastTermination = last ? { reason: last.reason, exitCode: last.exitCode, message: last.message } : undefined;
  const withLast = lastTermination ? { lastTermination } : {};
  if (st?.terminated) {
    return {
      ...base,
      state: 'terminated',
      reason: st.terminated.reason,
      exitCode: st.terminated.exitCode,
      message: st.terminated.message,
      ...withLast,
    };
  }
  if (st?.waiting) {
    return { ...base, state: 'waiting', reason: st.waiting.reason, message: st.waiting.message, ...withLast };
  }
  if (st?.running) return { ...base, state: 'running', ...withLast };
  return { ...base, state: 'unknown', ...withLast };
}

/** `qdrant-12` -> 12. */
export function ordinalOf(name: string): number | null {
  const m = /-(\d+)$/.exec(name);
  return m ? Number(m[1]) : null;
}

export function toPodSnapshot(pod: V1Pod): PodSnapshot {
  const name = pod.metadata?.name ?? '';
  const status = pod.status;
  const containers = (status?.containerStatuses ?? []).map(summarizeContainer);
  const initContainers = (status?.initContainerStatuses ?? []).map(summarizeContainer);
  const waiting = [...initContainers, ...containers].find((c) => c.state === 'waiting' && c.reason);
  const images: Record<string, string> = {};
  for (const c of pod.spec?.containers ?? []) images[c.name] = c.image ?? '';
  const snapshot: PodSnapshot = {
    name,
    uid: pod.metadata?.uid ?? '',
    ordinal: ordinalOf(name),
    ip: status?.podIP ?? '',
    nodeName: pod.spec?.nodeName ?? '',
    phase: status?.phase ?? 'Unknown',
    ready: (status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    revision: pod.metadata?.labels?.['controller-revision-hash'] ?? '',
    labels: { ...(pod.metadata?.labels ?? {}) },
    images,
    restarts: containers.reduce((sum, c) => sum + c.restartCount, 0),
    containers,
    initContainers,
  };
  if (waiting?.reason) snapshot.waitingReason = waiting.reason;
  if (status?.reason) snapshot.reason = status.reason;
  if (status?.message) snapshot.message = status.message;
  const start = iso(status?.startTime);
  if (start) snapshot.startTime = start;
  const deletion = iso(pod.metadata?.deletionTimestamp);
  if (deletion) snapshot.deletionTimestamp = deletion;
  return snapshot;
}

export function toPvcSnapshot(pvc: V1PersistentVolumeClaim): PvcSnapshot {
  return {
    name: pvc.metadata?.name ?? '',
    phase: pvc.status?.phase ?? 'Pending',
    volumeName: pvc.spec?.volumeName ?? '',
    storageClassName: pvc.spec?.storageClassName ?? '',
    capacity: String(pvc.status?.capacity?.['storage'] ?? pvc.spec?.resources?.requests?.['storage'] ?? ''),
    accessModes: [...(pvc.spec?.accessModes ?? [])],
  };
}

/** `{a: 'b', c: 'd'}` -> `a=b,c=d`. */
export function selectorString(selector: string | Record<string, string>): string {
  if (typeof selector === 'string') return selector;
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
