/**
 * pre-upgrade against the Kubernetes API double and the Qdrant emulator (both test doubles, real HTTP),
 * with worker pods running the real `volume` command on the emulated peers' storage folders.
 * Failure catalogue: 1 state file deleted, 2 corrupt state, 3 skipped minor, 4 downgrade,
 * 5 degraded cluster, 10 scale-up with fresh volumes, 12 Qdrant unreachable, 13 RBAC missing a permission.
 */
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runPreUpgrade, type PreUpgradeOptions } from '../../hook/commands/pre-upgrade.js';
import { parseRecord } from '../../hook/policy/record.js';
import { GuardError } from '../../hook/errors.js';
import { preUpgradeOptions, startScenario, type Scenario } from '../support/guard-scenario.js';
import type { Report } from '../../hook/report.js';

const base = (over: Partial<PreUpgradeOptions> = {}) => preUpgradeOptions({ revision: 2, ...over });

const failed = (r: Report) => r.checks.filter((c) => c.status === 'fail');
const events = (s: Scenario) => s.kube.double.list('events').map((e) => ({ reason: e['reason'], type: e['type'], message: e['message'] }));
const stsGeneration = (s: Scenario) => s.kube.double.get('statefulsets', 'qdrant')!['metadata'].generation;

describe('pre-upgrade (API double + Qdrant emulator)', function () {
  this.timeout(60_000);
  let s: Scenario;
  afterEach(async () => s && (await s.close()));

  it('passes a healthy 3-peer 1.13.4 cluster going to 1.13.5, archives every volume and records each peer id', async () => {
    s = await startScenario({ peers: 3 });
    const generation = stsGeneration(s);
    const report = await runPreUpgrade(base(), s.deps);
    expect(failed(report), JSON.stringify(failed(report))).to.deep.equal([]);
    expect(report.verdict).to.equal('pass');
    expect(s.workers).to.have.length(3);
    const record = parseRecord(s.kube.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json']);
    expect(record.fromVersion).to.equal('1.13.4');
    expect(record.toVersion).to.equal('1.13.5');
    for (const [i, peer] of s.qdrant.peers.entries()) {
      expect(record.peers[String(i)]!.peerId).to.equal(peer.peerId);
      expect(record.peers[String(i)]!.classification).to.equal('initialized');
      expect(record.peers[String(i)]!.archive).to.match(new RegExp(`^raft-qdrant-${i}-1\\.13\\.4-to-1\\.13\\.5-`));
      const archives = await fs.readdir(path.join(peer.storageDir, '.upgrade-guard'));
      expect(archives.filter((f) => f.endsWith('.tar.gz'))).to.have.length(1);
    }
    expect(events(s)).to.deep.include.members([{ reason: 'UpgradeGuardPassed', type: 'Normal', message: report.summary }]);
    expect(stsGeneration(s)).to.equal(generation);
  });

  it('keeps peer ids above 2^53 exact from the volume to the record (never through a JS number)', async () => {
    s = await startScenario({ peers: 1, peerIds: ['11532566549086892528'] });
    const report = await runPreUpgrade(base(), s.deps);
    expect(report.verdict).to.equal('pass');
    const text = s.kube.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json'] as string;
    expect(text).to.contain('"11532566549086892528"');
    expect(parseRecord(text).peers['0']!.peerId).to.equal('11532566549086892528');
  });

  it('takes a CSI VolumeSnapshot of every storage PVC when a class is set, and records each snapshot name', async () => {
    s = await startScenario({ peers: 3 });
    const report = await runPreUpgrade(base({ volumeSnapshotClass: 'csi-snapshots' }), s.deps);
    expect(report.verdict).to.equal('pass');
    const snaps = report.checks.filter((c) => c.id === 'volume.snapshot');
    expect(snaps.map((c) => c.status)).to.deep.equal(['pass', 'pass', 'pass']);
    const stored = s.kube.double.list('volumesnapshots');
    expect(stored.map((v) => v['spec'].source.persistentVolumeClaimName).sort()).to.deep.equal([0, 1, 2].map((i) => `qdrant-storage-qdrant-${i}`));
    expect(stored.every((v) => v['spec'].volumeSnapshotClassName === 'csi-snapshots')).to.equal(true);
    const record = parseRecord(s.kube.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json']);
    for (const i of [0, 1, 2]) expect(record.peers[String(i)]!.volumeSnapshot).to.match(new RegExp(`^qdrant-storage-qdrant-${i}-pre-upgrade-`));
  });

  it('refuses when a VolumeSnapshot fails, naming the class and the snapshot to describe', async () => {
    s = await startScenario({ peers: 1 });
    s.kube.double.onVolumeSnapshotCreated = () => ({ error: 'the CSI driver has no snapshot support' });
    const report = await runPreUpgrade(base({ volumeSnapshotClass: 'csi-snapshots' }), s.deps);
    expect(report.verdict).to.equal('refuse');
    const f = failed(report).find((c) => c.id === 'volume.snapshot')!;
    expect(f.observed).to.contain('the CSI driver has no snapshot support');
    expect(f.remedy).to.contain('csi-snapshots');
  });

  it('1. refuses when raft_state.json was deleted on one used volume, before anything changes, and says which archive to restore', async () => {
    s = await startScenario({ peers: 3 });
    // A first guarded run leaves an archive on every volume, as the previous upgrade would have.
    expect((await runPreUpgrade(base({ targetVersion: '1.13.4' }), s.deps)).verdict).to.equal('pass');
    const generation = stsGeneration(s);
    await fs.rm(path.join(s.qdrant.peers[1]!.storageDir, 'raft_state.json'));
    const report = await runPreUpgrade(base(), s.deps);
    expect(report.verdict).to.equal('refuse');
    const [f] = failed(report).filter((c) => c.id === 'volume.state');
    expect(f!.subject).to.equal('pvc/qdrant-storage-qdrant-1 (qdrant-1)');
    expect(f!.observed).to.match(/missing-state/);
    // Said once: the facts in observed, the archive to restore in the remedy, a one-line summary.
    expect(f!.observed).not.to.contain('restore');
    expect(f!.remedy).to.match(/raft-qdrant-1-1\.13\.4-to-1\.13\.4-/);
    expect(f!.remedy).to.contain('docs/runbooks.md#restore-an-archive');
    expect(report.summary).to.not.contain('\n');
    expect(report.summary).to.not.contain(f!.observed);
    expect(stsGeneration(s)).to.equal(generation);
    const refused = events(s).find((e) => e.reason === 'UpgradeRefused');
    expect(refused?.type).to.equal('Warning');
    expect(refused?.message).to.match(/qdrant-storage-qdrant-1/);
    // The Event says it once: which check failed where and the runbook; the facts and steps stay in the report.
    expect(refused?.message).to.equal(report.summary);
    expect(refused?.message).to.contain('docs/runbooks.md#lost-or-corrupt-raft-state');
    expect(refused?.message).not.to.contain('qdrant-upgrade-guard restore');
  });

  it('2. refuses a corrupt raft_state.json and names the key that is wrong', async () => {
    s = await startScenario({ peers: 3 });
    const file = path.join(s.qdrant.peers[2]!.storageDir, 'raft_state.json');
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.replace(/"term":\s*(\d+)/, '"term":"$1"'));
    const report = await runPreUpgrade(base(), s.deps);
    expect(report.verdict).to.equal('refuse');
    const f = failed(report).find((c) => c.id === 'volume.state')!;
    expect(f.subject).to.contain('qdrant-2');
    expect(f.observed).to.match(/corrupt-state/);
    expect(f.observed).to.match(/term/);
  });

  it('3. refuses a skipped minor (1.13 -> 1.15) with the path to take, and lets the override pass it with a warning', async () => {
    s = await startScenario({ peers: 1 });
    const report = await runPreUpgrade(base({ targetVersion: '1.15.0' }), s.deps);
    expect(report.verdict).to.equal('refuse');
    const v = failed(report).find((c) => c.id === 'version.policy')!;
    expect(v.remedy).to.contain('1.13.4 -> 1.14.x -> 1.15.0');
    // The volume itself is sound: only the version is refused, so nobody goes restoring a good state.
    expect(failed(report).map((c) => c.id)).to.deep.equal(['version.policy']);
    expect(report.checks.find((c) => c.id === 'volume.state')!.observed).to.match(/initialized.*version change was refused/);
    const allowed = await runPreUpgrade(base({ targetVersion: '1.15.0', allowVersionSkip: true }), s.deps);
    expect(allowed.verdict).to.equal('pass');
    expect(allowed.checks.find((c) => c.id === 'version.policy')!.status).to.equal('warn');
  });

  it('4. refuses a downgrade (1.13.4 -> 1.12.6)', async () => {
    s = await startScenario({ peers: 1 });
    const report = await runPreUpgrade(base({ targetVersion: '1.12.6' }), s.deps);
    expect(report.verdict).to.equal('refuse');
    expect(failed(report).find((c) => c.id === 'version.policy')!.observed).to.match(/downgrade/);
  });

  it('5. refuses a degraded cluster (a lagging peer with pending operations) unless allowDegraded', async () => {
    s = await startScenario({ peers: 3 });
    await s.qdrant.peers[2]!.setMode('lagging');
    const report = await runPreUpgrade(base(), s.deps);
    expect(report.verdict).to.equal('refuse');
    expect(failed(report).map((c) => c.id)).to.include('cluster.pending');
    const allowed = await runPreUpgrade(base({ allowDegraded: true }), s.deps);
    expect(failed(allowed)).to.deep.equal([]);
    expect(allowed.checks.some((c) => c.id === 'cluster.pending' && c.status === 'warn')).to.equal(true);
  });

  it('10. passes a scale-up in the same upgrade: the new replica has no PVC yet, the existing volumes are archived', async () => {
    s = await startScenario({ peers: 3, replicas: 4 });
    // The double seeds 4 pods; the 4th has no emulated peer and no PVC yet: it is what a scale-up looks like
    // before the controller creates it. Remove its pod and claim.
    s.kube.double.remove('pods', 'qdrant-3');
    s.kube.double.remove('persistentvolumeclaims', 'qdrant-storage-qdrant-3');
    s.kube.double.mutate('statefulsets', 'qdrant', (o) => (o['spec'].replicas = 3));
    const report = await runPreUpgrade(base(), s.deps);
    expect(failed(report)).to.deep.equal([]);
    expect(s.workers).to.have.length(3);
  });

  it('10b. a fresh volume (scaled up earlier, never started) passes as fresh', async () => {
    s = await startScenario({ peers: 3, replicas: 4 });
    s.kube.double.remove('pods', 'qdrant-3');
    s.kube.double.mutate('statefulsets', 'qdrant', (o) => (o['spec'].replicas = 3));
    await fs.mkdir(`${s.qdrant.rootDir}/fresh-3`, { recursive: true });
    const report = await runPreUpgrade(base(), s.deps);
    const vol = report.checks.find((c) => c.subject.includes('qdrant-storage-qdrant-3'))!;
    expect(vol.status).to.equal('pass');
    expect(vol.observed).to.match(/fresh/);
    expect(report.verdict).to.equal('pass');
  });

  it('12. refuses when Qdrant is unreachable, naming the pods, and falls back to the image tag for the version', async () => {
    s = await startScenario({ peers: 3 });
    await s.qdrant.peers[0]!.stop();
    const report = await runPreUpgrade(base(), s.deps);
    expect(report.verdict).to.equal('refuse');
    const reach = failed(report).find((c) => c.id === 'cluster.reachable')!;
    expect(reach.observed).to.match(/2 of 3/);
    expect(reach.observed + reach.subject).to.contain('qdrant-0');
    expect(report.checks.some((c) => c.id === 'peer.version' && c.status === 'warn' && c.subject === 'pod/qdrant-0')).to.equal(true);
  });

  it('13. stops with an infrastructure error that names the missing permission when RBAC denies creating pods', async () => {
    s = await startScenario({
      peers: 1,
      rbac: [
        { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
        { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'update'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create'] },
      ],
    });
    let error: unknown;
    try {
      await runPreUpgrade(base(), s.deps);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(GuardError);
    expect((error as GuardError).kind).to.equal('infrastructure');
    expect((error as GuardError).message).to.match(/cannot create pods/);
  });
});
