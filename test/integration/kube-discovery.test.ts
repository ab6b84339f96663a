import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { resolveNamespace } from '../../hook/kube/client.js';
import { pvcName } from '../../hook/kube/types.js';
import { startHarness, type Harness } from '../support/kube-api-double/harness.js';

describe('kube adapter: discovering the Qdrant StatefulSet, its pods and volumes', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.close());

  it('uses the namespace of the kubeconfig context when no flag and no service-account file are given', () => {
    expect(h.api.namespace).to.equal('qdrant-ns');
  });

  it('reads the StatefulSet as the chart renders it into a plain snapshot', async () => {
    h.double.seedQdrantStatefulSet({
      name: 'qdrant',
      replicas: 3,
      image: 'docker.io/qdrant/qdrant:v1.13.4',
      claims: ['qdrant-storage', 'qdrant-snapshots'],
      partition: 3,
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'vector', effect: 'NoSchedule' }],
      nodeSelector: { pool: 'vector' },
      imagePullSecrets: ['regcred'],
    });
    const sts = await h.api.getStatefulSet('qdrant');
    expect(sts).to.deep.include({
      name: 'qdrant',
      namespace: 'qdrant-ns',
      generation: 1,
      observedGeneration: 1,
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      currentRevision: 'qdrant-7c9d6b5f84',
      updateRevision: 'qdrant-7c9d6b5f84',
      partition: 3,
      updateStrategyType: 'RollingUpdate',
      serviceName: 'qdrant-headless',
      qdrantImage: 'docker.io/qdrant/qdrant:v1.13.4',
    });
    expect(sts.uid).to.match(/^[0-9a-f-]{36}$/);
    expect(sts.selector).to.deep.equal({ 'app.kubernetes.io/name': 'qdrant', 'app.kubernetes.io/instance': 'qdrant' });
    expect(sts.claimTemplates).to.deep.equal(['qdrant-storage', 'qdrant-snapshots']);
    expect(sts.podSpec).to.deep.equal({
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'vector', effect: 'NoSchedule' }],
      nodeSelector: { pool: 'vector' },
      imagePullSecrets: ['regcred'],
      runAsUser: 1000,
      runAsGroup: 2000,
      fsGroup: 3000,
    });
    // Plain data: no client-node class instances leak out.
    expect(JSON.parse(JSON.stringify(sts))).to.deep.equal(sts);
  });

  it('picks the container named qdrant even when a sidecar comes first', async () => {
    h.double.seedQdrantStatefulSet({ name: 'qdrant' });
    h.double.mutate('statefulsets', 'qdrant', (s) => {
      s['spec'].template.spec.containers.unshift({ name: 'metrics-proxy', image: 'proxy:1' });
    });
    expect((await h.api.getStatefulSet('qdrant')).qdrantImage).to.equal('docker.io/qdrant/qdrant:v1.13.4');
  });

  it('lists the pods by selector with ordinal, IP, node, readiness and revision, sorted by ordinal', async () => {
    h.double.seedQdrantStatefulSet({ name: 'qdrant', replicas: 3, podIPs: ['10.0.0.10', '10.0.0.11', '10.0.0.12'] });
    // A pod of another release must not be picked up.
    h.double.seedQdrantStatefulSet({ name: 'other', release: 'other', replicas: 1 });
    h.double.mutate('pods', 'qdrant-2', (p) => {
      p['status'].conditions = p['status'].conditions.map((c: { type: string }) => (c.type === 'Ready' ? { ...c, status: 'False' } : c));
      p['status'].containerStatuses[0] = {
        ...p['status'].containerStatuses[0],
        ready: false,
        restartCount: 4,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
        lastState: { terminated: { exitCode: 101, reason: 'Error', message: 'panicked' } },
      };
      p['status'].initContainerStatuses = [
        {
          name: 'startup-check',
          ready: true,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: 'Completed', message: '{"verdict":"pass"}' } },
        },
      ];
    });
    const pods = await h.api.listPods({ 'app.kubernetes.io/name': 'qdrant', 'app.kubernetes.io/instance': 'qdrant' });
    expect(pods.map((p) => [p.name, p.ordinal, p.ip, p.nodeName, p.ready])).to.deep.equal([
      ['qdrant-0', 0, '10.0.0.10', 'node-a', true],
      ['qdrant-1', 1, '10.0.0.11', 'node-b', true],
      ['qdrant-2', 2, '10.0.0.12', 'node-c', false],
    ]);
    const p2 = pods[2]!;
    expect(p2.revision).to.equal('qdrant-7c9d6b5f84');
    expect(p2.images).to.deep.equal({ qdrant: 'docker.io/qdrant/qdrant:v1.13.4' });
    expect(p2.restarts).to.equal(4);
    expect(p2.waitingReason).to.equal('CrashLoopBackOff');
    expect(p2.containers[0]).to.deep.include({
      state: 'waiting',
      reason: 'CrashLoopBackOff',
      lastTermination: { exitCode: 101, reason: 'Error', message: 'panicked' },
    });
    expect(p2.initContainers).to.deep.equal([
      { name: 'startup-check', ready: true, restartCount: 0, state: 'terminated', reason: 'Completed', exitCode: 0, message: '{"verdict":"pass"}' },
    ]);
    expect(p2.startTime).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(p2.deletionTimestamp).to.equal(undefined);
  });

  it('finds the PVC of each ordinal by the StatefulSet naming rule, and says undefined for a missing one', async () => {
    h.double.seedQdrantStatefulSet({ name: 'qdrant', replicas: 3, pvcOrdinals: [0, 1] });
    const pvc = await h.api.getPvc(pvcName('qdrant-storage', 'qdrant', 1));
    expect(pvc).to.deep.include({
      name: 'qdrant-storage-qdrant-1',
      phase: 'Bound',
      storageClassName: 'standard',
      capacity: '10Gi',
      accessModes: ['ReadWriteOnce'],
    });
    expect(pvc!.volumeName).to.match(/^pvc-/);
    expect(await h.api.getPvc(pvcName('qdrant-storage', 'qdrant', 2))).to.equal(undefined);
  });

  it('lists every claim-template PVC of the StatefulSet in one request, by its selector labels', async () => {
    h.double.seedQdrantStatefulSet({ name: 'qdrant', replicas: 3, claims: ['qdrant-storage', 'qdrant-snapshots'], pvcOrdinals: [0, 2] });
    h.double.seedQdrantStatefulSet({ name: 'other', release: 'other', replicas: 1 });
    const sts = await h.api.getStatefulSet('qdrant');
    const before = h.api.requestCount();
    const pvcs = await h.api.listPvcs(sts.selector);
    expect(h.api.requestCount() - before).to.equal(1);
    expect(pvcs.map((p) => `${p.name}:${p.phase}`)).to.deep.equal([
      'qdrant-snapshots-qdrant-0:Bound',
      'qdrant-snapshots-qdrant-2:Bound',
      'qdrant-storage-qdrant-0:Bound',
      'qdrant-storage-qdrant-2:Bound',
    ]);
  });

  it('counts its API requests, so a benchmark can hold discovery to 2 + 1 per peer', async () => {
    h.double.seedQdrantStatefulSet({ name: 'qdrant', replicas: 3 });
    const seen: string[] = [];
    const api = h.makeApi({ onRequest: (method, url) => seen.push(`${method} ${new URL(url).pathname}`) });
    const sts = await api.getStatefulSet('qdrant');
    await api.listPods(sts.selector);
    for (let i = 0; i < sts.replicas; i++) await api.getPvc(pvcName(sts.claimTemplates[0]!, sts.name, i));
    expect(api.requestCount()).to.equal(5);
    expect(seen).to.deep.equal([
      'GET /apis/apps/v1/namespaces/qdrant-ns/statefulsets/qdrant',
      'GET /api/v1/namespaces/qdrant-ns/pods',
      'GET /api/v1/namespaces/qdrant-ns/persistentvolumeclaims/qdrant-storage-qdrant-0',
      'GET /api/v1/namespaces/qdrant-ns/persistentvolumeclaims/qdrant-storage-qdrant-1',
      'GET /api/v1/namespaces/qdrant-ns/persistentvolumeclaims/qdrant-storage-qdrant-2',
    ]);
    expect(h.double.requests.filter((r) => r.status === 200)).to.have.length(5);
  });

  it('takes the namespace from the flag first, then the service-account file, then the context', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ns-'));
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(h.kubeconfig);
      const saFile = path.join(dir, 'namespace');
      expect(resolveNamespace(kc, undefined, saFile)).to.equal('qdrant-ns');
      writeFileSync(saFile, 'from-service-account\n');
      expect(resolveNamespace(kc, undefined, saFile)).to.equal('from-service-account');
      expect(resolveNamespace(kc, 'from-flag', saFile)).to.equal('from-flag');
      const bare = new KubeConfig();
      bare.loadFromOptions({
        clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
        users: [{ name: 'u' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      expect(resolveNamespace(bare, undefined, path.join(dir, 'absent'))).to.equal('default');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
