/**
 * The StatefulSet rollout after `helm upgrade` (docs/how-it-works.md#the-timeline-of-one-helm-upgrade, post-upgrade): is it done, what is it
 * waiting for, and, at the deadline, exactly why it is stuck. Pure: a snapshot in, an assessment out;
 * the command polls and maps kube PodSnapshots into RolloutPod.
 *
 * Decisions:
 * - Done: the controller has observed the current generation, every ordinal 0..replicas-1 has a pod, every
 *   pod at or above the partition runs updateRevision (below it the old revision is expected: a staged
 *   rollout), every pod is ready and none is terminating.
 * - The startup check refusing a volume fails fast, before the deadline: it will refuse again on every
 *   restart until someone restores the state, so waiting only hides the reason.
 * - Every other cause is reported at the deadline (a crash loop or a slow shard recovery may still clear):
 *   the stuck check names the pod the rollout waits on and its cause, in this order of precedence: startup
 *   check refused, crash loop, image pull, unschedulable, /readyz 503 (qdrant-helm#285), other not-ready,
 *   pending, terminating, missing pod, not replaced, controller lag.
 */
import { parse } from 'lossless-json';
import { check, type Check } from '../report.js';
import { CHECK_IDS } from './check-ids.js';
import { STARTUP_CHECK_CONTAINER } from './layout.js';

/** The init container the chart runs on every Qdrant pod (policy/layout.ts). */
export { STARTUP_CHECK_CONTAINER };

export interface RolloutPod {
  name: string;
  ordinal: number;
  /** controller-revision-hash label. */
  revision: string;
  ready: boolean;
  /** Pending, Running, Succeeded, Failed, Unknown. */
  phase: string;
  restarts: number;
  /** /readyz, when the command could read it. */
  readyz?: { status: number; text: string };
  /** First waiting reason, kubectl style: CrashLoopBackOff, Init:Error, Init:CrashLoopBackOff, ImagePullBackOff, ContainerCreating. */
  waitingReason?: string;
  waitingMessage?: string;
  /** A failed init container, with its termination message (the startup check writes a JSON summary there). */
  initFailure?: { container: string; exitCode?: number; reason?: string; message?: string };
  /** PodScheduled=False with reason Unschedulable: the scheduler's message. */
  unschedulable?: string;
  terminating?: boolean;
}

export interface RolloutSnapshot {
  statefulset: string;
  replicas: number;
  generation: number;
  observedGeneration: number;
  updateRevision: string;
  currentRevision: string;
  updatedReplicas: number;
  readyReplicas: number;
  partition: number;
  /** Default RollingUpdate. */
  updateStrategy?: 'RollingUpdate' | 'OnDelete';
  pods: RolloutPod[];
}

export interface RolloutOptions {
  /** The command's deadline has passed: explain what is stuck. */
  deadlineReached?: boolean;
  /** Seconds waited so far, for the explanation. */
  waitedSeconds?: number;
}

export interface RolloutAssessment {
  done: boolean;
  /** One line for stderr while waiting. */
  progressLine: string;
  /** Present when the rollout cannot finish: at the deadline, or at once when the startup check refused. */
  stuck?: Check;
}

type Cause =
  | 'startup-refused'
  | 'crash-loop'
  | 'image'
  | 'unschedulable'
  | 'readyz'
  | 'not-ready'
  | 'pending'
  | 'terminating'
  | 'missing'
  | 'not-replaced'
  | 'controller';

const PRECEDENCE: Cause[] = [
  'startup-refused',
  'crash-loop',
  'image',
  'unschedulable',
  'readyz',
  'not-ready',
  'pending',
  'terminating',
  'missing',
  'not-replaced',
  'controller',
];

interface Problem {
  cause: Cause;
  /** Pod name, or the StatefulSet for controller lag. */
  subject: string;
  ordinal: number;
  /** For the progress line. */
  short: string;
  /** For the stuck check. */
  observed: string;
  remedy: string;
}

const IMAGE_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

