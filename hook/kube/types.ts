/**
 * What the hooks see of Kubernetes, as plain data, and the one interface through which they
 * reach it. Commands and tests depend on this
 * file only; hook/kube/client.ts is the @kubernetes/client-node implementation.
 *
 * Every method maps API failures to GuardError (hook/errors.ts) the same way (hook/kube/call.ts):
 * 403 names the verb and resource to grant, 404 says what was looked for, 5xx/429/network errors
 * are retried with bounded backoff and then become a transient infrastructure error.
 */
import type { Clock } from '../runtime/clock.js';
import type { Progress } from '../runtime/progress.js';

/** A toleration, node selector term and so on are copied verbatim into worker pods: plain JSON. */
export type JsonObject = { [key: string]: unknown };

export interface StatefulSetSnapshot {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  /** 0 until the controller has seen the StatefulSet once. */
  observedGeneration: number;
  /** spec.replicas (1 when unset, like the API default). */
  replicas: number;
  readyReplicas: number;
  currentReplicas: number;
  updatedReplicas: number;
  currentRevision: string;
  updateRevision: string;
  /** spec.updateStrategy.rollingUpdate.partition, 0 when unset. */
  partition: number;
  /** "RollingUpdate" or "OnDelete". */
  updateStrategyType: string;
  serviceName: string;
  /** spec.selector.matchLabels. */
  selector: Record<string, string>;
  /** Names of spec.volumeClaimTemplates; the PVC of ordinal i is `<claim>-<sts>-<i>` (pvcName()). */
  claimTemplates: string[];
  /** Image of the container named `qdrant`, else of the first container. */
  qdrantImage: string;
  /** Image of the startup-check init container (the guard's image), when the chart renders one. */
  guardImage?: string;
  /** What a worker pod must copy to land on the same nodes and read the volume as Qdrant does. */
  podSpec: {
    tolerations: JsonObject[];
    nodeSelector: Record<string, string>;
    /** Names only: Secrets are never read. */
    imagePullSecrets: string[];
    /** Effective ids of the Qdrant container: container securityContext, else the pod's. */
    runAsUser?: number;
    runAsGroup?: number;
    fsGroup?: number;
  };
}

export interface ContainerStatusSummary {
  name: string;
  state: 'waiting' | 'running' | 'terminated' | 'unknown';
  ready: boolean;
  restartCount: number;
  /** Waiting or terminated reason: "CrashLoopBackOff", "Completed", "Error", "OOMKilled", ... */
  reason?: string;
  /** Waiting message, or the termination message (what `volume --check-only` writes). */
  message?: string;
  exitCode?: number;
  /** Last termination of a restarted container, for crash loops. */
  lastTermination?: { reason?: string; exitCode?: number; message?: string };
}

export interface PodSnapshot {
  name: string;
  uid: string;
  /** From the name suffix `-<n>`; null for a pod whose name has none. */
  ordinal: number | null;
  ip: string;
  nodeName: string;
  phase: string;
  /** The Ready condition is True. */
  ready: boolean;
  /** `controller-revision-hash` label: which StatefulSet revision the pod runs. */
  revision: string;
  labels: Record<string, string>;
  /** Spec image per container name. */
  images: Record<string, string>;
  /** Sum of restartCount over the regular containers. */
  restarts: number;
  /** First waiting reason among the containers (init containers first), e.g. "CrashLoopBackOff". */
  waitingReason?: string;
  /** status.reason, e.g. "Evicted". */
  reason?: string;
  message?: string;
  containers: ContainerStatusSummary[];
  initContainers: ContainerStatusSummary[];
  /** ISO 8601. */
  startTime?: string;
  deletionTimestamp?: string;
}

export interface PvcSnapshot {
  name: string;
  /** "Pending", "Bound", "Lost". */
  phase: string;
  volumeName: string;
  storageClassName: string;
  /** status.capacity.storage, else the request. A quantity string like "10Gi". */
  capacity: string;
  accessModes: string[];
}

