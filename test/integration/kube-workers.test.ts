import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseLossless, isInteger } from 'lossless-json';
import { runVolume, terminationSummary } from '../../hook/commands/volume.js';
import type { StatefulSetSnapshot, WorkerPodSpec } from '../../hook/kube/types.js';
import { pvcName } from '../../hook/kube/types.js';
import { startHarness, type Harness } from '../support/kube-api-double/harness.js';
import type { KObj } from '../support/kube-api-double/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.resolve(repoRoot, 'test/fixtures/raft-state/constructed');

function workerSpecs(sts: StatefulSetSnapshot, ordinals: number[], extra: Partial<WorkerPodSpec> = {}): WorkerPodSpec[] {
  return ordinals.map((i) => ({
    name: `guard-worker-${sts.name}-${i}`,
    image: 'ghcr.io/example/qdrant-upgrade-guard:0.1.0',
    args: ['volume', '--storage', '/qdrant/storage', '--from', '1.13.4', '--to', '1.13.5', '--pod', `${sts.name}-${i}`],
    storagePvc: pvcName(sts.claimTemplates[0]!, sts.name, i),
    colocateWith: `${sts.name}-${i}`,
    placement: sts.podSpec,
    labels: { 'app.kubernetes.io/instance': 'qdrant' },
    ...extra,
  }));
}

const workerPods = (h: Harness) => h.double.list('pods', 'app.kubernetes.io/component=upgrade-guard-worker');

