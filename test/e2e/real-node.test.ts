// The real node of the e2e tier (CLUSTER_NODE=real, test/cluster/node): a kubelet of the control plane's release
// with containerd and runc, pods on a bridge in the node's own network namespace, kube-proxy and CoreDNS. Checks what
// the stand-in cannot show: a real kubelet registered, kubectl exec, exec probes that really run, and the security
// context enforced (uid, read-only root, fsGroup on a real local volume). Registers its tests only when
// CLUSTER_NODE=real (scripts/test-all.sh real-node): the stand-in's e2e tier runs the other files, none of these.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureCluster, kubectlBin, releaseCluster, testNamespace, waitFor, waitForPodDone, type Cluster } from './support/cluster.js';
import { dumpOnFailure } from './support/guard-diagnostics.js';
import { baseValues, GuardRelease, HELM_MAJORS, HELM_TIMEOUT_SECONDS, mergeValues, type Values } from './support/guard-release.js';

const REAL = process.env.CLUSTER_NODE === 'real';
const HOOK_IMAGE = 'ghcr.io/qdrant-upgrade-guard/qdrant-upgrade-guard:0.1.0';
const NODE = '/nodejs/bin/node';
const STEP_MS = (HELM_TIMEOUT_SECONDS + 120) * 1000;

function manifest(obj: Record<string, unknown>): string {
  return JSON.stringify(obj);
}

// A script for the hook image's Node (no shell there): tries each write and prints one line per target.
const WRITE_PROBE = `
const fs = require('fs');
const out = { uid: process.getuid(), gid: process.getgid(), groups: process.getgroups() };
for (const p of process.argv.slice(1)) {
  try { fs.writeFileSync(p, 'x'); const st = fs.statSync(p); out[p] = 'ok gid=' + st.gid; }
  catch (e) { out[p] = e.code; }
}
console.log(JSON.stringify(out));
`;

// One cluster for the file (root hooks, registered only in this mode): started unless already running, stopped
// at the end only when started here (E2E_KEEP_CLUSTER=1 keeps it).
let cluster: Cluster;
if (REAL) {
  before(async function () {
    this.timeout(300_000);
    cluster = await ensureCluster();
    console.log(`    [real node] cluster ${cluster.startedHere ? `started in ${cluster.upSeconds.toFixed(1)} s` : 'already running, reused'}`);
  });
  after(async function () {
    this.timeout(120_000);
    await releaseCluster(cluster);
  });
}