/** One worker pod to run `volume` next to a Qdrant volume (docs/how-it-works.md#the-timeline-of-one-helm-upgrade, pre-upgrade). */
export interface WorkerPodSpec {
  /** Pod name, e.g. "guard-worker-qdrant-1"; a retry after an eviction appends "-r2". */
  name: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Overrides the image entrypoint when set. */
  command?: string[];
  args: string[];
  /** Mounted read-write at /qdrant/storage. */
  storagePvc: string;
  /** Mounted read-write at /qdrant/snapshots when set. */
  snapshotsPvc?: string;
  /**
   * The Qdrant pod using storagePvc. When set, the worker gets a required podAffinity on
   * `statefulset.kubernetes.io/pod-name=<pod>` (topology kubernetes.io/hostname), so it lands on
   * the node where a ReadWriteOnce volume is attached. Leave unset when that pod does not exist:
   * the scheduler then follows the volume's own node affinity. nodeName is never set, because it
   * skips the scheduler's taint and resource checks.
   */
  colocateWith?: string;
  /** From the StatefulSet (StatefulSetSnapshot.podSpec); ids default to Qdrant's uid 1000. */
  placement: StatefulSetSnapshot['podSpec'];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  env?: { name: string; value: string }[];
  /** Extra labels (the release label, for instance). */
  labels?: Record<string, string>;
}

export type WorkerPhase = 'Succeeded' | 'Failed' | 'Timeout' | 'Evicted';

export interface WorkerResult {
  /** WorkerPodSpec.name. */
  name: string;
  /** Name of the last pod created for it (differs from name after an eviction retry). */
  podName: string;
  phase: WorkerPhase;
  exitCode?: number;
  /** Raw termination message (the `volume` JSON summary); parse it losslessly, ids are u64. */
  terminationMessage?: string;
  /** Why: the container's terminated reason, "Evicted", or what the pod was waiting for at the deadline. */
  reason: string;
  nodeName?: string;
  /** 1, or 2 after an eviction retry. */
  attempts: number;
}

export interface VolumeSnapshotResult {
  name: string;
  state: 'ready' | 'failed' | 'timeout';
  /** status.error.message when failed; what was last seen when timed out. */
  message: string;
  boundVolumeSnapshotContentName?: string;
  restoreSize?: string;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid?: string;
}

export interface KubeApi {
  /** The namespace every call uses (flag, service-account namespace file, kubeconfig context, "default"). */
  readonly namespace: string;

  /** Throws a usage GuardError (exit 2, "is --statefulset right?") when it does not exist. */
  getStatefulSet(name: string): Promise<StatefulSetSnapshot>;
  /** Pods matching a label selector (`a=b,c=d` or a matchLabels map), sorted by ordinal then name. */
  listPods(selector: string | Record<string, string>): Promise<PodSnapshot[]>;
  /** undefined when the PVC does not exist (a replica that never started, or Argo CD PreSync). */
  getPvc(name: string): Promise<PvcSnapshot | undefined>;
  /**
   * PVCs matching a label selector, sorted by name: one request for all ordinals. The StatefulSet
   * controller labels claim-template PVCs with the StatefulSet's matchLabels, so
   * `listPvcs(sts.selector)` finds them (needs `list` on persistentvolumeclaims; getPvc needs `get`).
   */
  listPvcs(selector: string | Record<string, string>): Promise<PvcSnapshot[]>;

  /**
   * Runs worker pods in parallel and returns one result per spec, in spec order. Polls with one
   * list request per interval (at least 1 s), prints a progress line at least every 10 s, retries a
   * spec once after an eviction, and always deletes its pods: on success, failure, timeout and
   * when it throws. deadlineMs is an absolute time on the injected clock (clock.now() + budget).
   */
  runWorkerPods(specs: WorkerPodSpec[], options: { deadlineMs: number }): Promise<WorkerResult[]>;

  /** Creates a snapshot.storage.k8s.io/v1 VolumeSnapshot of a PVC; returns its name. */
  createVolumeSnapshot(options: {
    pvc: string;
    className: string;
    name: string;
    labels?: Record<string, string>;
  }): Promise<{ name: string; uid: string }>;
  /** Waits until readyToUse or status.error; deadlineMs is absolute on the injected clock. */
  waitVolumeSnapshotReady(name: string, deadlineMs: number): Promise<VolumeSnapshotResult>;

