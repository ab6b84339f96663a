/**
 * post-upgrade and verify against the Kubernetes API double and the Qdrant emulator (test doubles, real
 * HTTP). The StatefulSet controller is played by the double's rollOut, which restarts emulated peers.
 * Failure catalogue: 6 new peer id, 7 metadata-replacement loop, 8 rollout stuck on /readyz 503,
 * 9 versions not converged by the deadline, 11 single-peer 1.13.x stale self-metadata (passes).
 */
import { expect } from 'chai';
import { runPreUpgrade } from '../../hook/commands/pre-upgrade.js';
import { runPostUpgrade } from '../../hook/commands/post-upgrade.js';
import { runVerify } from '../../hook/commands/verify.js';
import { parseRecord } from '../../hook/policy/record.js';
import { postUpgradeOptions, preUpgradeOptions, startScenario, type Scenario } from '../support/guard-scenario.js';
import type { Report } from '../../hook/report.js';

const pre = preUpgradeOptions;
const post = postUpgradeOptions;
const failed = (r: Report) => r.checks.filter((c) => c.status === 'fail');
const ids = (r: Report) => failed(r).map((c) => c.id);

describe('post-upgrade and verify (API double + Qdrant emulator)', function () {
  this.timeout(90_000);
  let s: Scenario;
  afterEach(async () => s && (await s.close()));

  async function upgradeTo135(opts: Parameters<Scenario['rollOutAll']>[0] = {}) {
    expect((await runPreUpgrade(pre(), s.deps)).verdict).to.equal('pass');
    s.applyUpgrade('1.13.5');
    await s.rollOutAll(opts);
  }

  it('reports convergence after a healthy 3-peer upgrade, records the verdict, and verify agrees', async () => {
    s = await startScenario({ peers: 3 });
    expect((await runPreUpgrade(pre(), s.deps)).verdict).to.equal('pass');
    s.applyUpgrade('1.13.5');
    // The controller rolls while the hook waits, as after `helm upgrade` without --wait.
    const [report] = await Promise.all([runPostUpgrade(post(), s.deps), s.rollOutAll()]);
    expect(failed(report), JSON.stringify(failed(report), null, 1)).to.deep.equal([]);
    expect(report.verdict).to.equal('pass');
    expect(report.checks.filter((c) => c.id === 'peer.identity' && c.status === 'pass')).to.have.length(3);
    const record = parseRecord(s.kube.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json']);
    expect(record.verdicts.postUpgrade).to.equal('pass');
    expect(s.kube.double.list('events').map((e) => e['reason'])).to.include('UpgradeVerified');
    expect(s.progress.some((l) => /rollout/.test(l))).to.equal(true);
    const verify = await runVerify({ release: 'qdrant', statefulset: 'qdrant' }, s.deps);
    expect(verify.verdict).to.equal('pass');
  });

  it('6. fails when a peer comes back under a new id (duplicate peer, same URI) and names the archive to restore', async () => {
    s = await startScenario({ peers: 3 });
    await upgradeTo135({ fault: (o) => (o === 1 ? 'new-peer-id' : undefined) });
    const report = await runPostUpgrade(post({ timeoutSeconds: 15 }), s.deps);
    expect(report.verdict).to.equal('fail');
    const identity = failed(report).find((c) => c.id === 'peer.identity')!;
    expect(identity.subject).to.contain('qdrant-1');
    expect(identity.observed).to.contain(s.qdrant.peers[1]!.peerId);
    const record = parseRecord(s.kube.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json']);
    expect(identity.observed + identity.expected).to.contain(record.peers['1']!.peerId!);
    expect(identity.remedy).to.contain(record.peers['1']!.archive!);
  });

  it('7. fails fast with the #6229 diagnosis when a peer loops on "Replaced metadata of peer", long before the deadline', async () => {
    s = await startScenario({ peers: 3 });
    await upgradeTo135({ deleteState: (o) => o === 0 });
    const started = Date.now();
    const report = await runPostUpgrade(post({ timeoutSeconds: 60 }), s.deps);
    const elapsed = Date.now() - started;
    expect(report.verdict).to.equal('fail');
    expect(elapsed).to.be.below(20_000);
    // Whichever shows first, the log (identity lost, loop) or GET /cluster (a new peer id), the diagnosis is #6229.
    const f = failed(report).filter((c) => ['peer.log-loop', 'peer.identity-lost', 'peer.identity'].includes(c.id));
    expect(f.length).to.be.greaterThan(0);
    for (const c of f) {
      expect(c.subject).to.contain('qdrant-0');
      expect(c.observed).to.contain('6229');
      expect(c.remedy).to.match(/restore .*raft-qdrant-0-1\.13\.4-to-1\.13\.5-/);
    }
  });

  it('8. explains a rollout stuck on /readyz 503 at the deadline instead of timing out silently', async () => {
    s = await startScenario({ peers: 3 });
    expect((await runPreUpgrade(pre(), s.deps)).verdict).to.equal('pass');
    s.applyUpgrade('1.13.5');
    await s.kube.double.rollOut('qdrant', {
      ordinals: [2],
      onRestart: async () => s.qdrant.restartPeer(2, { version: '1.13.5', fault: 'not-ready' }),
      ready: () => false,
    });
    const report = await runPostUpgrade(post({ timeoutSeconds: 3 }), s.deps);
    expect(report.verdict).to.equal('fail');
    const stuck = failed(report).find((c) => c.id === 'rollout.complete')!;
    expect(stuck, JSON.stringify(failed(report), null, 1)).to.not.equal(undefined);
    expect(stuck.subject).to.contain('qdrant-2');
    expect(stuck.observed).to.match(/readyz|503|some shards are not ready/);
  });

  it('9. reports versions that did not converge by the deadline, naming each pod and what it runs', async () => {
    s = await startScenario({ peers: 3 });
    expect((await runPreUpgrade(pre(), s.deps)).verdict).to.equal('pass');
    s.applyUpgrade('1.13.5');
    // The pods say 1.13.5 in their spec, but qdrant-1 still runs 1.13.4 (a stale image behind the tag).
    await s.kube.double.rollOut('qdrant', {
      ordinals: [2, 1, 0],
      onRestart: async (o) => s.qdrant.restartPeer(o, { version: o === 1 ? '1.13.4' : '1.13.5' }),
    });
    const report = await runPostUpgrade(post({ timeoutSeconds: 3 }), s.deps);
    expect(report.verdict).to.equal('fail');
    const v = failed(report).filter((c) => c.id === 'peer.version');
    expect(v).to.have.length(1);
    expect(v[0]!.subject).to.contain('qdrant-1');
    expect(v[0]!.observed).to.contain('1.13.4');
  });

  it('11. passes a single-peer 1.13.4 -> 1.13.5 upgrade, whose stale self-metadata is expected there', async () => {
    s = await startScenario({ peers: 1 });
    await upgradeTo135();
    const report = await runPostUpgrade(post(), s.deps);
    expect(failed(report), JSON.stringify(failed(report))).to.deep.equal([]);
    expect(report.verdict).to.equal('pass');
  });

  it('--on-failure report keeps the verdict fail but says loudly that the upgrade is not verified', async () => {
    s = await startScenario({ peers: 3 });
    await upgradeTo135({ fault: (o) => (o === 2 ? 'new-peer-id' : undefined) });
    const report = await runPostUpgrade(post({ timeoutSeconds: 10, onFailure: 'report' }), s.deps);
    expect(report.verdict).to.equal('fail');
    expect(report.summary).to.match(/^WARNING: .*NOT verified/);
  });

  it('verify fails on demand when a peer lost its identity, and passes when there is no record yet (identity skipped)', async () => {
    s = await startScenario({ peers: 3 });
    const fresh = await runVerify({ release: 'qdrant', statefulset: 'qdrant' }, s.deps);
    expect(fresh.verdict).to.equal('pass');
    expect(fresh.checks.find((c) => c.id === 'peer.identity')!.status).to.equal('skip');
    await upgradeTo135({ fault: (o) => (o === 0 ? 'new-peer-id' : undefined) });
    const broken = await runVerify({ release: 'qdrant', statefulset: 'qdrant' }, s.deps);
    expect(broken.verdict).to.equal('fail');
    expect(ids(broken)).to.include('peer.identity');
  });
});