export function assessRollout(snap: RolloutSnapshot, opts: RolloutOptions = {}): RolloutAssessment {
  const rev = (r: string) => shortRevision(r, snap.statefulset);
  const byOrdinal = new Map(snap.pods.map((p) => [p.ordinal, p]));
  const toUpdate = Math.max(0, snap.replicas - Math.min(snap.partition, snap.replicas));
  let updated = 0;
  let ready = 0;
  const problems: Problem[] = [];
  const stsSubject = `statefulset/${snap.statefulset}`;

  if (snap.observedGeneration < snap.generation) {
    problems.push({
      cause: 'controller',
      subject: stsSubject,
      ordinal: Number.MAX_SAFE_INTEGER,
      short: `controller has not observed generation ${snap.generation} yet (at ${snap.observedGeneration})`,
      observed: `the StatefulSet controller has not observed generation ${snap.generation} (status.observedGeneration ${snap.observedGeneration})`,
      remedy: 'Check that kube-controller-manager runs and look for errors in kubectl get events.',
    });
  }

  for (let ordinal = snap.replicas - 1; ordinal >= 0; ordinal--) {
    const pod = byOrdinal.get(ordinal);
    const name = `${snap.statefulset}-${ordinal}`;
    if (!pod) {
      problems.push({
        cause: 'missing',
        subject: name,
        ordinal,
        short: `${name} does not exist yet`,
        observed: `${name} does not exist`,
        remedy: `kubectl describe statefulset ${snap.statefulset} shows why the controller cannot create it (quota, PVC, admission).`,
      });
      continue;
    }
    const mustUpdate = ordinal >= snap.partition;
    const outdated = mustUpdate && pod.revision !== snap.updateRevision;
    if (mustUpdate && !outdated) updated++;
    if (pod.ready && !pod.terminating) ready++;
    const issue = podIssue(pod);
    if (issue) {
      const short = outdated ? `${pod.name} still on revision ${rev(pod.revision)} (→ ${rev(snap.updateRevision)}) and ${issue.short}` : `${pod.name} ${issue.short}`;
      problems.push({ ...issue, subject: pod.name, ordinal, short });
    } else if (outdated) {
      const onDelete = snap.updateStrategy === 'OnDelete';
      problems.push({
        cause: 'not-replaced',
        subject: pod.name,
        ordinal,
        short: `waiting for ${pod.name} (revision ${rev(pod.revision)} → ${rev(snap.updateRevision)})`,
        observed: `${pod.name} is ready but still on revision ${rev(pod.revision)}; the controller has not replaced it with ${rev(snap.updateRevision)}`,
        remedy: onDelete
          ? `updateStrategy is OnDelete: Kubernetes replaces a pod only when it is deleted (kubectl delete pod ${pod.name}).`
          : `kubectl describe statefulset ${snap.statefulset} shows the controller's events; it replaces pods highest ordinal first, one at a time, only while all pods are ready.`,
      });
    }
  }

  const done = problems.length === 0;
  const partitionNote = snap.partition > 0 ? ` (partition ${snap.partition})` : '';
  const head = `rollout ${updated}/${toUpdate} updated${partitionNote}, ${ready}/${snap.replicas} ready`;
  const progressLine = done
    ? `${head}: complete on revision ${rev(snap.updateRevision)}`
    : `${head}: ${[...problems].sort(byPosition).map((p) => p.short).join(', ')}`;

  const refused = problems.find((p) => p.cause === 'startup-refused');
  if (done || (!opts.deadlineReached && !refused)) return { done, progressLine };

  const primary = [...problems].sort((a, b) => PRECEDENCE.indexOf(a.cause) - PRECEDENCE.indexOf(b.cause) || b.ordinal - a.ordinal)[0]!;
  const others = problems.filter((p) => p !== primary).sort(byPosition);
  const waited = opts.deadlineReached && opts.waitedSeconds !== undefined ? ` after ${opts.waitedSeconds} s` : '';
  const also = others.length > 0 ? `; also: ${others.map((p) => p.short).join(', ')}` : '';
  const stuck = check(
    CHECK_IDS.rolloutComplete,
    'fail',
    primary.subject,
    `${head}${waited}: ${primary.observed}${also}`,
    `all ${snap.replicas} pods ready${toUpdate > 0 ? `, ${toUpdate} on revision ${rev(snap.updateRevision)}` : ''}`,
    primary.remedy,
  );
  return { done, progressLine, stuck };
}

/** Problems in the order the controller meets them: controller lag first, then highest ordinal down. */
function byPosition(a: Problem, b: Problem): number {
  return b.ordinal - a.ordinal;
}

