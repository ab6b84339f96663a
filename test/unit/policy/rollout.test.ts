import { expect } from 'chai';
import {
  assessRollout,
  shortRevision,
  terminationReason,
  type RolloutAssessment,
  type RolloutOptions,
  type RolloutPod,
  type RolloutSnapshot,
} from '../../../hook/policy/rollout.js';

const OLD = 'qdrant-7c9b6d5f4';
const NEW = 'qdrant-5d8f7c9b6';
const pod = (ordinal: number, over: Partial<RolloutPod> = {}): RolloutPod => ({
  name: `qdrant-${ordinal}`,
  ordinal,
  revision: NEW,
  ready: true,
  phase: 'Running',
  restarts: 0,
  ...over,
});
const snap = (pods: RolloutPod[], over: Partial<RolloutSnapshot> = {}): RolloutSnapshot => ({
  statefulset: 'qdrant',
  replicas: 3,
  generation: 4,
  observedGeneration: 4,
  updateRevision: NEW,
  currentRevision: OLD,
  updatedReplicas: pods.filter((p) => p.revision === NEW).length,
  readyReplicas: pods.filter((p) => p.ready).length,
  partition: 0,
  pods,
  ...over,
});
const stuck = (subject: string, observed: string, remedy: string, expected = 'all 3 pods ready, 3 on revision 5d8f7c9b6') => ({
  id: 'rollout.complete' as const,
  status: 'fail' as const,
  subject,
  observed,
  expected,
  remedy,
});

const REFUSAL = JSON.stringify({
  verdict: 'refuse',
  classification: 'missing-state',
  peerId: null,
  term: null,
  commit: null,
  archive: null,
  sha256: null,
  reason:
    'volume.state: raft_state.json missing while collections_meta_wal/ holds 3 segment(s) (96 MiB). Keep Qdrant stopped on this volume and restore the newest archive: qdrant-upgrade-guard restore --archive /qdrant/storage/.upgrade-guard/raft-qdrant-1-1.13.4-to-1.13.5-20250321T101502Z.tar.gz --storage /qdrant/storage',
});
const REFUSAL_REASON =
  'volume missing-state: volume.state: raft_state.json missing while collections_meta_wal/ holds 3 segment(s) (96 MiB). Keep Qdrant stopped on this volume and restore the newest archive: qdrant-upgrade-guard restore --archive /qdrant/storage/.upgrade-guard/raft-qdrant-1-1.13.4-to-1.13.5-20250321T101502Z.tar.gz --storage /qdrant/storage';

const REM = {
  readyz:
    'Its shards have not caught up with the cluster (as in qdrant-helm#285): look at GET /collections/<name>/cluster on qdrant-1 for Partial or Dead replicas and running transfers. The rollout continues once it is ready; for large collections raise upgradeGuard.postUpgrade.timeoutSeconds.',
  startup:
    'Do what the startup check says: typically stop Qdrant on that volume and restore its raft-state archive (docs/runbooks.md#restore-an-archive), then delete the pod (kubectl delete pod qdrant-1) so it starts again; read the full verdict with kubectl logs qdrant-1 -c upgrade-guard-startup-check. Do not remove the init container to get past it: Qdrant would mint a new peer id and replay its log under it (qdrant/qdrant#6229; docs/runbooks.md#startup-check-holds-a-pod).',
  crash:
    'Read why Qdrant exits: kubectl logs qdrant-2 --previous. A repeating "Replaced metadata of peer" means its raft state was lost (qdrant/qdrant#6229); a storage-format error after a version jump means an unsupported upgrade path (docs/runbooks.md#version-change-refused); OOMKilled means resources.limits.memory is too small.',
};

interface Row {
  name: string;
  snapshot: RolloutSnapshot;
  opts?: RolloutOptions;
  expected: RolloutAssessment;
}