describe('kube adapter: worker pods that examine each Qdrant volume', () => {
  let h: Harness;
  let sts: StatefulSetSnapshot;
  beforeEach(async () => {
    h = await startHarness({ realClock: true });
    h.double.seedQdrantStatefulSet({
      name: 'qdrant',
      replicas: 3,
      claims: ['qdrant-storage', 'qdrant-snapshots'],
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'vector', effect: 'NoSchedule' }],
    });
    sts = await h.api.getStatefulSet('qdrant');
  });
  afterEach(() => h.close());

  it('runs each worker next to its Qdrant pod, without a token, as Qdrant’s uid, with everything locked down', async () => {
    const seen: KObj[] = [];
    h.double.onPodCreated = (pod) => {
      seen.push(pod);
      return { exitCode: 0, terminationMessage: `{"verdict":"pass","pod":"${pod['metadata'].name}"}` };
    };
    const specs = workerSpecs(sts, [0, 1, 2]);
    specs[1]!.snapshotsPvc = pvcName('qdrant-snapshots', 'qdrant', 1);
    const results = await h.api.runWorkerPods(specs, { deadlineMs: Date.now() + 30_000 });

    const pod = seen.find((p) => p['metadata'].name === 'guard-worker-qdrant-1')!;
    const spec = pod['spec'];
    expect(spec.automountServiceAccountToken).to.equal(false);
    expect(spec.restartPolicy).to.equal('Never');
    expect(spec.activeDeadlineSeconds).to.be.within(1, 30);
    expect(spec.affinity).to.deep.equal({
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { 'statefulset.kubernetes.io/pod-name': 'qdrant-1' } }, topologyKey: 'kubernetes.io/hostname' },
        ],
      },
    });
    // The emulated scheduler honoured the affinity: same node as qdrant-1.
    expect(spec.nodeName).to.equal('node-b');
    expect(spec.tolerations).to.deep.equal([{ key: 'dedicated', operator: 'Equal', value: 'vector', effect: 'NoSchedule' }]);
    expect(spec.securityContext).to.deep.equal({
      runAsUser: 1000,
      runAsGroup: 2000,
      runAsNonRoot: true,
      fsGroup: 3000,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const c = spec.containers[0];
    expect(c.securityContext).to.deep.equal({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.terminationMessagePath).to.equal('/dev/termination-log');
    expect(c.args).to.include('--pod').and.to.include('qdrant-1');
    expect(c.volumeMounts).to.deep.include({ name: 'storage', mountPath: '/qdrant/storage' });
    expect(c.volumeMounts).to.deep.include({ name: 'snapshots', mountPath: '/qdrant/snapshots' });
    expect(spec.volumes).to.deep.include({ name: 'storage', persistentVolumeClaim: { claimName: 'qdrant-storage-qdrant-1' } });
    expect(spec.volumes).to.deep.include({ name: 'snapshots', persistentVolumeClaim: { claimName: 'qdrant-snapshots-qdrant-1' } });
    expect(pod['metadata'].labels).to.include({
      'app.kubernetes.io/component': 'upgrade-guard-worker',
      'app.kubernetes.io/instance': 'qdrant',
    });
    expect(pod['metadata'].ownerReferences).to.equal(undefined);

    expect(results.map((r) => [r.name, r.phase, r.exitCode, r.nodeName, r.attempts])).to.deep.equal([
      ['guard-worker-qdrant-0', 'Succeeded', 0, 'node-a', 1],
      ['guard-worker-qdrant-1', 'Succeeded', 0, 'node-b', 1],
      ['guard-worker-qdrant-2', 'Succeeded', 0, 'node-c', 1],
    ]);
    expect(results[2]!.terminationMessage).to.equal('{"verdict":"pass","pod":"guard-worker-qdrant-2"}');
    expect(workerPods(h), 'workers are deleted afterwards').to.deep.equal([]);
  });

  it('brings back the verdict of the real volume command, peer id exact, through the termination message', async () => {
    const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'worker-storage-'));
    try {
      await fs.copyFile(path.join(fixtures, 'v1.13.4_cluster-3peer_qdrant-1.json'), path.join(storage, 'raft_state.json'));
      h.double.onPodCreated = async (pod) => {
        const args: string[] = pod['spec'].containers[0].args;
        const report = await runVolume({ storage, from: '1.13.4', to: '1.13.5', pod: args[args.indexOf('--pod') + 1]! });
        return { exitCode: report.verdict === 'pass' ? 0 : 1, terminationMessage: terminationSummary(report) };
      };
      const [result] = await h.api.runWorkerPods(workerSpecs(sts, [1]), { deadlineMs: Date.now() + 30_000 });
      expect(result!.phase).to.equal('Succeeded');
      const summary = parseLossless(result!.terminationMessage!, undefined, (v) => (isInteger(v) ? v : Number(v))) as Record<string, unknown>;
      expect(summary['verdict']).to.equal('pass');
      expect(summary['classification']).to.equal('initialized');
      const raw = await fs.readFile(path.join(storage, 'raft_state.json'), 'utf8');
      const stateId = /"this_peer_id"\s*:\s*(\d+)/.exec(raw)![1];
      expect(summary['peerId']).to.equal(stateId);
      expect(summary['archive']).to.match(/^raft-qdrant-1-1\.13\.4-to-1\.13\.5-/);
    } finally {
      await fs.rm(storage, { recursive: true, force: true });
    }
  });

  it('reports a refusing worker as Failed with its exit code and reason', async () => {
    h.double.onPodCreated = (pod) =>
      pod['metadata'].name.endsWith('-2')
        ? { exitCode: 1, terminationMessage: '{"verdict":"refuse","classification":"missing-state"}' }
        : { exitCode: 0, terminationMessage: '{"verdict":"pass"}' };
    const results = await h.api.runWorkerPods(workerSpecs(sts, [0, 2]), { deadlineMs: Date.now() + 30_000 });
    expect(results[1]).to.deep.include({
      name: 'guard-worker-qdrant-2',
      phase: 'Failed',
      exitCode: 1,
      reason: 'Error',
      terminationMessage: '{"verdict":"refuse","classification":"missing-state"}',
    });
    expect(workerPods(h)).to.deep.equal([]);
  });

  it('retries a worker once after its pod was evicted, and cleans up both pods', async () => {
    let evictions = 0;
    h.double.onPodCreated = (pod) => {
      if (pod['metadata'].name === 'guard-worker-qdrant-0' && evictions++ === 0) {
        return { evict: 'The node was low on resource: ephemeral-storage.' };
      }
      return { exitCode: 0, terminationMessage: '{"verdict":"pass"}' };
    };
    const results = await h.api.runWorkerPods(workerSpecs(sts, [0, 1]), { deadlineMs: Date.now() + 30_000 });
    expect(results[0]).to.deep.include({ name: 'guard-worker-qdrant-0', podName: 'guard-worker-qdrant-0-r2', phase: 'Succeeded', attempts: 2 });
    expect(results[1]).to.deep.include({ phase: 'Succeeded', attempts: 1 });
    expect(h.progress.some((l) => /guard-worker-qdrant-0 Evicted: The node was low on resource.*retrying once/.test(l))).to.equal(true);
    expect(h.double.requestsTo('DELETE', /\/pods\/guard-worker-qdrant-0$/)).to.have.length(1);
    expect(workerPods(h)).to.deep.equal([]);
  });

  it('gives up after a second eviction, and treats a pod deleted under it like an eviction', async () => {
    h.double.onPodCreated = (pod) =>
      pod['metadata'].name.startsWith('guard-worker-qdrant-0') ? { evict: 'The node had condition: [DiskPressure].' } : { vanish: true };
    const results = await h.api.runWorkerPods(workerSpecs(sts, [0, 1]), { deadlineMs: Date.now() + 30_000 });
    expect(results[0]).to.deep.include({ phase: 'Evicted', attempts: 2, podName: 'guard-worker-qdrant-0-r2' });
    expect(results[0]!.reason).to.contain('DiskPressure');
    expect(results[1]).to.deep.include({ phase: 'Evicted', attempts: 2, reason: 'deleted before it finished' });
    expect(workerPods(h)).to.deep.equal([]);
  });

  it('deletes workers that are still running at the deadline and says what each was waiting for', async () => {
    h.double.onPodCreated = (pod) =>
      pod['metadata'].name.endsWith('-0') ? { exitCode: 0, terminationMessage: '{"verdict":"pass"}' } : { hang: true };
    const specs = workerSpecs(sts, [0, 1]);
    // A Qdrant pod that no longer exists: the affinity cannot be met and the worker stays Pending.
    specs.push({ ...workerSpecs(sts, [2])[0]!, colocateWith: 'qdrant-9' });
    const api = h.makeApi({ progressEverySeconds: 0.05 });
    const started = Date.now();
    const results = await api.runWorkerPods(specs, { deadlineMs: Date.now() + 600 });
    expect(Date.now() - started).to.be.below(5000);
    expect(results.map((r) => r.phase)).to.deep.equal(['Succeeded', 'Timeout', 'Timeout']);
    expect(results[1]!.reason).to.equal('deadline passed while Running on node-b');
    expect(results[2]!.reason).to.match(/^deadline passed while Pending: Unschedulable 0\/3 nodes are available: 3 node\(s\) didn't match pod affinity rules/);
    expect(h.progress.some((l) => /^workers: 1\/3 done, waiting for guard-worker-qdrant-1 \(Running on node-b\), guard-worker-qdrant-2 \(Pending: Unschedulable/.test(l))).to.equal(
      true,
    );
    expect(workerPods(h), 'no worker keeps running after the deadline').to.deep.equal([]);
  });

  it('reports a worker the kubelet stopped at activeDeadlineSeconds as a timeout', async () => {
    h.double.onPodCreated = (pod) => {
      h.double.mutate('pods', pod['metadata'].name, (o) => {
        o['status'].phase = 'Failed';
        o['status'].reason = 'DeadlineExceeded';
        o['status'].message = 'Pod was active on the node longer than the specified deadline';
        o['status'].containerStatuses[0].state = { terminated: { exitCode: 137, reason: 'Error' } };
      });
      return { hang: true };
    };
    const [result] = await h.api.runWorkerPods(workerSpecs(sts, [0]), { deadlineMs: Date.now() + 20_000 });
    expect(result).to.deep.include({
      phase: 'Timeout',
      exitCode: 137,
      reason: 'DeadlineExceeded: Pod was active on the node longer than the specified deadline',
    });
    expect(workerPods(h)).to.deep.equal([]);
  });

  it('fails fast on an image that cannot be used instead of waiting for the deadline', async () => {
    h.double.onPodCreated = (pod) => {
      h.double.mutate('pods', pod['metadata'].name, (o) => {
        o['status'].phase = 'Pending';
        o['status'].containerStatuses[0].state = { waiting: { reason: 'InvalidImageName', message: 'Failed to apply default image tag' } };
      });
      return { hang: true };
    };
    const results = await h.api.runWorkerPods(workerSpecs(sts, [0]), { deadlineMs: Date.now() + 20_000 });
    expect(results[0]).to.deep.include({ phase: 'Failed', reason: 'Pending: InvalidImageName Failed to apply default image tag' });
    expect(workerPods(h)).to.deep.equal([]);
  });

  it('replaces a worker pod left over from an interrupted run, but never deletes a pod that is not a worker', async () => {
    h.double.put('pods', {
      metadata: { name: 'guard-worker-qdrant-0', labels: { 'app.kubernetes.io/component': 'upgrade-guard-worker' } },
      spec: { containers: [{ name: 'volume', image: 'old' }] },
    });
    h.double.onPodCreated = () => ({ exitCode: 0, terminationMessage: '{"verdict":"pass"}' });
    const [ok] = await h.api.runWorkerPods(workerSpecs(sts, [0]), { deadlineMs: Date.now() + 30_000 });
    expect(ok!.phase).to.equal('Succeeded');
    expect(h.progress).to.include('deleting worker pod guard-worker-qdrant-0 left over from an earlier run');

    h.double.put('pods', { metadata: { name: 'guard-worker-qdrant-1', labels: { app: 'something-else' } }, spec: { containers: [{ name: 'x', image: 'x' }] } });
    const err = await h.api.runWorkerPods(workerSpecs(sts, [1]), { deadlineMs: Date.now() + 30_000 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.equal('a pod named guard-worker-qdrant-1 already exists and is not an upgrade-guard worker');
    expect(h.double.get('pods', 'guard-worker-qdrant-1')!['metadata'].labels).to.deep.equal({ app: 'something-else' });
  });

  it('cleans up the workers it created when creating another one fails', async () => {
    h.double.onPodCreated = () => ({ hang: true });
    h.double.inject({ method: 'POST', path: '/api/v1/namespaces/qdrant-ns/pods', status: 422, count: 1 });
    const err = await h.api.runWorkerPods(workerSpecs(sts, [0, 1]), { deadlineMs: Date.now() + 30_000 }).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/^could not create worker pod guard-worker-qdrant-[01]: HTTP 422 Invalid/);
    await h.double.idle();
    expect(workerPods(h)).to.deep.equal([]);
  });
});
