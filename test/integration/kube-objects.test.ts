import { expect } from 'chai';
import { GuardError } from '../../hook/errors.js';
import { startHarness, type Harness } from '../support/kube-api-double/harness.js';

const LABELS = { 'app.kubernetes.io/instance': 'qdrant', 'app.kubernetes.io/component': 'upgrade-guard' };

describe('kube adapter: snapshots, the record, events, logs and the rollout partition', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    h.double.seedQdrantStatefulSet({ name: 'qdrant', replicas: 3 });
  });
  afterEach(() => h.close());

  describe('CSI VolumeSnapshots', () => {
    it('creates a snapshot.storage.k8s.io/v1 VolumeSnapshot of the PVC and waits until it is ready to use', async () => {
      const created = await h.api.createVolumeSnapshot({
        pvc: 'qdrant-storage-qdrant-0',
        className: 'csi-snapclass',
        name: 'qdrant-storage-qdrant-0-pre-1-13-5',
        labels: LABELS,
      });
      expect(created.name).to.equal('qdrant-storage-qdrant-0-pre-1-13-5');
      const stored = h.double.get('volumesnapshots', created.name)!;
      expect(stored['apiVersion']).to.equal('snapshot.storage.k8s.io/v1');
      expect(stored['spec']).to.deep.equal({
        volumeSnapshotClassName: 'csi-snapclass',
        source: { persistentVolumeClaimName: 'qdrant-storage-qdrant-0' },
      });
      expect(stored['metadata'].labels).to.deep.equal(LABELS);
      expect(created.uid).to.equal(stored['metadata'].uid);

      const ready = await h.api.waitVolumeSnapshotReady(created.name, h.clock.now() + 10_000);
      expect(ready).to.deep.equal({
        name: created.name,
        state: 'ready',
        message: 'readyToUse',
        boundVolumeSnapshotContentName: `snapcontent-${created.uid}`,
        restoreSize: '10Gi',
      });
    });

    it('reports the CSI driver’s error message when the snapshot fails', async () => {
      h.double.onVolumeSnapshotCreated = () => ({ error: 'Failed to check and update snapshot content: rpc error: code = Internal' });
      await h.api.createVolumeSnapshot({ pvc: 'qdrant-storage-qdrant-1', className: 'csi', name: 'snap-1' });
      const result = await h.api.waitVolumeSnapshotReady('snap-1', h.clock.now() + 10_000);
      expect(result).to.deep.equal({
        name: 'snap-1',
        state: 'failed',
        message: 'Failed to check and update snapshot content: rpc error: code = Internal',
      });
    });

    it('stops waiting at the deadline and says what it last saw, polling no faster than the interval', async () => {
      h.double.onVolumeSnapshotCreated = () => 'pending';
      await h.api.createVolumeSnapshot({ pvc: 'qdrant-storage-qdrant-1', className: 'csi', name: 'snap-2' });
      const api = h.makeApi({ pollIntervalMs: 1000 });
      const result = await api.waitVolumeSnapshotReady('snap-2', h.clock.now() + 30_000);
      expect(result).to.deep.equal({ name: 'snap-2', state: 'timeout', message: 'deadline passed with readyToUse false, no content bound yet' });
      expect(h.clock.sleeps.every((ms) => ms <= 1000)).to.equal(true);
      expect(h.double.requestsTo('GET', /volumesnapshots\/snap-2$/).length).to.be.within(30, 32);
      expect(h.progress.some((l) => l === 'waiting for VolumeSnapshot snap-2 (readyToUse false, no content bound yet)')).to.equal(true);
    });

    it('explains that the VolumeSnapshot API is missing when the CRDs are not installed', async () => {
      h.double.volumeSnapshots = false;
      const err = await h.api.createVolumeSnapshot({ pvc: 'p', className: 'c', name: 'n' }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(GuardError);
      expect((err as GuardError).message).to.equal('the VolumeSnapshot API (snapshot.storage.k8s.io/v1) is not served by this cluster');
      expect((err as GuardError).remedy).to.contain('unset upgradeGuard.volumeSnapshotClassName');
    });
  });

  describe('the record ConfigMap', () => {
    it('reads nothing before the first write, then creates, reads back and updates the record', async () => {
      expect(await h.api.readRecord('qdrant-upgrade-guard')).to.equal(undefined);
      await h.api.writeRecord('qdrant-upgrade-guard', '{"step":1}', LABELS);
      const cm = h.double.get('configmaps', 'qdrant-upgrade-guard')!;
      expect(cm['data']).to.deep.equal({ 'record.json': '{"step":1}' });
      expect(cm['metadata'].labels).to.deep.equal(LABELS);

      expect(await h.api.readRecord('qdrant-upgrade-guard')).to.equal('{"step":1}');
      await h.api.writeRecord('qdrant-upgrade-guard', '{"step":2}', LABELS);
      expect(h.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json']).to.equal('{"step":2}');
      expect(h.double.requestsTo('PUT', /configmaps\/qdrant-upgrade-guard$/)).to.have.length(1);
    });

    it('refuses to overwrite a record another writer changed since it was read', async () => {
      await h.api.writeRecord('rec', '{"v":"a"}', LABELS);
      expect(await h.api.readRecord('rec')).to.equal('{"v":"a"}');
      const other = h.makeApi();
      await other.readRecord('rec');
      await other.writeRecord('rec', '{"v":"theirs"}', LABELS);

      const err = await h.api.writeRecord('rec', '{"v":"mine"}', LABELS).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(GuardError);
      expect((err as GuardError).message).to.equal('the record ConfigMap rec was changed by another writer while this hook updated it');
      expect((err as GuardError).transient).to.equal(true);
      expect(h.double.get('configmaps', 'rec')!['data']['record.json']).to.equal('{"v":"theirs"}');
    });

    it('retries a write once when only the metadata changed under it (409 Conflict, same content)', async () => {
      await h.api.writeRecord('rec', '{"v":"a"}', LABELS);
      await h.api.readRecord('rec');
      h.double.mutate('configmaps', 'rec', (o) => (o['metadata'].annotations = { touched: 'by kubectl' }));
      await h.api.writeRecord('rec', '{"v":"b"}', LABELS);
      expect(h.double.get('configmaps', 'rec')!['data']['record.json']).to.equal('{"v":"b"}');
      expect(h.double.requestsTo('PUT', /configmaps\/rec$/).map((r) => r.status)).to.deep.equal([409, 200]);
    });

    it('refuses to create a record another writer created first', async () => {
      expect(await h.api.readRecord('rec')).to.equal(undefined);
      await h.makeApi().writeRecord('rec', '{"v":"theirs"}', LABELS);
      const err = await h.api.writeRecord('rec', '{"v":"mine"}', LABELS).catch((e: unknown) => e);
      expect((err as GuardError).message).to.contain('changed by another writer');
      expect(h.double.requestsTo('POST', /configmaps$/).map((r) => r.status)).to.deep.equal([201, 409]);
    });

    it('updateRecord re-applies the change to the other writer’s version on a conflict', async () => {
      await h.api.writeRecord('rec', '{"n":1}', LABELS);
      let calls = 0;
      const next = await h.api.updateRecord(
        'rec',
        (current) => {
          calls += 1;
          // Another hook writes between our read and our write, once.
          if (calls === 1) h.double.mutate('configmaps', 'rec', (o) => (o['data']['record.json'] = '{"n":5}'));
          const n = (JSON.parse(current ?? '{"n":0}') as { n: number }).n;
          return JSON.stringify({ n: n + 1 });
        },
        LABELS,
      );
      expect(calls).to.equal(2);
      expect(next).to.equal('{"n":6}');
      expect(h.double.get('configmaps', 'rec')!['data']['record.json']).to.equal('{"n":6}');
    });

    it('keeps other data keys of the ConfigMap when it rewrites the record', async () => {
      h.double.put('configmaps', { metadata: { name: 'rec' }, data: { 'record.json': '{}', 'notes.txt': 'kept' } });
      await h.api.updateRecord('rec', () => '{"x":1}', LABELS);
      expect(h.double.get('configmaps', 'rec')!['data']).to.deep.equal({ 'record.json': '{"x":1}', 'notes.txt': 'kept' });
    });
  });

  it('emits a core/v1 Event on the StatefulSet that kubectl describe shows', async () => {
    const sts = await h.api.getStatefulSet('qdrant');
    await h.api.emitEvent({
      involved: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts.name, uid: sts.uid },
      type: 'Warning',
      reason: 'UpgradeRefused',
      message: 'qdrant-1: raft_state.json missing while collections_meta_wal/ holds 3 segments',
    });
    const [event] = h.double.list('events');
    expect(event!['metadata'].name).to.match(/^qdrant\.[0-9a-f]+$/);
    expect(event).to.deep.include({
      type: 'Warning',
      reason: 'UpgradeRefused',
      message: 'qdrant-1: raft_state.json missing while collections_meta_wal/ holds 3 segments',
      count: 1,
      source: { component: 'qdrant-upgrade-guard' },
      reportingComponent: 'qdrant-upgrade-guard',
    });
    expect(event!['involvedObject']).to.deep.equal({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'qdrant', namespace: 'qdrant-ns', uid: sts.uid });
    expect(event!['firstTimestamp']).to.equal(event!['lastTimestamp']);
    expect(Date.parse(event!['firstTimestamp'])).to.be.closeTo(Date.now(), 60_000);
  });

  describe('pod logs', () => {
    it('reads a container’s log since a time, and the previous instance’s log of a crash loop', async () => {
      const t0 = Date.now() - 60_000;
      h.double.appendPodLog('qdrant-1', 'INFO old line', { time: t0 });
      h.double.appendPodLog('qdrant-1', 'WARN Replaced metadata of peer 123\nWARN Replaced metadata of peer 123', { time: t0 + 30_000 });
      h.double.appendPodLog('qdrant-1', 'panicked at raft', { previous: true, time: t0 });
      const since = new Date(t0 + 10_000).toISOString();
      expect(await h.api.podLogs('qdrant-1', { container: 'qdrant', sinceTime: since })).to.equal(
        'WARN Replaced metadata of peer 123\nWARN Replaced metadata of peer 123\n',
      );
      expect(h.double.requestsTo('GET', '/api/v1/namespaces/qdrant-ns/pods/qdrant-1/log')[0]!.query).to.contain(
        `sinceTime=${encodeURIComponent(since)}`,
      );
      expect(await h.api.podLogs('qdrant-1', { container: 'qdrant', previous: true })).to.equal('panicked at raft\n');
    });

    it('returns no log for a container that is still waiting to start (the API answers 400)', async () => {
      h.double.mutate('pods', 'qdrant-2', (p) => {
        p['status'].containerStatuses[0].state = { waiting: { reason: 'ContainerCreating' } };
      });
      expect(await h.api.podLogs('qdrant-2', { container: 'qdrant' })).to.equal('');
      expect(h.double.requests.at(-1)!.status).to.equal(400);
    });
  });

  it('gives the partition back after a staged rollout, so the next Helm 4 server-side apply meets no other owner', async () => {
    h.double.mutate('statefulsets', 'qdrant', (s) => (s['spec'].updateStrategy.rollingUpdate.partition = 3));
    await h.api.patchStatefulSetPartition('qdrant', 0);
    expect(h.double.partitionOwner('qdrant')).to.equal('qdrant-upgrade-guard');
    const sts = await h.api.releaseStatefulSetPartition('qdrant');
    expect(sts.partition).to.equal(0);
    expect(h.double.partitionOwner('qdrant')).to.equal(undefined);
    // Nobody owns the field any more: apps/v1 defaulting puts 0 back.
    expect(h.double.get('statefulsets', 'qdrant')!['spec'].updateStrategy.rollingUpdate.partition).to.equal(0);
  });

  it('lowers the rollout partition by server-side apply and hands the change to the controller', async () => {
    const changes: unknown[] = [];
    h.double.onPartitionChange = (c) => void changes.push(c);
    h.double.mutate('statefulsets', 'qdrant', (s) => (s['spec'].updateStrategy.rollingUpdate.partition = 3));
    const sts = await h.api.patchStatefulSetPartition('qdrant', 2);
    expect(sts.partition).to.equal(2);
    expect(sts.generation).to.equal(2);
    expect(h.double.get('statefulsets', 'qdrant')!['spec'].updateStrategy).to.deep.equal({ type: 'RollingUpdate', rollingUpdate: { partition: 2 } });
    await h.double.idle();
    expect(changes).to.deep.equal([{ statefulSet: 'qdrant', partition: 2, previous: 3 }]);
  });

  it('drives a staged rollout with the emulated StatefulSet controller, highest ordinal first', async () => {
    const restarted: number[] = [];
    h.double.mutate('statefulsets', 'qdrant', (s) => (s['spec'].updateStrategy.rollingUpdate.partition = 3));
    h.double.applyUpgrade('qdrant', { image: 'docker.io/qdrant/qdrant:v1.13.5', revision: 'qdrant-new' });
    h.double.onPartitionChange = h.double.rollingController({ onRestart: (i) => void restarted.push(i) });
    for (const partition of [2, 1, 0]) {
      await h.api.patchStatefulSetPartition('qdrant', partition);
      await h.double.idle();
    }
    expect(restarted).to.deep.equal([2, 1, 0]);
    const sts = await h.api.getStatefulSet('qdrant');
    expect(sts).to.deep.include({ updatedReplicas: 3, readyReplicas: 3, currentRevision: 'qdrant-new', updateRevision: 'qdrant-new' });
    const pods = await h.api.listPods(sts.selector);
    expect(pods.map((p) => [p.revision, p.images['qdrant'], p.ready])).to.deep.equal([
      ['qdrant-new', 'docker.io/qdrant/qdrant:v1.13.5', true],
      ['qdrant-new', 'docker.io/qdrant/qdrant:v1.13.5', true],
      ['qdrant-new', 'docker.io/qdrant/qdrant:v1.13.5', true],
    ]);
  });
});