  /** data["record.json"] of ConfigMap `name`, or undefined when there is no such ConfigMap. */
  readRecord(name: string): Promise<string | undefined>;
  /**
   * Creates or replaces the record. Optimistic: it writes over the version this adapter last read
   * with readRecord (or creates it when none was read). If someone else changed the record in
   * between, it re-reads once; if their content differs from what we read, it throws instead of
   * overwriting it. Prefer updateRecord for read-modify-write.
   */
  writeRecord(name: string, json: string, labels: Record<string, string>): Promise<void>;
  /** Read-modify-write with one retry on a conflict: `mutate` sees the current content each time. */
  updateRecord(
    name: string,
    mutate: (current: string | undefined) => string,
    labels: Record<string, string>,
  ): Promise<string>;

  /** A core/v1 Event (what `kubectl describe` shows) on the object, e.g. the StatefulSet. */
  emitEvent(event: { involved: ObjectRef; type: 'Normal' | 'Warning'; reason: string; message: string }): Promise<void>;

  /**
   * Log text of one container. '' when the container has not started yet (the API answers 400
   * "is waiting to start"). sinceTime is ISO 8601; limitBytes defaults to 4 MiB.
   */
  podLogs(
    pod: string,
    options: { container?: string; sinceTime?: string; previous?: boolean; tailLines?: number; limitBytes?: number },
  ): Promise<string>;

  /**
   * Sets spec.updateStrategy.rollingUpdate.partition by server-side apply (field manager
   * `qdrant-upgrade-guard`, forced); returns the updated StatefulSet.
   */
  patchStatefulSetPartition(name: string, partition: number): Promise<StatefulSetSnapshot>;
  /**
   * Gives the partition field up after a completed staged rollout (an apply without it), so Helm 4's next
   * server-side apply of the chart's partition meets no other owner. The API defaults the field to 0.
   */
  releaseStatefulSetPartition(name: string): Promise<StatefulSetSnapshot>;

  /**
   * Deletes one pod by name (restore-volume restarts the Qdrant pod it held); gracePeriodSeconds as given, 404 counts
   * as deleted. Needs `delete` on pods, name-scoped to the StatefulSet's pods in the restore-volume Role.
   */
  deletePod(name: string, gracePeriodSeconds: number): Promise<void>;

  /** API requests sent so far, retries included (benchmarks: pre-upgrade ≤ 4 + 3 per peer). */
  requestCount(): number;
}

export interface KubeApiOptions {
  /** --namespace; else the service-account namespace file, else the kubeconfig context, else "default". */
  namespace?: string;
  /** Path to a kubeconfig; else KUBECONFIG, ~/.kube/config or the in-cluster config (loadFromDefault). */
  kubeconfig?: string;
  progress: Progress;
  clock: Clock;
  /** Per-request timeout (default 15 s). */
  requestTimeoutMs?: number;
  /** Attempts per call for retryable failures (default 4: one try and 3 retries). */
  attempts?: number;
  /** First backoff delay (default 200 ms), doubled per retry up to maxBackoffMs (default 1600 ms). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Poll interval for worker pods and VolumeSnapshots (default 1000 ms; never below 1 s in production). */
  pollIntervalMs?: number;
  /** Seconds between progress lines while waiting (default 10). */
  progressEverySeconds?: number;
  /** Called for every HTTP request sent (benchmarks count them). */
  onRequest?: (method: string, url: string) => void;
  /** For tests: where the in-cluster namespace file lives. */
  serviceAccountNamespaceFile?: string;
}

/** `<claim>-<statefulset>-<ordinal>`: how the StatefulSet controller names a claim-template PVC. */
export function pvcName(claim: string, statefulSet: string, ordinal: number): string {
  return `${claim}-${statefulSet}-${ordinal}`;
}

/** Label on every worker pod; the hook Role's pod permissions are for these and the Qdrant pods. */
export const WORKER_COMPONENT_LABEL = { 'app.kubernetes.io/component': 'upgrade-guard-worker' } as const;

/** Data key of the record ConfigMap. */
export const RECORD_KEY = 'record.json';
