import { expect } from 'chai';
import {
  describeStagedStep,
  nextStagedStep,
  stagedStateAfter,
  type StagedDecision,
  type StagedInput,
  type StagedPod,
} from '../../../hook/policy/staged-rollout.js';
import type { StagedRolloutState } from '../../../hook/policy/record.js';

const OLD = 'qdrant-old';
const NEW = 'qdrant-new';
const pod = (ordinal: number, revision = OLD, ready = true, uid = `uid-${ordinal}-${revision}`): StagedPod => ({ ordinal, revision, ready, uid });
const input = (over: Partial<StagedInput>): StagedInput => ({
  replicas: 3,
  partition: 3,
  updateRevision: NEW,
  pods: [pod(0), pod(1), pod(2)],
  perPeerVerdicts: {},
  ...over,
});
const pass = (ordinal: number, revision = NEW) => ({ status: 'pass' as const, uid: `uid-${ordinal}-${revision}` });

interface Row {
  name: string;
  input: StagedInput;
  expected: StagedDecision;
  state: StagedRolloutState;
}

const rows: Row[] = [
  {
    name: 'starts at the highest ordinal: lowers the partition from replicas to 2',
    input: input({}),
    expected: { action: 'lower-partition', to: 2 },
    state: { step: 3, status: 'in-progress' },
  },
  {
    name: 'waits while the controller has not replaced the pod yet',
    input: input({ partition: 2 }),
    expected: { action: 'wait-pod', ordinal: 2, reason: 'ordinal 2 runs revision qdrant-old, waiting for qdrant-new' },
    state: { step: 3, status: 'in-progress' },
  },
  {
    name: 'waits while the replaced pod is not ready',
    input: input({ partition: 2, pods: [pod(0), pod(1), pod(2, NEW, false)] }),
    expected: { action: 'wait-pod', ordinal: 2, reason: 'ordinal 2 runs revision qdrant-new but is not ready yet' },
    state: { step: 3, status: 'in-progress' },
  },
  {
    name: 'waits while the pod does not exist (deleted, being recreated)',
    input: input({ partition: 2, pods: [pod(0), pod(1)] }),
    expected: { action: 'wait-pod', ordinal: 2, reason: 'ordinal 2 has no pod yet' },
    state: { step: 3, status: 'in-progress' },
  },
  {
    name: 'verifies the peer once its pod runs the new revision and is ready',
    input: input({ partition: 2, pods: [pod(0), pod(1), pod(2, NEW)] }),
    expected: { action: 'verify-peer', ordinal: 2 },
    state: { step: 3, status: 'in-progress' },
  },
  {
    name: 'goes on to the next ordinal only after the peer passed',
    input: input({ partition: 2, pods: [pod(0), pod(1), pod(2, NEW)], perPeerVerdicts: { '2': pass(2) } }),
    expected: { action: 'lower-partition', to: 1 },
    state: { step: 2, status: 'in-progress' },
  },
  {
    name: 'is done when every peer is updated and verified',
    input: input({ partition: 0, pods: [pod(0, NEW), pod(1, NEW), pod(2, NEW)], perPeerVerdicts: { '0': pass(0), '1': pass(1), '2': pass(2) } }),
    expected: { action: 'done' },
    state: { step: 0, status: 'done' },
  },
  {
    name: 'stops at the first failing peer, the lower ordinals still on the old version',
    input: input({
      partition: 1,
      pods: [pod(0), pod(1, NEW), pod(2, NEW)],
      perPeerVerdicts: { '2': pass(2), '1': { status: 'fail', uid: 'uid-1-qdrant-new', reason: 'peer.identity: qdrant-1 came back as peer 123 instead of 456' } },
    }),
    expected: { action: 'stopped', ordinal: 1, reason: 'peer.identity: qdrant-1 came back as peer 123 instead of 456' },
    state: { step: 2, status: 'stopped', failedOrdinal: 1, reason: 'peer.identity: qdrant-1 came back as peer 123 instead of 456' },
  },
  {
    name: 'stays stopped on a retry while the record says stopped and no resume was asked',
    input: input({
      partition: 1,
      pods: [pod(0), pod(1, NEW), pod(2, NEW)],
      record: { step: 2, status: 'stopped', failedOrdinal: 1, reason: 'peer.identity failed' },
    }),
    expected: { action: 'stopped', ordinal: 1, reason: 'peer.identity failed' },
    state: { step: 2, status: 'stopped', failedOrdinal: 1, reason: 'peer.identity failed' },
  },
  {
    name: 'on resume verifies the stopped peer again instead of rolling anything',
    input: input({
      partition: 1,
      pods: [pod(0), pod(1, NEW), pod(2, NEW)],
      record: { step: 2, status: 'stopped', failedOrdinal: 1, reason: 'peer.identity failed' },
      perPeerVerdicts: { '1': { status: 'fail', uid: 'uid-1-qdrant-new', reason: 'peer.identity failed' } },
      resume: true,
    }),
    expected: { action: 'verify-peer', ordinal: 1 },
    state: { step: 2, status: 'in-progress' },
  },
  {
    name: 'a retried hook continues from the record and never re-verifies or re-rolls a verified peer',
    input: input({ partition: 2, pods: [pod(0), pod(1), pod(2, NEW, true, 'restarted-uid')], record: { step: 2, status: 'in-progress' } }),
    expected: { action: 'lower-partition', to: 1 },
    state: { step: 2, status: 'in-progress' },
  },
  {
    name: 'rolls again a peer the record calls verified when it no longer runs the update revision (a newer upgrade)',
    input: input({ partition: 3, record: { step: 2, status: 'in-progress' } }),
    expected: { action: 'lower-partition', to: 2 },
    state: { step: 3, status: 'in-progress' },
  },
  {
    name: 're-verifies a peer whose pod restarted after it passed (another uid), without rolling it',
    input: input({ partition: 2, pods: [pod(0), pod(1), pod(2, NEW, true, 'uid-after-restart')], perPeerVerdicts: { '2': pass(2) } }),
    expected: { action: 'verify-peer', ordinal: 2 },
    state: { step: 3, status: 'in-progress' },
  },
  {
    name: 'does not stop on a failure reached on an earlier pod (another uid): the new pod is verified',
    input: input({
      partition: 2,
      pods: [pod(0), pod(1), pod(2, NEW, true, 'uid-new-pod')],
      perPeerVerdicts: { '2': { status: 'fail', uid: 'uid-old-pod', reason: 'x' } },
    }),
    expected: { action: 'verify-peer', ordinal: 2 },
    state: { step: 3, status: 'in-progress' },
  },
  {
    name: 'never raises the partition: a partition already below the ordinal is left alone',
    input: input({ partition: 0, pods: [pod(0), pod(1, NEW), pod(2, NEW)], perPeerVerdicts: { '2': pass(2) } }),
    expected: { action: 'verify-peer', ordinal: 1 },
    state: { step: 2, status: 'in-progress' },
  },
  {
    name: 'a single replica: lower the partition to 0',
    input: input({ replicas: 1, partition: 1, pods: [pod(0)] }),
    expected: { action: 'lower-partition', to: 0 },
    state: { step: 1, status: 'in-progress' },
  },
  {
    name: 'no replicas: nothing to do',
    input: input({ replicas: 0, partition: 0, pods: [] }),
    expected: { action: 'done' },
    state: { step: 0, status: 'done' },
  },
];