(REAL ? describe : () => {})('real node (CLUSTER_NODE=real): kubelet, containerd, runc', function () {
  this.timeout(240_000);
  const ns = testNamespace('real-node');

  before(async () => {
    await cluster.kubectlOk(['create', 'namespace', ns]);
  });
  after(async () => {
    if (cluster && !process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  it('registers a real kubelet of the control plane release on containerd', async () => {
    const nodes = await cluster.kubectlJson(['get', 'nodes']);
    expect(nodes.items).to.have.length(1);
    const info = nodes.items[0].status.nodeInfo;
    const server = await cluster.kubectlJson(['version']);
    expect(info.kubeletVersion).to.equal(server.serverVersion.gitVersion);
    expect(info.containerRuntimeVersion).to.match(/^containerd:\/\//);
    expect(nodes.items[0].status.conditions.find((c: any) => c.type === 'Ready').status).to.equal('True');
    // The stand-in reports a made-up machine; a kubelet reads the real one.
    expect(info.machineID.length + info.kernelVersion.length).to.be.greaterThan(0);
  });

  it('enforces runAsUser 1000 and a read-only root: writes land only on volumes, with fsGroup on the local volume', async () => {
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], {
      input: manifest({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'data' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      }),
    });
    // Bound before the pod exists: a pod the scheduler found unschedulable (claim not yet bound) was once left
    // unscheduled for minutes after the binding, which is the scheduler's queueing, not what this test is about.
    await waitFor(
      'claim data Bound',
      async () => ((await cluster.kubectlJson(['get', 'pvc', '-n', ns, 'data'])).status?.phase === 'Bound' ? true : undefined),
      60_000,
      500,
    );
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], {
      input: manifest({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'writer' },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'w',
              image: HOOK_IMAGE,
              command: [NODE, '-e', WRITE_PROBE],
              args: ['/app/x', '/tmp/x', '/etc/x', '/x', '/scratch/x', '/data/x'],
              securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'scratch', mountPath: '/scratch' },
                { name: 'data', mountPath: '/data' },
              ],
            },
          ],
          volumes: [
            { name: 'scratch', emptyDir: {} },
            { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
          ],
        },
      }),
    });
    const pod = await waitForPodDone(cluster, ns, 'writer', 120_000);
    const logs = await cluster.kubectlOk(['logs', '-n', ns, 'writer']);
    expect(pod.status.phase, logs).to.equal('Succeeded');
    const r = JSON.parse(logs.trim().split('\n').pop()!);
    expect(r.uid).to.equal(1000);
    expect(r.gid).to.equal(1000);
    expect(r.groups).to.include(2000);
    for (const p of ['/app/x', '/tmp/x', '/etc/x', '/x']) expect(r[p], p).to.equal('EROFS');
    expect(r['/scratch/x']).to.match(/^ok /);
    // The local volume was created root-owned 0755: only the kubelet's fsGroup handling lets uid 1000 write there.
    expect(r['/data/x']).to.equal('ok gid=2000');
  });

  it('runs kubectl exec in the container, as its user', async () => {
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], {
      input: manifest({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'execme' },
        spec: {
          securityContext: { runAsUser: 1000, runAsGroup: 1000 },
          containers: [{ name: 'c', image: HOOK_IMAGE, command: [NODE, '-e', 'setInterval(() => {}, 1 << 30)'] }],
        },
      }),
    });
    await cluster.kubectlOk(['wait', '-n', ns, '--for=condition=Ready', 'pod/execme', '--timeout=90s'], { timeoutMs: 100_000 });
    const out = await cluster.kubectlOk(['exec', '-n', ns, 'execme', '--', NODE, '-p', 'process.getuid() + " " + require("os").hostname()']);
    expect(out.trim()).to.equal('1000 execme');
    const bad = await cluster.kubectl(['exec', '-n', ns, 'execme', '--', '/bin/sh', '-c', 'true']);
    expect(bad.code, 'the hook image has no shell').to.not.equal(0);
  });

  it('runs exec probes for real: a failing readiness command keeps the pod unready', async () => {
    const probePod = (name: string, code: number) =>
      manifest({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: {
          containers: [
            {
              name: 'c',
              image: HOOK_IMAGE,
              command: [NODE, '-e', 'setInterval(() => {}, 1 << 30)'],
              readinessProbe: { exec: { command: [NODE, '-e', `process.exit(${code})`] }, periodSeconds: 2, failureThreshold: 1 },
            },
          ],
        },
      });
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], { input: probePod('probe-ok', 0) });
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], { input: probePod('probe-fail', 3) });
    await cluster.kubectlOk(['wait', '-n', ns, '--for=condition=Ready', 'pod/probe-ok', '--timeout=90s'], { timeoutMs: 100_000 });
    const failing = await waitFor(
      'an Unhealthy event for probe-fail',
      async () => {
        const ev = await cluster.kubectlJson(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=probe-fail,reason=Unhealthy']);
        return ev.items.length > 0 ? ev.items[0] : undefined;
      },
      90_000,
      1000,
    );
    expect(failing.message).to.match(/Readiness probe failed/);
    const pod = await cluster.kubectlJson(['get', 'pod', '-n', ns, 'probe-fail']);
    expect(pod.status.conditions.find((c: any) => c.type === 'Ready').status).to.equal('False');
    expect(pod.status.containerStatuses[0].state.running).to.not.equal(undefined);
  });

  it('gives pods cluster DNS and the kubernetes Service through kube-proxy', async () => {
    const script = `
      const dns = require('dns').promises;
      (async () => {
        const a = await dns.lookup('kubernetes.default.svc.cluster.local');
        const res = await fetch('https://kubernetes.default.svc/livez', { signal: AbortSignal.timeout(5000) }).catch((e) => ({ status: String(e.cause?.code ?? e) }));
        console.log(JSON.stringify({ address: a.address, env: process.env.KUBERNETES_SERVICE_HOST, status: res.status }));
      })();`;
    await cluster.kubectlOk(['apply', '-n', ns, '-f', '-'], {
      input: manifest({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'dns' },
        spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: HOOK_IMAGE, command: [NODE, '-e', script], env: [{ name: 'NODE_TLS_REJECT_UNAUTHORIZED', value: '0' }] }] },
      }),
    });
    const pod = await waitForPodDone(cluster, ns, 'dns', 90_000);
    const logs = await cluster.kubectlOk(['logs', '-n', ns, 'dns']);
    expect(pod.status.phase, logs).to.equal('Succeeded');
    const r = JSON.parse(logs.trim().split('\n').pop()!);
    const svc = await cluster.kubectlJson(['get', 'service', '-n', 'default', 'kubernetes']);
    expect(r.address).to.equal(svc.spec.clusterIP);
    expect(r.env).to.equal(svc.spec.clusterIP);
    // Anonymous requests are refused (401) or allowed (200) by the apiserver: either way the answer came from it.
    expect([200, 401, 403]).to.include(r.status);
  });
});

