/**
 * Errors the commands used to drop without a word: a staged rollout that met a record it cannot read (written by a
 * newer schema, or edited by hand) and a post-upgrade whose identity look failed after the log had already decided.
 * Each now shows: the first as an error that leaves the record as it is, the second as a check saying why.
 */
import { expect } from 'chai';
import { runPreUpgrade } from '../../hook/commands/pre-upgrade.js';
import { runPostUpgrade } from '../../hook/commands/post-upgrade.js';
import { GuardError } from '../../hook/errors.js';
import { postUpgradeOptions, preUpgradeOptions, startScenario, type Scenario } from '../support/guard-scenario.js';

describe('errors that used to be dropped', function () {
  this.timeout(90_000);
  let s: Scenario;
  afterEach(async () => s && (await s.close()));

  it('a staged rollout does not overwrite a record it cannot read: it stops, names it, and leaves it as it is', async () => {
    s = await startScenario({ peers: 3 });
    expect((await runPreUpgrade(preUpgradeOptions(), s.deps)).verdict).to.equal('pass');
    s.kube.double.mutate('statefulsets', 'qdrant', (o) => {
      o['spec'].updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 3 } };
    });
    s.applyUpgrade('1.13.5');
    // A newer guard rewrites the record while this run is under way.
    const newer = JSON.stringify({ schemaVersion: 99, note: 'written by a newer guard' });
    s.kube.double.onPartitionChange = s.kube.double.rollingController({
      onRestart: async (ordinal) => {
        s.kube.double.mutate('configmaps', 'qdrant-upgrade-guard', (cm) => {
          cm['data']['record.json'] = newer;
        });
        await s.qdrant.restartPeer(ordinal, { version: '1.13.5' });
      },
    });
    let err: unknown;
    await runPostUpgrade(postUpgradeOptions({ timeoutSeconds: 60, staged: true, perPeerSeconds: 20 }), s.deps).catch((e: unknown) => (err = e));
    // By name: the command loads staged.ts on demand, so its error class may come from another module instance.
    expect((err as Error).name).to.equal('GuardError');
    expect((err as GuardError).kind).to.equal('infrastructure');
    expect((err as GuardError).message).to.match(/^cannot save the staged rollout's progress, the record was left as it is: the upgrade record \(record\.json\) is invalid: /);
    expect((err as GuardError).remedy).to.contain('docs/runbooks.md#staged-rollout-stopped');
    expect(s.kube.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json']).to.equal(newer);
  });

  it('post-upgrade names the identity check it could not make when the look after a log failure throws', async () => {
    s = await startScenario({ peers: 3 });
    expect((await runPreUpgrade(preUpgradeOptions(), s.deps)).verdict).to.equal('pass');
    s.applyUpgrade('1.13.5');
    // qdrant-2 comes back without its state on a used volume: its log says so at once.
    await s.rollOutAll({ deleteState: (o) => o === 2 });
    // The emulator writes that line just after the restart: wait for it, so post-upgrade's first poll sees the log
    // failure (otherwise the rollout reads as done first and the convergence look meets the failing API instead).
    for (let i = 0; i < 100; i++) {
      const log = await s.deps.kube.podLogs('qdrant-2', { container: 'qdrant' }).catch(() => '');
      if (log.includes('Initializing new raft state')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // ... and every Qdrant API answer fails from here on, so the identity look throws.
    const real = s.deps.qdrant;
    s.deps.qdrant = new Proxy(real, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function' || prop === 'reach') return v;
        return () => Promise.reject(new Error('injected: the Qdrant API is gone'));
      },
    });
    const report = await runPostUpgrade(postUpgradeOptions({ timeoutSeconds: 20 }), s.deps);
    expect(report.verdict).to.equal('fail');
    const identity = report.checks.find((c) => c.id === 'peer.identity');
    expect(identity, JSON.stringify(report.checks.map((c) => [c.id, c.status]))).to.not.equal(undefined);
    expect(identity!.status).to.equal('skip');
    expect(identity!.observed).to.match(/^the peer ids could not be read after the log failure: /);
    expect(identity!.remedy).to.contain('docs/runbooks.md#post-upgrade-failed');
  });
});
