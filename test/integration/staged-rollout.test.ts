/**
 * The staged rollout against the Kubernetes API double, whose StatefulSet controller reacts to
 * partition patches (rollingController), and the Qdrant emulator (test doubles, real HTTP).
 */
import { expect } from 'chai';
import { runPreUpgrade } from '../../hook/commands/pre-upgrade.js';
import { runPostUpgrade, type PostUpgradeOptions } from '../../hook/commands/post-upgrade.js';
import { parseRecord } from '../../hook/policy/record.js';
import { postUpgradeOptions, preUpgradeOptions, startScenario, type Scenario } from '../support/guard-scenario.js';

const pre = preUpgradeOptions();
const post = (over: Partial<PostUpgradeOptions> = {}) => postUpgradeOptions({ timeoutSeconds: 60, staged: true, perPeerSeconds: 20, ...over });

interface PodView {
  uid: string;
  image: string;
}
function pods(s: Scenario): Record<string, PodView> {
  return Object.fromEntries(
    s.kube.double.list('pods').filter((p) => /^qdrant-\d$/.test(p['metadata'].name)).map((p) => [
      p['metadata'].name,
      { uid: p['metadata'].uid, image: p['spec'].containers[0].image },
    ]),
  );
}
const record = (s: Scenario) => parseRecord(s.kube.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json']);

describe('staged rollout (API double + Qdrant emulator)', function () {
  this.timeout(90_000);
  let s: Scenario;
  afterEach(async () => s && (await s.close()));

  /** helm upgrade with staging: the new template at partition = replicas, so nothing restarts by itself. */
  async function stagedUpgrade(fault: (ordinal: number) => 'metadata-loop' | undefined = () => undefined) {
    expect((await runPreUpgrade(pre, s.deps)).verdict).to.equal('pass');
    s.kube.double.mutate('statefulsets', 'qdrant', (o) => {
      o['spec'].updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 3 } };
    });
    s.applyUpgrade('1.13.5');
    const order: number[] = [];
    s.kube.double.onPartitionChange = s.kube.double.rollingController({
      onRestart: async (ordinal) => {
        order.push(ordinal);
        const f = fault(ordinal);
        await s.qdrant.restartPeer(ordinal, { version: '1.13.5', ...(f ? { fault: f } : {}) });
      },
    });
    return order;
  }

  it('updates a healthy 3-peer cluster one peer at a time, highest ordinal first, verifying each before the next', async () => {
    s = await startScenario({ peers: 3 });
    const order = await stagedUpgrade();
    const report = await runPostUpgrade(post(), s.deps);
    expect(report.checks.filter((c) => c.status === 'fail'), JSON.stringify(report.checks.filter((c) => c.status === 'fail'))).to.deep.equal([]);
    expect(report.verdict).to.equal('pass');
    expect(order).to.deep.equal([2, 1, 0]);
    expect(Object.values(pods(s)).map((p) => p.image)).to.deep.equal(Array(3).fill('qdrant/qdrant:v1.13.5'));
    expect(record(s).stagedRollout).to.deep.equal({ step: 0, status: 'done' });
    // The partition is given back once every peer is verified: Helm 4's next apply owns it alone.
    expect(s.kube.double.partitionOwner('qdrant')).to.equal(undefined);
    // One progress line per step at least: partition moves and verifications are visible.
    for (const o of [2, 1, 0]) expect(s.progress.some((l) => l.includes(`verifying qdrant-${o}`))).to.equal(true, `progress for qdrant-${o}`);
    const patches = s.kube.double.requestsTo('PATCH', /statefulsets\/qdrant$/).length;
    expect(patches).to.equal(4); // partition 2, 1, 0, then released
  });

  it('stops after ordinal 2 comes back looping: ordinals 0 and 1 never restart, and --resume completes after a fix', async () => {
    s = await startScenario({ peers: 3 });
    let broken = true;
    const order = await stagedUpgrade((o) => (o === 2 && broken ? 'metadata-loop' : undefined));
    const before = pods(s);
    const started = Date.now();
    const report = await runPostUpgrade(post(), s.deps);
    expect(report.verdict).to.equal('fail');
    expect(Date.now() - started).to.be.below(20_000);
    expect(order).to.deep.equal([2]);
    const after = pods(s);
    for (const name of ['qdrant-0', 'qdrant-1']) {
      expect(after[name]).to.deep.equal(before[name], `${name} untouched`);
      expect(after[name]!.image).to.equal('qdrant/qdrant:v1.13.4');
    }
    const staged = report.checks.find((c) => c.id === 'rollout.staged')!;
    expect(staged.status).to.equal('fail');
    expect(staged.observed).to.match(/stopped at qdrant-2/);
    expect(staged.observed).to.match(/qdrant-0, qdrant-1 still on the old version/);
    expect(staged.remedy).to.contain('--resume');
    expect(staged.remedy).to.match(/raft-qdrant-2-1\.13\.4-to-1\.13\.5-/);
    expect(report.checks.some((c) => c.status === 'fail' && c.subject.includes('qdrant-2') && /6229/.test(c.observed))).to.equal(true);
    expect(s.kube.double.partitionOwner('qdrant')).to.equal('qdrant-upgrade-guard'); // kept while stopped
    const stopped = record(s).stagedRollout!;
    expect(stopped.status).to.equal('stopped');
    expect(stopped.failedOrdinal).to.equal(2);

    // A retried hook without --resume does not roll anything further.
    const again = await runPostUpgrade(post({ timeoutSeconds: 5 }), s.deps);
    expect(again.verdict).to.equal('fail');
    expect(order).to.deep.equal([2]);

    // The fix: restore qdrant-2's archived state (here: its emulated peer restarts healthy on its old state).
    broken = false;
    const archive = record(s).peers['2']!.archive!;
    const { runRestore } = await import('../../hook/commands/restore.js');
    await s.qdrant.peers[2]!.stop();
    const restored = await runRestore({ archive: `${s.qdrant.peers[2]!.storageDir}/.upgrade-guard/${archive}`, storage: s.qdrant.peers[2]!.storageDir, allowPeerChange: true });
    expect(restored.verdict).to.equal('pass');
    // Scaled back up: a new qdrant-2 pod (new uid, new log) on the new revision, starting from the restored state.
    await s.kube.double.rollOut('qdrant', { ordinals: [2], onRestart: () => s.restartPeer(2, { version: '1.13.5' }) });

    const resumed = await runPostUpgrade(post({ resume: true }), s.deps);
    expect(resumed.checks.filter((c) => c.status === 'fail'), JSON.stringify(resumed.checks.filter((c) => c.status === 'fail'))).to.deep.equal([]);
    expect(resumed.verdict).to.equal('pass');
    expect(order).to.deep.equal([2, 1, 0]);
    expect(record(s).stagedRollout).to.deep.equal({ step: 0, status: 'done' });
  });
});