// The chart and its guard on the real node, with every security context enforced: real Qdrant (the images hold the
// binaries from QDRANT_BIN_DIR), the startup-check init container under a read-only root, the pre-upgrade Job and its
// worker pods (Qdrant's uid, no service-account token, read-only root) archiving onto local volumes that only the
// pod's fsGroup makes writable, the staged rollout, the post-upgrade Job and helm test; then a refused upgrade, and
// a peer whose volume lost its raft state held back by the startup check.
for (const helm of HELM_MAJORS) {
  (REAL ? describe : () => {})(`real node: the chart under ${helm}, install, guarded upgrade 1.13.4 -> 1.13.5, refused skip to 1.16.3`, function () {
    this.timeout(STEP_MS);
    let rel: GuardRelease;
    let ids: Map<number, string>;
    const values = (tag: string): Values => {
      const v = mergeValues(baseValues(), {
        image: { tag },
        // Real Qdrant restarts take longer than the emulator's: 35 s per peer keeps the post-upgrade deadline
        // (3 x 35 + 60 + 30 = 195 s) under the helm --timeout of the e2e support (210 s).
        upgradeGuard: { stagedRollout: { perPeerSeconds: 35 }, postUpgrade: { timeoutSeconds: 120 } },
      });
      delete v.podAnnotations; // the stand-in's emulator pin means nothing here
      return v;
    };

    before(async () => {
      rel = new GuardRelease(cluster, helm, `rn-${helm === 'helm3' ? 'h3' : 'h4'}`, testNamespace(`real-${helm}`));
    });
    after(async () => {
      if (cluster && rel && !process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
    });
    dumpOnFailure(() => rel);

    it('installs 3 real Qdrant peers whose startup check passed under a read-only root', async () => {
      const r = await rel.install(values('v1.13.4'));
      expect(r.code, r.output.slice(-3000)).to.equal(0);
      const pods = await rel.waitPodsReady(3, ':v1.13.4', 120_000);
      for (const p of pods) expect(p.startupCheck, p.name).to.deep.include({ exitCode: 0 });
      const sts = await rel.statefulSetObject();
      const spec = sts.spec.template.spec;
      const check = spec.initContainers.find((c: any) => c.name === 'upgrade-guard-startup-check');
      expect(check.securityContext.readOnlyRootFilesystem).to.equal(true);
      expect(spec.containers.find((c: any) => c.name === 'qdrant').securityContext.readOnlyRootFilesystem).to.equal(true);
      ids = await rel.peerIds();
      expect(new Set(ids.values()).size).to.equal(3);
    });

    it('passes helm test', async () => {
      const r = await rel.test();
      expect(r.code, r.output.slice(-3000)).to.equal(0);
      expect(r.output).to.contain('PASS');
    });

    it('upgrades under the guard: workers without a token on a read-only root archive as uid 1000 onto fsGroup volumes; peers keep their ids', async () => {
      // The worker pods are deleted by the run that made them: watch them while the upgrade runs.
      const watch = spawn(
        kubectlBin,
        ['get', 'pods', '-n', rel.namespace, '-l', 'app.kubernetes.io/component=upgrade-guard-worker', '--watch', '-o',
          'jsonpath={.metadata.name}|{.status.phase}|{.spec.automountServiceAccountToken}|{.spec.securityContext.runAsUser}|' +
          '{.spec.containers[0].securityContext.readOnlyRootFilesystem}|{.spec.volumes[*].name}{"\\n"}'],
        { env: { ...process.env, KUBECONFIG: cluster.kubeconfig } },
      );
      let seen = '';
      watch.stdout.on('data', (d) => (seen += d));
      let r: Awaited<ReturnType<GuardRelease['upgrade']>>;
      try {
        r = await rel.upgrade(values('v1.13.5'));
      } finally {
        watch.kill();
      }
      expect(r.code, r.output.slice(-3000)).to.equal(0);
      const workers = new Map<string, string[]>();
      for (const line of seen.split('\n').filter(Boolean)) workers.set(line.split('|')[0], line.split('|'));
      expect(workers.size, `worker pods seen:\n${seen}`).to.equal(3);
      for (const [name, [, , automount, uid, readOnly, volumes]] of workers) {
        expect(automount, name).to.equal('false');
        expect(uid, name).to.equal('1000');
        expect(readOnly, name).to.equal('true');
        expect(volumes.split(' ').some((v) => v.startsWith('kube-api-access')), `${name} volumes: ${volumes}`).to.equal(false);
      }
      expect([...workers.values()].map((w) => w[1]), seen).to.deep.equal(['Succeeded', 'Succeeded', 'Succeeded']);
      await rel.waitPodsReady(3, ':v1.13.5', 180_000);
      expect(await rel.peerIds()).to.deep.equal(ids);
      for (const component of ['pre-upgrade', 'post-upgrade'] as const) {
        expect((await rel.jobSeconds(component)).outcome, component).to.match(/^Complete\b/);
      }
      for (const o of [0, 1, 2]) {
        const archives = await rel.archives(o);
        expect(archives, `ordinal ${o}`).to.have.length(1);
        expect(archives[0]).to.match(new RegExp(`^raft-${rel.statefulset}-${o}-1\\.13\\.4-to-1\\.13\\.5-`));
        const folder = await rel.pvFolder(o);
        const st = fs.statSync(path.join(folder, '.upgrade-guard', archives[0]));
        expect(st.uid, 'archive owner: the worker ran as Qdrant').to.equal(1000);
        // The volume was made root:root 0755; the kubelet gave it the pod's fsGroup (setgid, group-writable).
        const root = fs.statSync(folder);
        expect(root.gid).to.equal(1000);
        expect(root.mode & 0o2070).to.equal(0o2070);
      }
    });

    it('refuses an upgrade that skips minor versions, and leaves the peers running', async () => {
      const before = await rel.pods();
      const r = await rel.upgrade(values('v1.16.3'));
      expect(r.code, `should have been refused:\n${r.output.slice(-2000)}`).to.not.equal(0);
      expect(r.output).to.contain('pre-upgrade hooks failed');
      const after = await rel.pods();
      expect(after.map((p) => `${p.uid} ${p.image}`)).to.deep.equal(before.map((p) => `${p.uid} ${p.image}`));
      expect(await rel.peerIds()).to.deep.equal(ids);
    });

    it('stops a peer whose volume lost raft_state.json in its startup check, before Qdrant can mint a new id', async () => {
      // Scale down first so nothing runs on the volume while its raft state goes (a running Qdrant rewrites it).
      const pod2 = `${rel.statefulset}-2`;
      await cluster.kubectlOk(['scale', 'statefulset', '-n', rel.namespace, rel.statefulset, '--replicas=2']);
      await waitFor(`${pod2} gone`, async () => ((await rel.pods()).some((p) => p.ordinal === 2) ? undefined : true), 90_000, 500);
      const pv2 = await rel.pvFolder(2);
      fs.rmSync(path.join(pv2, 'raft_state.json'));
      await cluster.kubectlOk(['scale', 'statefulset', '-n', rel.namespace, rel.statefulset, '--replicas=3']);
      const refused = await waitFor(
        `the startup check of ${pod2} to refuse`,
        async () => {
          const p = (await rel.pods()).find((x) => x.ordinal === 2);
          return p?.startupCheck && p.startupCheck.exitCode !== 0 ? p : undefined;
        },
        90_000,
        500,
      );
      expect(refused.startupCheck!.exitCode).to.equal(1);
      expect(refused.startupCheck!.message).to.match(/REFUSED.*volume\.state/);
      expect(refused.ready).to.equal(false);
      expect(refused.phase).to.equal('Pending');
      expect(fs.existsSync(path.join(pv2, 'raft_state.json')), 'Qdrant never started on the volume').to.equal(false);
    });
  });
}