describe('policy/staged-rollout: one peer at a time, highest ordinal first (docs/how-it-works.md#the-timeline-of-one-helm-upgrade)', () => {
  for (const row of rows) {
    it(row.name, () => {
      const decision = nextStagedStep(row.input);
      expect({ decision, state: stagedStateAfter(row.input, decision) }).to.deep.equal({ decision: row.expected, state: row.state });
    });
  }

  /** A tiny world: applies each decision the way post-upgrade would, the controller replacing pods at once. */
  function run(start: StagedInput, verify: (ordinal: number) => 'pass' | 'fail', maxSteps = 40): { trace: string[]; world: StagedInput } {
    const world = structuredClone(start);
    const trace: string[] = [];
    for (let i = 0; i < maxSteps; i++) {
      const d = nextStagedStep(world);
      trace.push(describeStagedStep(d, 'qdrant'));
      world.record = stagedStateAfter(world, d);
      if (d.action === 'done' || d.action === 'stopped') break;
      if (d.action === 'lower-partition') world.partition = d.to;
      if (d.action === 'wait-pod') {
        const p = world.pods.find((x) => x.ordinal === d.ordinal)!;
        if (p.revision !== world.updateRevision) Object.assign(p, { revision: world.updateRevision, ready: false, uid: `uid-${p.ordinal}-new` });
        else p.ready = true;
      }
      if (d.action === 'verify-peer') {
        const p = world.pods.find((x) => x.ordinal === d.ordinal)!;
        const status = verify(d.ordinal);
        world.perPeerVerdicts[String(d.ordinal)] = { status, uid: p.uid, ...(status === 'fail' ? { reason: `qdrant-${d.ordinal} failed` } : {}) };
      }
    }
    return { trace, world };
  }

  it('walks a 3-peer cluster from partition 3 to done, one peer at a time', () => {
    expect(run(input({}), () => 'pass').trace).to.deep.equal([
      'staged rollout: partition -> 2, qdrant-2 updates next',
      'staged rollout: waiting for qdrant-2 (ordinal 2 runs revision qdrant-old, waiting for qdrant-new)',
      'staged rollout: waiting for qdrant-2 (ordinal 2 runs revision qdrant-new but is not ready yet)',
      'staged rollout: verifying qdrant-2',
      'staged rollout: partition -> 1, qdrant-1 updates next',
      'staged rollout: waiting for qdrant-1 (ordinal 1 runs revision qdrant-old, waiting for qdrant-new)',
      'staged rollout: waiting for qdrant-1 (ordinal 1 runs revision qdrant-new but is not ready yet)',
      'staged rollout: verifying qdrant-1',
      'staged rollout: partition -> 0, qdrant-0 updates next',
      'staged rollout: waiting for qdrant-0 (ordinal 0 runs revision qdrant-old, waiting for qdrant-new)',
      'staged rollout: waiting for qdrant-0 (ordinal 0 runs revision qdrant-new but is not ready yet)',
      'staged rollout: verifying qdrant-0',
      'staged rollout: every peer updated and verified',
    ]);
  });

  it('stops at a failing peer with qdrant-0 untouched, then a resumed run (new process, verdicts lost) finishes', () => {
    const first = run(input({}), (n) => (n === 1 ? 'fail' : 'pass'));
    expect(first.trace.at(-1)).to.equal('staged rollout stopped at qdrant-1: qdrant-1 failed');
    expect(first.world.pods.find((p) => p.ordinal === 0)!.revision).to.equal(OLD);
    expect(first.world.record).to.deep.equal({ step: 2, status: 'stopped', failedOrdinal: 1, reason: 'qdrant-1 failed' });

    // A retry without --resume stays stopped.
    const retried = run({ ...first.world, perPeerVerdicts: {} }, () => 'pass');
    expect(retried.trace).to.deep.equal(['staged rollout stopped at qdrant-1: qdrant-1 failed']);

    // --resume after the fix: qdrant-2 is not verified again, qdrant-1 is, then qdrant-0 rolls.
    const resumed = run({ ...first.world, perPeerVerdicts: {}, resume: true }, () => 'pass');
    expect(resumed.trace).to.deep.equal([
      'staged rollout: verifying qdrant-1',
      'staged rollout: partition -> 0, qdrant-0 updates next',
      'staged rollout: waiting for qdrant-0 (ordinal 0 runs revision qdrant-old, waiting for qdrant-new)',
      'staged rollout: waiting for qdrant-0 (ordinal 0 runs revision qdrant-new but is not ready yet)',
      'staged rollout: verifying qdrant-0',
      'staged rollout: every peer updated and verified',
    ]);
  });

  it('after a resume, a later failure still stops the rollout', () => {
    const first = run(input({}), (n) => (n === 1 ? 'fail' : 'pass'));
    const resumed = run({ ...first.world, resume: true }, (n) => (n === 0 ? 'fail' : 'pass'));
    expect(resumed.trace.at(-1)).to.equal('staged rollout stopped at qdrant-0: qdrant-0 failed');
    expect(resumed.world.record).to.deep.equal({ step: 1, status: 'stopped', failedOrdinal: 0, reason: 'qdrant-0 failed' });
  });

  it('resume without a recorded stop does not hide a failing verdict', () => {
    const i = input({
      partition: 2,
      pods: [pod(0), pod(1), pod(2, NEW)],
      perPeerVerdicts: { '2': { status: 'fail', uid: 'uid-2-qdrant-new', reason: 'peer.version failed' } },
      resume: true,
    });
    expect(nextStagedStep(i)).to.deep.equal({ action: 'stopped', ordinal: 2, reason: 'peer.version failed' });
  });
});