function podIssue(pod: RolloutPod): Omit<Problem, 'subject' | 'ordinal'> | undefined {
  const name = pod.name;
  const waiting = pod.waitingReason;
  if (pod.initFailure || waiting?.startsWith('Init:')) {
    const f = pod.initFailure;
    const container = f?.container ?? STARTUP_CHECK_CONTAINER;
    const what = container === STARTUP_CHECK_CONTAINER ? `the startup check (init container ${container})` : `init container ${container}`;
    const reason = f?.message ? terminationReason(f.message) : undefined;
    const status = waiting ?? `Init:${f?.reason ?? 'Error'}`;
    const observed = reason
      ? `${what} refused to start Qdrant on ${name}'s volume (${status}${f?.exitCode !== undefined ? `, exit ${f.exitCode}` : ''}): ${reason}`
      : `${what} keeps failing on ${name} (${status}, ${pod.restarts} restart(s)); its termination message is empty`;
    return {
      cause: 'startup-refused',
      short: `${status}: ${reason ? truncate(reason, 160) : 'init container failing'}`,
      observed,
      remedy:
        container === STARTUP_CHECK_CONTAINER
          ? `Do what the startup check says: typically stop Qdrant on that volume and restore its raft-state archive (docs/runbooks.md#restore-an-archive), then delete the pod (kubectl delete pod ${name}) so it starts again; read the full verdict with kubectl logs ${name} -c ${container}. ` +
            'Do not remove the init container to get past it: Qdrant would mint a new peer id and replay its log under it (qdrant/qdrant#6229; docs/runbooks.md#startup-check-holds-a-pod).'
          : `Read kubectl logs ${name} -c ${container} and fix what it reports, then delete the pod (kubectl delete pod ${name}).`,
    };
  }
  if (waiting === 'CrashLoopBackOff') {
    return {
      cause: 'crash-loop',
      short: `CrashLoopBackOff (${pod.restarts} restarts)`,
      observed: `Qdrant on ${name} is in CrashLoopBackOff after ${pod.restarts} restart(s)${pod.waitingMessage ? `: ${pod.waitingMessage}` : ''}`,
      remedy:
        `Read why Qdrant exits: kubectl logs ${name} --previous. A repeating "Replaced metadata of peer" means its raft state was lost (qdrant/qdrant#6229); ` +
        'a storage-format error after a version jump means an unsupported upgrade path (docs/runbooks.md#version-change-refused); OOMKilled means resources.limits.memory is too small.',
    };
  }
  if (waiting && IMAGE_REASONS.has(waiting)) {
    return {
      cause: 'image',
      short: waiting,
      observed: `${name} cannot pull its image (${waiting}${pod.waitingMessage ? `: ${pod.waitingMessage}` : ''})`,
      remedy: 'Check image.repository and image.tag (the tag must exist in the registry) and imagePullSecrets.',
    };
  }
  if (pod.phase === 'Pending' && pod.unschedulable) {
    return {
      cause: 'unschedulable',
      short: `Pending: unschedulable`,
      observed: `${name} is Pending and cannot be scheduled: ${pod.unschedulable}`,
      remedy: `Free capacity or fix nodeSelector, affinity and tolerations; a PVC bound in one zone pins the pod to that zone (kubectl describe pod ${name}).`,
    };
  }
  if (pod.terminating) {
    return {
      cause: 'terminating',
      short: 'terminating',
      observed: `${name} is terminating and has not gone`,
      remedy: `kubectl describe pod ${name}: a finalizer or an unreachable node can hold it; Qdrant gets terminationGracePeriodSeconds to flush.`,
    };
  }
  if (pod.phase === 'Pending') {
    return {
      cause: 'pending',
      short: `Pending${waiting ? ` (${waiting})` : ''}`,
      observed: `${name} is Pending${waiting ? ` (${waiting}${pod.waitingMessage ? `: ${pod.waitingMessage}` : ''})` : ''}`,
      remedy: `kubectl describe pod ${name} shows what it waits for (volume attach, image pull).`,
    };
  }
  if (!pod.ready) {
    if (pod.readyz && pod.readyz.status === 503) {
      const text = pod.readyz.text.trim();
      return {
        cause: 'readyz',
        short: `not ready: /readyz 503 ${text}`,
        observed: `Qdrant on ${name} runs but /readyz answers 503 "${text}"`,
        remedy:
          `Its shards have not caught up with the cluster (as in qdrant-helm#285): look at GET /collections/<name>/cluster on ${name} for Partial or Dead replicas and running transfers. ` +
          'The rollout continues once it is ready; for large collections raise upgradeGuard.postUpgrade.timeoutSeconds.',
      };
    }
    const probe = pod.readyz ? `/readyz ${pod.readyz.status}${pod.readyz.text ? ` ${pod.readyz.text.trim()}` : ''}` : 'readiness probe failing';
    return {
      cause: 'not-ready',
      short: `not ready: ${probe}`,
      observed: `${name} is ${pod.phase} but not ready (${probe})`,
      remedy: `kubectl describe pod ${name} shows the failing probe; kubectl logs ${name} shows what Qdrant is doing.`,
    };
  }
  return undefined;
}

/** The startup check writes a JSON summary ({verdict, classification, reason, ...}); anything else is shown as text. */
export function terminationReason(message: string): string {
  const text = message.trim();
  if (text.startsWith('{')) {
    try {
      const o = parse(text) as Record<string, unknown>;
      if (o && typeof o.reason === 'string' && o.reason !== '') {
        const cls = typeof o.classification === 'string' ? `volume ${o.classification}: ` : '';
        return `${cls}${o.reason}`;
      }
    } catch {
      // not JSON after all: shown as text
    }
  }
  return truncate(text.replace(/\s+/g, ' '), 600);
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

/** `qdrant-5d8f7c9b6` -> `5d8f7c9b6`: the hash without the StatefulSet name. */
export function shortRevision(revision: string, statefulset: string): string {
  return revision.startsWith(`${statefulset}-`) ? revision.slice(statefulset.length + 1) : revision;
}
