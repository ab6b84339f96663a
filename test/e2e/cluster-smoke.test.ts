// Smoke test of the e2e platform (test/cluster): a real kube-apiserver, controller-manager and scheduler, and the
// kubelet stand-in running pods as local processes. Drives it with the real kubectl and Helm 4 and checks what the
// e2e scenarios rely on: Ready nodes, the hook image with exit codes and termination messages, a StatefulSet with
// bound folder-backed PVCs spread by the scheduler, logs through the apiserver, and RBAC on pod tokens.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ensureCluster,
  helm4Bin,
  hookBundle,
  pvcFolder,
  releaseCluster,
  resolvedNames,
  setEnvOverrides,
  testNamespace,
  waitFor,
  waitForPodDone,
  type Cluster,
} from './support/cluster.js';

const HOOK_IMAGE = 'ghcr.io/qdrant-upgrade-guard/qdrant-upgrade-guard:0.1.0';

function pod(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { restartPolicy: 'Never', ...spec } });
}

/** A two-replica StatefulSet of the `local/sleeper` test image, one replica per node, with a PVC each. */
function writeSmokeChart(dir: string): void {
  fs.mkdirSync(path.join(dir, 'templates'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: smoke\nversion: 0.1.0\n');
  fs.writeFileSync(
    path.join(dir, 'templates', 'statefulset.yaml'),
    `apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web-headless
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector: {matchLabels: {app: web}}
              topologyKey: kubernetes.io/hostname
      containers:
        - name: web
          image: local/sleeper:1
          args: ["--ready-after-ms", "500", "--write", "/data/who=$(POD_NAME)", "--print", "web $(POD_NAME) up"]
          env:
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
`,
  );
  fs.writeFileSync(
    path.join(dir, 'templates', 'test-pod.yaml'),
    `apiVersion: v1
kind: Pod
metadata:
  name: smoke-test
  annotations: {"helm.sh/hook": test, "helm.sh/hook-delete-policy": before-hook-creation}
spec:
  restartPolicy: Never
  containers:
    - name: test
      image: local/sleeper:1
      args: ["--no-server", "--print", "smoke test pod ran"]
`,
  );
}

describe('e2e platform: control plane and kubelet stand-in (smoke)', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  const ns = testNamespace('smoke');
  let chartDir: string;

  before(async function () {
    this.timeout(200_000);
    if (!fs.existsSync(hookBundle)) throw new Error(`${hookBundle} is missing: run \`make bundle\``);
    cluster = await ensureCluster();
    await cluster.kubectlOk(['create', 'namespace', ns]);
    chartDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smoke-chart-'));
    writeSmokeChart(chartDir);
  });

  after(async function () {
    this.timeout(90_000);
    if (chartDir) fs.rmSync(chartDir, { recursive: true, force: true });
    if (cluster && !cluster.startedHere) await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
    await releaseCluster(cluster);
  });

  it('serves Kubernetes v1.34.4 with three Ready, untainted nodes', async () => {
    const version = JSON.parse((await cluster.kubectlOk(['version', '-o', 'json'])) as string);
    expect(version.serverVersion.gitVersion).to.equal('v1.34.4');
    const nodes = await cluster.kubectlJson(['get', 'nodes']);
    expect(nodes.items.map((n: any) => n.metadata.name)).to.deep.equal(['node-a', 'node-b', 'node-c']);
    for (const n of nodes.items) {
      const ready = n.status.conditions.find((c: any) => c.type === 'Ready');
      expect(ready.status, n.metadata.name).to.equal('True');
      expect(n.spec.taints ?? [], n.metadata.name).to.deep.equal([]);
      expect(n.metadata.labels['kubernetes.io/hostname']).to.equal(n.metadata.name);
    }
  });

  it('runs the hook image as the CLI: exit codes, output and termination messages reach the pod status', async () => {
    const storage = { volumes: [{ name: 'storage', emptyDir: {} }] };
    const hook = (args: string[]) => ({
      name: 'guard',
      image: HOOK_IMAGE,
      command: ['qdrant-upgrade-guard'],
      args,
      terminationMessagePolicy: 'FallbackToLogsOnError',
      volumeMounts: [{ name: 'storage', mountPath: '/qdrant/storage' }],
    });
    // The startup check's invocation, writing its verdict to the (mapped) termination-message path.
    const check = {
      ...hook(['volume', '--check-only', '--storage', '/qdrant/storage', '--pod', '$(POD_NAME)', '--termination-message-path', '/dev/termination-log']),
      env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    };
    const pods = [
      pod('hook-inspect', { ...storage, containers: [hook(['inspect', '--storage', '/qdrant/storage', '--output', 'json'])] }),
      pod('hook-usage', { ...storage, containers: [hook(['inspect'])] }),
      pod('hook-check', { ...storage, containers: [check] }),
    ];
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], { input: pods.join('\n') });
    const [inspect, usage, checked] = await Promise.all(['hook-inspect', 'hook-usage', 'hook-check'].map((n) => waitForPodDone(cluster, ns, n)));

    expect(inspect.status.phase).to.equal('Succeeded');
    expect(inspect.status.containerStatuses[0].state.terminated.exitCode).to.equal(0);
    const report = JSON.parse(await cluster.kubectlOk(['logs', '-n', ns, 'hook-inspect']));
    expect(report.verdict).to.equal('pass');
    expect(JSON.stringify(report)).to.contain('"classification":"fresh"');
    // The mount path in the args was rewritten to the emptyDir's host folder (test/cluster/README.md, path mapping).
    expect(JSON.stringify(report)).to.contain(`${ns}_hook-inspect_${inspect.metadata.uid}/volumes/storage`);

    // A usage error is exit 2 (README.md "CLI reference"); FallbackToLogsOnError turns its stderr into the termination message.
    expect(usage.status.phase).to.equal('Failed');
    const t = usage.status.containerStatuses[0].state.terminated;
    expect(t.exitCode).to.equal(2);
    expect(t.reason).to.equal('Error');
    expect(t.message).to.match(/storage/);

    expect(checked.status.phase).to.equal('Succeeded');
    const summary = JSON.parse(checked.status.containerStatuses[0].state.terminated.message);
    expect(summary).to.include({ verdict: 'pass', classification: 'fresh' });
    expect(summary.reason).to.match(/^hook-check \(/);
  });

  it('installs a StatefulSet with Helm 4: Ready replicas on distinct nodes, PVCs bound to folders that outlive pods', async () => {
    const install = await cluster.helm(helm4Bin, ['install', 'smoke', chartDir, '-n', ns, '--wait', '--timeout', '90s']);
    expect(install.code, install.stderr).to.equal(0);
    const sts = await cluster.kubectlJson(['get', 'statefulset', '-n', ns, 'web']);
    expect(sts.status.readyReplicas).to.equal(2);

    const pods = (await cluster.kubectlJson(['get', 'pods', '-n', ns, '-l', 'app=web'])).items;
    expect(pods.map((p: any) => p.metadata.name).sort()).to.deep.equal(['web-0', 'web-1']);
    const nodes = new Set(pods.map((p: any) => p.spec.nodeName));
    expect(nodes.size, 'required anti-affinity puts each replica on its own node').to.equal(2);
    const ips = new Set(pods.map((p: any) => p.status.podIP));
    expect(ips.size).to.equal(2);
    for (const ip of ips) expect(ip).to.match(/^127\.1\.\d+\.\d+$/);

    const pvcs = (await cluster.kubectlJson(['get', 'pvc', '-n', ns])).items;
    expect(pvcs.map((c: any) => [c.metadata.name, c.status.phase]).sort()).to.deep.equal([
      ['data-web-0', 'Bound'],
      ['data-web-1', 'Bound'],
    ]);
    const folder = await pvcFolder(cluster, ns, 'data-web-1');
    expect(folder).to.match(/\.cache\/cluster\/volumes[^/]*\/pvc-/);
    // The stand-in publishes the StatefulSet pods' DNS names for the Qdrant emulator.
    const web1 = pods.find((p: any) => p.metadata.name === 'web-1');
    expect(resolvedNames()[`web-1.web-headless.${ns}.svc.cluster.local`]).to.equal(web1.status.podIP);
    expect(fs.readFileSync(path.join(folder, 'who'), 'utf8')).to.equal('web-1');

    // Delete the pod: the StatefulSet controller recreates it and it finds its volume again.
    fs.writeFileSync(path.join(folder, 'survivor'), 'kept');
    const oldUid = web1.metadata.uid;
    await cluster.kubectlOk(['delete', 'pod', '-n', ns, 'web-1', '--wait=true', '--timeout=30s']);
    await waitFor(
      'web-1 to come back Ready',
      async () => {
        const p = await cluster.kubectlJson(['get', 'pod', '-n', ns, 'web-1']);
        const ready = p.status.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True';
        return p.metadata.uid !== oldUid && ready ? p : undefined;
      },
      30_000,
    );
    expect(fs.readFileSync(path.join(folder, 'survivor'), 'utf8')).to.equal('kept');

    const test = await cluster.helm(helm4Bin, ['test', 'smoke', '-n', ns, '--timeout', '60s']);
    expect(test.code, test.stderr).to.equal(0);
    expect(test.stdout).to.match(/Phase:\s+Succeeded/);
  });

  it('takes a VolumeSnapshot of a PVC with the default VolumeSnapshotClass (a folder copy)', async () => {
    const snap = {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'data-web-0-snap' },
      spec: { source: { persistentVolumeClaimName: 'data-web-0' } },
    };
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(snap) });
    const vs = await waitFor(
      'the VolumeSnapshot to be readyToUse',
      async () => {
        const o = await cluster.kubectlJson(['get', 'volumesnapshot', '-n', ns, 'data-web-0-snap']);
        return o.status?.readyToUse ? o : undefined;
      },
      20_000,
    );
    expect(vs.status.restoreSize).to.equal('5'); // the 5 bytes of /data/who = "web-0"
    const content = await cluster.kubectlJson(['get', 'volumesnapshotcontent', vs.status.boundVolumeSnapshotContentName]);
    expect(content.status.readyToUse).to.equal(true);
    expect(fs.readFileSync(path.join(content.status.snapshotHandle, 'who'), 'utf8')).to.equal('web-0');
  });

  it('serves container logs through the apiserver (kubectl logs, --tail, --timestamps, --previous)', async () => {
    const out = await cluster.kubectlOk(['logs', '-n', ns, 'web-0']);
    expect(out).to.match(/^web web-0 up\nsleeper listening on 127\.1\.\d+\.\d+:8080\n$/);
    expect(await cluster.kubectlOk(['logs', '-n', ns, 'web-0', '--tail=1'])).to.match(/^sleeper listening on /);
    const stamped = await cluster.kubectlOk(['logs', '-n', ns, 'web-0', '--timestamps', '--since=10m']);
    expect(stamped.split('\n')[0]).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z web web-0 up$/);
    const previous = await cluster.kubectl(['logs', '-n', ns, 'web-0', '--previous']);
    expect(previous.code).to.equal(1);
    expect(previous.stderr).to.match(/previous terminated container "web" in pod "web-0" not found/);
  });

  it('adds the env overrides of the stand-in to the next start of the named pod', async () => {
    setEnvOverrides(ns, 'env-override', { SMOKE_FAULT: 'new-peer-id' });
    try {
      const spec = { containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'echo "fault=$SMOKE_FAULT"'] }] };
      await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], { input: pod('env-override', spec) });
      await waitForPodDone(cluster, ns, 'env-override');
      expect(await cluster.kubectlOk(['logs', '-n', ns, 'env-override'])).to.equal('fault=new-peer-id\n');
    } finally {
      setEnvOverrides(ns, 'env-override', undefined);
    }
  });

  it('gives each pod, the hook included, a token of its own ServiceAccount, subject to RBAC', async () => {
    const kubectl = path.resolve('.tools/bin/kubectl');
    const rbac = [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'nobody' } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader' } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    ];
    const lister = (sa: string, extra: Record<string, unknown> = {}) => ({
      serviceAccountName: sa,
      ...extra,
      containers: [
        {
          name: 'list',
          image: 'busybox:1.36',
          // Uses the KUBECONFIG the stand-in writes (as the hook's loadFromDefault() does).
          command: ['sh', '-c', `test -n "$KUBECONFIG" || { echo no credentials; exit 9; }; ${kubectl} get pods -o name`],
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
    });
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], { input: rbac.map((o) => JSON.stringify(o)).join('\n') });
    // The hook itself, under a ServiceAccount without rights: its first API call is refused by RBAC (exit 3).
    const hookVerify = {
      serviceAccountName: 'nobody',
      containers: [
        {
          name: 'guard',
          image: HOOK_IMAGE,
          command: ['qdrant-upgrade-guard'],
          args: ['verify', '--namespace', ns, '--release', 'smoke', '--statefulset', 'web', '--target-version', '1.14.0'],
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
    };
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], {
      input: [
        pod('as-nobody', lister('nobody')),
        pod('as-reader', lister('reader')),
        pod('no-token', lister('reader', { automountServiceAccountToken: false })),
        pod('hook-as-nobody', hookVerify),
      ].join('\n'),
    });
    const [nobody, reader, noToken, hookNobody] = await Promise.all(
      ['as-nobody', 'as-reader', 'no-token', 'hook-as-nobody'].map((n) => waitForPodDone(cluster, ns, n)),
    );
    const hookDenied = hookNobody.status.containerStatuses[0].state.terminated;
    expect(hookDenied.exitCode, hookDenied.message).to.equal(3);
    expect(hookDenied.message).to.contain(`system:serviceaccount:${ns}:nobody`);
    expect(hookDenied.message).to.match(/permission denied/);

    const denied = nobody.status.containerStatuses[0].state.terminated;
    expect(denied.exitCode).to.equal(1);
    expect(denied.message).to.contain(`User "system:serviceaccount:${ns}:nobody" cannot list resource "pods"`);
    expect(reader.status.phase).to.equal('Succeeded');
    expect(await cluster.kubectlOk(['logs', '-n', ns, 'as-reader'])).to.contain('pod/as-reader');
    expect(noToken.status.containerStatuses[0].state.terminated).to.include({ exitCode: 9, message: 'no credentials' });
  });
});
