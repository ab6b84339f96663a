/**
 * The staged rollout stepper (docs/how-it-works.md#the-timeline-of-one-helm-upgrade): the chart renders the partition at replicaCount,
 * so the new revision restarts nothing by itself; post-upgrade lowers it one ordinal at a time, highest first,
 * waits for that pod, verifies the peer, and only then goes on. Pure: a snapshot in, the next decision out,
 * like an upgrade stepper: the command acts, observes again and asks again.
 *
 * Decisions:
 * - A peer counts as done when its pod runs updateRevision AND it was verified: by the record
 *   (ordinal >= record.step) or by a passing verdict of this run for the same pod uid. Such a peer is
 *   never rolled or verified again, so a retried hook continues where it stopped.
 * - The partition only ever goes down, to the ordinal being worked on.
 * - A failing verdict stops the rollout at that ordinal, the lower ordinals still on the old version. A
 *   stop recorded in the record stays a stop until the operator resumes (`post-upgrade --resume`); resuming
 *   ignores the stop and the failing verdict of the stopped ordinal only, which is verified again. Once the
 *   record says in-progress again, `resume` changes nothing: a later failure stops the rollout as usual.
 * - A pod verified under another uid has restarted since: its verdict no longer holds, it is verified again
 *   (verification only; nothing is rolled).
 */
import type { StagedRolloutState } from './record.js';

export interface StagedPod {
  ordinal: number;
  /** controller-revision-hash label. */
  revision: string;
  ready: boolean;
  uid: string;
}

export interface PeerVerdict {
  status: 'pass' | 'fail';
  /** The pod uid the verdict was reached on. */
  uid?: string;
  /** Why it failed: the failed checks, one line. */
  reason?: string;
}

export interface StagedInput {
  /** spec.replicas. */
  replicas: number;
  /** spec.updateStrategy.rollingUpdate.partition now. */
  partition: number;
  updateRevision: string;
  pods: StagedPod[];
  /** GuardRecord.stagedRollout, when a previous run left one. */
  record?: StagedRolloutState;
  /** Verdicts of the per-peer checks, by ordinal ("0", "1", ...). */
  perPeerVerdicts: Record<string, PeerVerdict>;
  /** `post-upgrade --resume`: continue after a recorded stop the operator has fixed. */
  resume?: boolean;
}

export type StagedDecision =
  | { action: 'lower-partition'; to: number }
  | { action: 'wait-pod'; ordinal: number; reason: string }
  | { action: 'verify-peer'; ordinal: number }
  | { action: 'done' }
  | { action: 'stopped'; ordinal: number; reason: string };

export function nextStagedStep(input: StagedInput): StagedDecision {
  const rec = input.record;
  if (rec?.status === 'stopped' && !input.resume) {
    return {
      action: 'stopped',
      ordinal: rec.failedOrdinal ?? Math.max(0, rec.step - 1),
      reason: rec.reason ?? 'the staged rollout was stopped by an earlier run',
    };
  }
  const resumedOrdinal = input.resume && rec?.status === 'stopped' ? (rec.failedOrdinal ?? Math.max(0, rec.step - 1)) : undefined;
  const byOrdinal = new Map(input.pods.map((p) => [p.ordinal, p]));
  for (let n = input.replicas - 1; n >= 0; n--) {
    const pod = byOrdinal.get(n);
    if (isDone(input, n)) continue;
    const verdict = input.perPeerVerdicts[String(n)];
    if (verdict?.status === 'fail' && n !== resumedOrdinal && sameUid(verdict, pod)) {
      return { action: 'stopped', ordinal: n, reason: verdict.reason ?? `the checks of ordinal ${n} failed` };
    }
    if (input.partition > n) return { action: 'lower-partition', to: n };
    if (!pod) return { action: 'wait-pod', ordinal: n, reason: `ordinal ${n} has no pod yet` };
    if (pod.revision !== input.updateRevision) {
      return { action: 'wait-pod', ordinal: n, reason: `ordinal ${n} runs revision ${pod.revision}, waiting for ${input.updateRevision}` };
    }
    if (!pod.ready) return { action: 'wait-pod', ordinal: n, reason: `ordinal ${n} runs revision ${pod.revision} but is not ready yet` };
    return { action: 'verify-peer', ordinal: n };
  }
  return { action: 'done' };
}

/**
 * What the record should say after this decision: the lowest ordinal verified (counting down from the top
 * without a gap; `replicas` when none), and the status.
 */
export function stagedStateAfter(input: StagedInput, decision: StagedDecision): StagedRolloutState {
  let step = input.replicas;
  while (step > 0 && isDone(input, step - 1)) step--;
  if (decision.action === 'done') return { step: 0, status: 'done' };
  if (decision.action === 'stopped') return { step, status: 'stopped', failedOrdinal: decision.ordinal, reason: decision.reason };
  return { step, status: 'in-progress' };
}

/** One line for the progress output. */
export function describeStagedStep(decision: StagedDecision, statefulset: string): string {
  switch (decision.action) {
    case 'lower-partition':
      return `staged rollout: partition -> ${decision.to}, ${statefulset}-${decision.to} updates next`;
    case 'wait-pod':
      return `staged rollout: waiting for ${statefulset}-${decision.ordinal} (${decision.reason})`;
    case 'verify-peer':
      return `staged rollout: verifying ${statefulset}-${decision.ordinal}`;
    case 'done':
      return 'staged rollout: every peer updated and verified';
    case 'stopped':
      return `staged rollout stopped at ${statefulset}-${decision.ordinal}: ${decision.reason}`;
  }
}

/** Updated and verified: never touched again. */
function isDone(input: StagedInput, n: number): boolean {
  const pod = input.pods.find((p) => p.ordinal === n);
  if (!pod || pod.revision !== input.updateRevision) return false;
  const recStep = input.record ? Math.min(input.record.step, input.replicas) : input.replicas;
  if (n >= recStep) return true;
  const v = input.perPeerVerdicts[String(n)];
  return v?.status === 'pass' && sameUid(v, pod);
}

function sameUid(v: PeerVerdict, pod: StagedPod | undefined): boolean {
  return v.uid === undefined || pod === undefined || v.uid === pod.uid;
}