const rows: Row[] = [
  {
    name: 'is done when every pod runs the update revision and is ready',
    snapshot: snap([pod(0), pod(1), pod(2)]),
    expected: { done: true, progressLine: 'rollout 3/3 updated, 3/3 ready: complete on revision 5d8f7c9b6' },
  },
  {
    name: 'says which pods are still missing while waiting, highest ordinal first, with no verdict before the deadline',
    snapshot: snap([pod(0, { revision: OLD }), pod(1, { ready: false, readyz: { status: 503, text: 'some shards are not ready' } }), pod(2, { revision: OLD })]),
    expected: {
      done: false,
      progressLine:
        'rollout 1/3 updated, 2/3 ready: waiting for qdrant-2 (revision 7c9b6d5f4 → 5d8f7c9b6), qdrant-1 not ready: /readyz 503 some shards are not ready, waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)',
    },
  },
  {
    name: 'at the deadline blames the pod whose /readyz answers 503 (qdrant-helm#285) and lists the rest',
    snapshot: snap([pod(0, { revision: OLD }), pod(1, { ready: false, readyz: { status: 503, text: 'some shards are not ready\n' } }), pod(2, { revision: OLD })]),
    opts: { deadlineReached: true, waitedSeconds: 600 },
    expected: {
      done: false,
      progressLine:
        'rollout 1/3 updated, 2/3 ready: waiting for qdrant-2 (revision 7c9b6d5f4 → 5d8f7c9b6), qdrant-1 not ready: /readyz 503 some shards are not ready, waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)',
      stuck: stuck(
        'qdrant-1',
        'rollout 1/3 updated, 2/3 ready after 600 s: Qdrant on qdrant-1 runs but /readyz answers 503 "some shards are not ready"; also: waiting for qdrant-2 (revision 7c9b6d5f4 → 5d8f7c9b6), waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)',
        REM.readyz,
      ),
    },
  },
  {
    name: 'fails fast, before the deadline, when the startup check refused the volume, quoting its termination message',
    snapshot: snap([
      pod(0, { revision: OLD }),
      pod(1, {
        ready: false,
        phase: 'Pending',
        restarts: 0,
        waitingReason: 'Init:Error',
        initFailure: { container: 'upgrade-guard-startup-check', exitCode: 1, reason: 'Error', message: REFUSAL },
      }),
      pod(2),
    ]),
    expected: {
      done: false,
      progressLine: `rollout 2/3 updated, 2/3 ready: qdrant-1 Init:Error: ${REFUSAL_REASON.slice(0, 157)}..., waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)`,
      stuck: stuck(
        'qdrant-1',
        `rollout 2/3 updated, 2/3 ready: the startup check (init container upgrade-guard-startup-check) refused to start Qdrant on qdrant-1's volume (Init:Error, exit 1): ${REFUSAL_REASON}; also: waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)`,
        REM.startup,
      ),
    },
  },
  {
    name: 'fails fast on an init container crash loop even when its termination message is empty',
    snapshot: snap([pod(0), pod(1, { ready: false, phase: 'Pending', restarts: 4, waitingReason: 'Init:CrashLoopBackOff' }), pod(2)]),
    expected: {
      done: false,
      progressLine: 'rollout 3/3 updated, 2/3 ready: qdrant-1 Init:CrashLoopBackOff: init container failing',
      stuck: stuck(
        'qdrant-1',
        'rollout 3/3 updated, 2/3 ready: the startup check (init container upgrade-guard-startup-check) keeps failing on qdrant-1 (Init:CrashLoopBackOff, 4 restart(s)); its termination message is empty',
        REM.startup,
      ),
    },
  },
  {
    name: 'waits on a crash loop until the deadline, then explains it and where to read why',
    snapshot: snap([pod(0, { revision: OLD }), pod(1, { revision: OLD }), pod(2, { ready: false, restarts: 5, waitingReason: 'CrashLoopBackOff', waitingMessage: 'back-off 2m40s restarting failed container=qdrant' })]),
    opts: { deadlineReached: true },
    expected: {
      done: false,
      progressLine:
        'rollout 1/3 updated, 2/3 ready: qdrant-2 CrashLoopBackOff (5 restarts), waiting for qdrant-1 (revision 7c9b6d5f4 → 5d8f7c9b6), waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)',
      stuck: stuck(
        'qdrant-2',
        'rollout 1/3 updated, 2/3 ready: Qdrant on qdrant-2 is in CrashLoopBackOff after 5 restart(s): back-off 2m40s restarting failed container=qdrant; also: waiting for qdrant-1 (revision 7c9b6d5f4 → 5d8f7c9b6), waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)',
        REM.crash,
      ),
    },
  },
  {
    name: 'names a pod that cannot pull its image',
    snapshot: snap([pod(0, { revision: OLD }), pod(1, { revision: OLD }), pod(2, { ready: false, phase: 'Pending', waitingReason: 'ImagePullBackOff', waitingMessage: 'tag v1.99.0 not found' })]),
    opts: { deadlineReached: true, waitedSeconds: 600 },
    expected: {
      done: false,
      progressLine:
        'rollout 1/3 updated, 2/3 ready: qdrant-2 ImagePullBackOff, waiting for qdrant-1 (revision 7c9b6d5f4 → 5d8f7c9b6), waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)',
      stuck: stuck(
        'qdrant-2',
        'rollout 1/3 updated, 2/3 ready after 600 s: qdrant-2 cannot pull its image (ImagePullBackOff: tag v1.99.0 not found); also: waiting for qdrant-1 (revision 7c9b6d5f4 → 5d8f7c9b6), waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)',
        'Check image.repository and image.tag (the tag must exist in the registry) and imagePullSecrets.',
      ),
    },
  },
  {
    name: 'names a pod the scheduler cannot place, with the scheduler message',
    snapshot: snap([pod(0), pod(1), pod(2, { ready: false, phase: 'Pending', unschedulable: '0/3 nodes are available: 3 Insufficient memory.' })]),
    opts: { deadlineReached: true },
    expected: {
      done: false,
      progressLine: 'rollout 3/3 updated, 2/3 ready: qdrant-2 Pending: unschedulable',
      stuck: stuck(
        'qdrant-2',
        'rollout 3/3 updated, 2/3 ready: qdrant-2 is Pending and cannot be scheduled: 0/3 nodes are available: 3 Insufficient memory.',
        'Free capacity or fix nodeSelector, affinity and tolerations; a PVC bound in one zone pins the pod to that zone (kubectl describe pod qdrant-2).',
      ),
    },
  },
  {
    name: 'names a pod still being created',
    snapshot: snap([pod(0), pod(1), pod(2, { ready: false, phase: 'Pending', waitingReason: 'ContainerCreating' })]),
    opts: { deadlineReached: true },
    expected: {
      done: false,
      progressLine: 'rollout 3/3 updated, 2/3 ready: qdrant-2 Pending (ContainerCreating)',
      stuck: stuck(
        'qdrant-2',
        'rollout 3/3 updated, 2/3 ready: qdrant-2 is Pending (ContainerCreating)',
        'kubectl describe pod qdrant-2 shows what it waits for (volume attach, image pull).',
      ),
    },
  },
  {
    name: 'names a running pod whose readiness probe fails when /readyz was not read',
    snapshot: snap([pod(0), pod(1, { ready: false }), pod(2)]),
    opts: { deadlineReached: true },
    expected: {
      done: false,
      progressLine: 'rollout 3/3 updated, 2/3 ready: qdrant-1 not ready: readiness probe failing',
      stuck: stuck(
        'qdrant-1',
        'rollout 3/3 updated, 2/3 ready: qdrant-1 is Running but not ready (readiness probe failing)',
        'kubectl describe pod qdrant-1 shows the failing probe; kubectl logs qdrant-1 shows what Qdrant is doing.',
      ),
    },
  },
  {
    name: 'names a pod that does not exist and one stuck terminating',
    snapshot: snap([pod(0, { revision: OLD, terminating: true }), pod(1)]),
    opts: { deadlineReached: true },
    expected: {
      done: false,
      progressLine: 'rollout 1/3 updated, 1/3 ready: qdrant-2 does not exist yet, qdrant-0 still on revision 7c9b6d5f4 (→ 5d8f7c9b6) and terminating',
      stuck: stuck(
        'qdrant-0',
        'rollout 1/3 updated, 1/3 ready: qdrant-0 is terminating and has not gone; also: qdrant-2 does not exist yet',
        'kubectl describe pod qdrant-0: a finalizer or an unreachable node can hold it; Qdrant gets terminationGracePeriodSeconds to flush.',
      ),
    },
  },
  {
    name: 'with OnDelete, says the pods must be deleted to update',
    snapshot: snap([pod(0, { revision: OLD }), pod(1, { revision: OLD }), pod(2, { revision: OLD })], { updateStrategy: 'OnDelete' }),
    opts: { deadlineReached: true },
    expected: {
      done: false,
      progressLine:
        'rollout 0/3 updated, 3/3 ready: waiting for qdrant-2 (revision 7c9b6d5f4 → 5d8f7c9b6), waiting for qdrant-1 (revision 7c9b6d5f4 → 5d8f7c9b6), waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)',
      stuck: stuck(
        'qdrant-2',
        'rollout 0/3 updated, 3/3 ready: qdrant-2 is ready but still on revision 7c9b6d5f4; the controller has not replaced it with 5d8f7c9b6; also: waiting for qdrant-1 (revision 7c9b6d5f4 → 5d8f7c9b6), waiting for qdrant-0 (revision 7c9b6d5f4 → 5d8f7c9b6)',
        'updateStrategy is OnDelete: Kubernetes replaces a pod only when it is deleted (kubectl delete pod qdrant-2).',
      ),
    },
  },
  {
    name: 'waits for the controller to observe the new generation',
    snapshot: snap([pod(0), pod(1), pod(2)], { generation: 5, observedGeneration: 4 }),
    opts: { deadlineReached: true },
    expected: {
      done: false,
      progressLine: 'rollout 3/3 updated, 3/3 ready: controller has not observed generation 5 yet (at 4)',
      stuck: stuck(
        'statefulset/qdrant',
        'rollout 3/3 updated, 3/3 ready: the StatefulSet controller has not observed generation 5 (status.observedGeneration 4)',
        'Check that kube-controller-manager runs and look for errors in kubectl get events.',
      ),
    },
  },
  {
    name: 'under a partition (staged rollout) is done when the pods at and above it are updated; those below stay',
    snapshot: snap([pod(0, { revision: OLD }), pod(1, { revision: OLD }), pod(2)], { partition: 2 }),
    expected: { done: true, progressLine: 'rollout 1/1 updated (partition 2), 3/3 ready: complete on revision 5d8f7c9b6' },
  },
  {
    name: 'with the partition at replicas nothing is to update: done once every pod is ready',
    snapshot: snap([pod(0, { revision: OLD }), pod(1, { revision: OLD }), pod(2, { revision: OLD })], { partition: 3 }),
    expected: { done: true, progressLine: 'rollout 0/0 updated (partition 3), 3/3 ready: complete on revision 5d8f7c9b6' },
  },
];

describe('policy/rollout: waiting for the StatefulSet rollout (docs/how-it-works.md#the-timeline-of-one-helm-upgrade, post-upgrade)', () => {
  for (const row of rows) {
    it(row.name, () => expect(assessRollout(row.snapshot, row.opts)).to.deep.equal(row.expected));
  }
});

describe('policy/rollout: helpers', () => {
  const reasons: [string, string, string][] = [
    ['the startup check JSON summary', REFUSAL, REFUSAL_REASON],
    ['plain text, whitespace folded', '  refused:\n  state missing  ', 'refused: state missing'],
    ['broken JSON, shown as text', '{"reason": ', '{"reason":'],
    ['JSON without a reason, shown as text', '{"verdict":"error"}', '{"verdict":"error"}'],
  ];
  for (const [name, input, expected] of reasons) {
    it(`reads the termination message: ${name}`, () => expect(terminationReason(input)).to.equal(expected));
  }
  it('shortens a revision by the StatefulSet name only', () => {
    expect([shortRevision('qdrant-5d8f7c9b6', 'qdrant'), shortRevision('other-5d8f', 'qdrant')]).to.deep.equal(['5d8f7c9b6', 'other-5d8f']);
  });
});
