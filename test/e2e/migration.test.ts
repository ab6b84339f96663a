// End to end: a release of the OFFICIAL chart (qdrant/qdrant-helm 1.19.0, vendored under test/fixtures/official-chart)
// moved to this chart, on the embedded control plane, under Helm 3 and Helm 4, with the real Qdrant server (the
// kubelet stand-in runs the binary of the image tag from QDRANT_BIN_DIR). Walk, each step from the state the previous
// one left:
//  1. `helm install` of the official chart: 3 peers of Qdrant 1.13.4, an API key, a collection with points;
//  2. `helm upgrade --reuse-values` to this chart is refused at render time, naming the recipes that work, and
//     changes nothing;
//  3. the migration as the README writes it (`-f values.yaml --set image.tag=<running tag>`), guarded and staged:
//     while the official revision's pods still run, one of them is deleted and comes back on that revision, mounting
//     `local.yaml` from this chart's Secret, and still refuses a request without the key;
//  4. one Qdrant patch version up with `--reset-then-reuse-values` (the README's upgrade recipe), guarded;
// and after every step: the PVC UIDs unchanged, every peer under its original id, the point count unchanged, a
// request without the key refused by every pod. Then the official chart's snapshotRestoration, end to end on one
// peer. Skipped, with the reason, when QDRANT_BIN_DIR lacks 1.13.4 or 1.13.5 (failing instead when CI is set).
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { atTierEnd, sharedCluster } from './support/guard-cluster.js';
import { pvcFolder, repoRoot, testNamespace, waitFor } from './support/cluster.js';
import { dumpOnFailure, Walk } from './support/guard-diagnostics.js';
import {
  baseValues,
  chartDir,
  GuardRelease,
  HELM_MAJORS,
  HELM_TIMEOUT_SECONDS,
  HOOK_IMAGE_REPOSITORY,
  mergeValues,
  POST_UPGRADE_TIMEOUT_SECONDS,
  PRE_UPGRADE_TIMEOUT_SECONDS,
  type HelmRun,
  type QdrantPod,
  type Values,
} from './support/guard-release.js';
import { qdrantRan, realQdrantSkipReason, realQdrantValues, standinQdrantBinDir } from './support/real-qdrant.js';
import { qdrantBinDir } from '../support/real-qdrant/binaries.js';

const OFFICIAL_CHART = path.join(repoRoot, 'test/fixtures/official-chart/qdrant-1.19.0');
const VERSIONS = ['1.13.4', '1.13.5'];
const API_KEY = 'e2e-migration-key-5b1f0c';
const COLLECTION = 'docs';
const POINTS = 300;
/** Each staged peer may wait while the test restarts an old-revision pod beside it. */
const PER_PEER_SECONDS = 60;
const STEP_MS = (HELM_TIMEOUT_SECONDS + 120) * 1000;

/**
 * The values file a user of the official chart has: 3 peers, a pinned tag, an API key. `updateVolumeFsOwnership`
 * is off because the stand-in runs the official chart's root `chown` init container as a host process, which it
 * cannot be; the runtime annotation makes the stand-in run real Qdrant; a 1 s readiness probe only saves time.
 */
function userValues(): Values {
  return {
    replicaCount: 3,
    image: { tag: 'v1.13.4' },
    apiKey: API_KEY,
    updateVolumeFsOwnership: false,
    readinessProbe: { initialDelaySeconds: 1, periodSeconds: 1 },
    ...realQdrantValues(),
  };
}

/** What this test adds for the guard: its image as the stand-in maps it, and deadlines sized for a test. */
function guardValues(): Values {
  return {
    upgradeGuard: {
      image: { repository: HOOK_IMAGE_REPOSITORY },
      preUpgrade: { timeoutSeconds: PRE_UPGRADE_TIMEOUT_SECONDS },
      postUpgrade: { timeoutSeconds: POST_UPGRADE_TIMEOUT_SECONDS },
      stagedRollout: { perPeerSeconds: PER_PEER_SECONDS },
    },
  };
}

function expectHelmOk(r: HelmRun): void {
  expect(r.code, `${r.what} exited ${r.code}:\n${r.output.slice(-3000)}`).to.equal(0);
}

/** A request to one pod's REST port, with the API key or (key null) without; answers status and body. */
async function qdrant(pod: QdrantPod, method: string, p: string, body?: unknown, key: string | null = API_KEY): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers['api-key'] = key;
  const res = await fetch(`http://${pod.ip}:6333${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  return { status: res.status, text: await res.text() };
}

async function qdrantOk(pod: QdrantPod, method: string, p: string, body?: unknown): Promise<string> {
  const r = await qdrant(pod, method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p} on ${pod.name} answered ${r.status}: ${r.text.slice(0, 400)}`);
  return r.text;
}

async function peerIdOf(pod: QdrantPod): Promise<string> {
  const text = await qdrantOk(pod, 'GET', '/cluster');
  const id = /"peer_id"\s*:\s*(\d+)/.exec(text)?.[1];
  if (!id) throw new Error(`GET /cluster on ${pod.name}: no peer_id in ${text.slice(0, 300)}`);
  return id; // a decimal string: peer ids are u64
}

async function countPoints(pod: QdrantPod): Promise<number> {
  const text = await qdrantOk(pod, 'POST', `/collections/${COLLECTION}/points/count`, { exact: true });
  const m = /"count"\s*:\s*(\d+)/.exec(text);
  if (!m) throw new Error(`count on ${pod.name}: ${text.slice(0, 300)}`);
  return Number(m[1]);
}

/** Without the key, Qdrant answers 401 (or 403 before 1.14) to anything but the health endpoints. */
async function expectRefusedWithoutKey(pod: QdrantPod): Promise<void> {
  const r = await qdrant(pod, 'GET', '/collections', undefined, null);
  expect(r.status, `${pod.name} answered GET /collections without the API key with ${r.status}: ${r.text.slice(0, 200)}`).to.be.oneOf([401, 403]);
}

type Baseline = { pvcUids: Map<string, string>; peerIds: Map<number, string>; points: number };

async function pvcUids(rel: GuardRelease): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let o = 0; o < 3; o++) {
    const name = `qdrant-storage-${rel.statefulset}-${o}`;
    const pvc = await rel.cluster.kubectlJson(['get', 'pvc', '-n', rel.namespace, name]);
    out.set(name, pvc.metadata.uid);
  }
  return out;
}

/** The invariants every step keeps: volumes, identities, data, and the key enforced by every pod. */
async function expectUnchanged(rel: GuardRelease, base: Baseline, imageSuffix: string, step: string): Promise<void> {
  const pods = await rel.waitPodsReady(3, imageSuffix, 120_000);
  expect(Object.fromEntries(await pvcUids(rel)), `${step}: PVC UIDs`).to.deep.equal(Object.fromEntries(base.pvcUids));
  const ids = new Map<number, string>();
  for (const p of pods) ids.set(p.ordinal, await peerIdOf(p));
  expect(Object.fromEntries(ids), `${step}: peer ids by ordinal`).to.deep.equal(Object.fromEntries(base.peerIds));
  for (const p of pods) {
    expect(await countPoints(p), `${step}: points counted through ${p.name}`).to.equal(base.points);
    await expectRefusedWithoutKey(p);
  }
  console.log(`      [migration] ${step}: 3 PVCs, 3 peer ids, ${base.points} points unchanged; every pod refuses a request without the key`);
}

/** Runs helm with values files written to a temporary folder (removed afterwards). */
async function helmWithFiles(rel: GuardRelease, what: string, files: Values[], args: (files: string[]) => string[]): Promise<HelmRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migration-values-'));
  try {
    const paths = files.map((v, i) => {
      const f = path.join(dir, `values-${i}.yaml`);
      fs.writeFileSync(f, JSON.stringify(v, null, 1)); // JSON is YAML
      return f;
    });
    return await rel.helmRun(what, args(paths), HELM_TIMEOUT_SECONDS);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const skipReason = realQdrantSkipReason(VERSIONS);

for (const helm of HELM_MAJORS) {
  const short = helm === 'helm3' ? 'h3' : 'h4';

  describe(`migration from the official chart under ${helm}: official 1.19.0 release (3 peers, API key, points) -> this chart, guarded -> one Qdrant patch up`, function () {
    const walk = new Walk();
    let rel: GuardRelease;
    let base: Baseline;
    const timeout = `${HELM_TIMEOUT_SECONDS}s`;

    before(function () {
      if (skipReason) {
        console.log(`      [migration] skipped: ${skipReason}`);
        this.skip();
      }
      const cluster = sharedCluster();
      const seen = standinQdrantBinDir();
      if (seen !== qdrantBinDir()) {
        throw new Error(`the running e2e cluster's kubelet stand-in sees QDRANT_BIN_DIR=${seen ?? '(unset)'}, this run ${qdrantBinDir()}: stop it (test/cluster/down.sh) and run again`);
      }
      rel = new GuardRelease(cluster, helm, `mig-${short}`, testNamespace(`migration-${helm}`));
      atTierEnd(async () => {
        if (!cluster.startedHere || process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
      });
    });
    dumpOnFailure(() => rel);

    walk.step('1. the official chart installs 3 real Qdrant 1.13.4 peers with an API key; a replicated collection gets its points', STEP_MS, async () => {
      // No --wait here: real Qdrant peers 1 and 2 exit once while peer 0 is not listening yet (the official chart
      // starts them side by side) and restart, and Helm 4's watcher gives up at the first exit. The pods are waited
      // for below instead.
      const install = await helmWithFiles(rel, 'install (official chart)', [userValues()], (f) => [
        'install', rel.release, OFFICIAL_CHART, '--namespace', rel.namespace, '--create-namespace', '-f', f[0]!, '--timeout', timeout,
      ]);
      expectHelmOk(install);
      const pods = await rel.waitPodsReady(3, ':v1.13.4', 120_000);
      const ran = await qdrantRan(rel);
      for (const p of pods) expect(ran.get(p.ordinal), `${p.name} runs real Qdrant`).to.match(/^real 1\.13\.4 /);
      const sts = await rel.statefulSetObject();
      expect(sts.metadata.labels['helm.sh/chart']).to.equal('qdrant-1.19.0');
      // The official chart gives Qdrant its key only through local.yaml, mounted from the Secret by subPath.
      const mounts = sts.spec.template.spec.containers.find((c: { name: string }) => c.name === 'qdrant').volumeMounts;
      expect(mounts).to.deep.include({ name: 'qdrant-secret', mountPath: '/qdrant/config/local.yaml', subPath: 'local.yaml' });

      await qdrantOk(pods[0]!, 'PUT', `/collections/${COLLECTION}`, { vectors: { size: 4, distance: 'Dot' }, shard_number: 3, replication_factor: 2 });
      for (let start = 1; start <= POINTS; start += 100) {
        const points = [];
        for (let id = start; id < start + 100 && id <= POINTS; id++) points.push({ id, vector: [id % 7, id % 11, id % 13, 1], payload: { n: id } });
        await qdrantOk(pods[0]!, 'PUT', `/collections/${COLLECTION}/points?wait=true`, { points });
      }
      const peerIds = new Map<number, string>();
      for (const p of pods) peerIds.set(p.ordinal, await peerIdOf(p));
      expect(new Set(peerIds.values()).size, 'three distinct peer ids').to.equal(3);
      base = { pvcUids: await pvcUids(rel), peerIds, points: await countPoints(pods[2]!) };
      expect(base.points).to.equal(POINTS);
      await expectUnchanged(rel, base, ':v1.13.4', 'official chart installed');
    });

    walk.step('2. `helm upgrade --reuse-values` to this chart is refused before anything changes, naming -f and --reset-then-reuse-values', STEP_MS, async () => {
      const before = await rel.statefulSetObject();
      const r = await rel.helmRun('upgrade --reuse-values (refused)', [
        'upgrade', rel.release, chartDir, '--namespace', rel.namespace, '--reuse-values', '--set', 'image.tag=v1.13.4', '--timeout', timeout,
      ]);
      expect(r.code, r.output).to.not.equal(0);
      for (const line of ['VALUES VALIDATION', '`helm upgrade --reuse-values`', '-f values.yaml', '--reset-then-reuse-values']) expect(r.output).to.include(line);
      const after = await rel.statefulSetObject();
      expect(after.metadata.generation, 'the StatefulSet was not touched').to.equal(before.metadata.generation);
      expect(after.metadata.labels['helm.sh/chart']).to.equal('qdrant-1.19.0');
    });

    walk.step(
      '3. the migration (-f values.yaml, the running tag pinned) is guarded and staged; an old-revision pod restarted mid-rollout still enforces the key; every peer keeps its volume, id and points',
      STEP_MS,
      async () => {
        const old = await rel.statefulSetObject();
        const oldRevision: string = old.status.currentRevision;
        const upgrade = helmWithFiles(rel, 'upgrade (migration)', [userValues(), guardValues()], (f) => [
          'upgrade', rel.release, chartDir, '--namespace', rel.namespace, '-f', f[0]!, '-f', f[1]!, '--set', 'image.tag=v1.13.4', '--timeout', timeout, ...rel.waitArgs(),
        ]);
        // While the staged rollout has not reached ordinal 0 (highest first), the official revision runs it. Delete
        // it: the controller recreates it on that revision, with the official pod spec mounting local.yaml from this
        // chart's Secret. Without the key in that file Qdrant would start open (config/local is optional).
        const restarted = await waitFor(
          'the new revision applied with ordinal 0 still on the official one',
          async () => {
            const sts = await rel.statefulSetObject();
            if (sts.status.updateRevision === oldRevision) return undefined;
            const pod0 = await rel.cluster.kubectlJson(['get', 'pod', '-n', rel.namespace, `${rel.statefulset}-0`]);
            return pod0.metadata.labels['controller-revision-hash'] === oldRevision ? pod0.metadata.uid : undefined;
          },
          HELM_TIMEOUT_SECONDS * 1000,
          200,
        );
        await rel.cluster.kubectlOk(['delete', 'pod', '-n', rel.namespace, `${rel.statefulset}-0`, '--wait=false']);
        const pod0 = await waitFor(
          'ordinal 0 back, ready, on the official revision',
          async () => {
            const pods = await rel.pods();
            const p = pods.find((x) => x.ordinal === 0);
            if (!p || p.uid === restarted || !p.ready) return undefined;
            const obj = await rel.cluster.kubectlJson(['get', 'pod', '-n', rel.namespace, p.name]);
            expect(obj.metadata.labels['controller-revision-hash'], 'ordinal 0 came back on the official revision').to.equal(oldRevision);
            expect(obj.spec.containers[0].volumeMounts).to.deep.include({ name: 'qdrant-secret', mountPath: '/qdrant/config/local.yaml', subPath: 'local.yaml' });
            return p;
          },
          120_000,
          300,
        );
        await expectRefusedWithoutKey(pod0);
        expect(await peerIdOf(pod0), 'ordinal 0 restarted as itself').to.equal(base.peerIds.get(0));
        console.log(`      [migration] ${pod0.name} restarted on the official revision mid-rollout: local.yaml served, the key enforced`);

        const r = await upgrade;
        expectHelmOk(r);
        const sts = await rel.statefulSetObject();
        expect(sts.metadata.labels['helm.sh/chart']).to.match(/^qdrant-0\./);
        expect(sts.status.currentRevision).to.equal(sts.status.updateRevision);
        const spec = sts.spec.template.spec;
        expect(spec.initContainers.map((c: { name: string }) => c.name)).to.deep.equal(['upgrade-guard-startup-check']);
        const record = await rel.record();
        expect(record?.verdicts?.postUpgrade, 'post-upgrade verified the migration').to.equal('pass');
        for (const [ordinal, id] of base.peerIds) expect(record.peers[String(ordinal)].peerId, `record of ordinal ${ordinal}`).to.equal(id);
        await expectUnchanged(rel, base, ':v1.13.4', 'migrated to this chart');
      },
    );

    walk.step('4. one Qdrant patch up with --reset-then-reuse-values (the README recipe), guarded; `helm test` passes', STEP_MS, async () => {
      const r = await rel.helmRun('upgrade --reset-then-reuse-values 1.13.5', [
        'upgrade', rel.release, chartDir, '--namespace', rel.namespace, '--reset-then-reuse-values', '--set', 'image.tag=v1.13.5', '--timeout', timeout, ...rel.waitArgs(),
      ]);
      expectHelmOk(r);
      const ran = await qdrantRan(rel);
      for (const o of [0, 1, 2]) expect(ran.get(o), `ordinal ${o} runs real Qdrant 1.13.5`).to.match(/^real 1\.13\.5 /);
      const record = await rel.record();
      expect(record?.verdicts?.postUpgrade).to.equal('pass');
      await expectUnchanged(rel, base, ':v1.13.5', 'upgraded to 1.13.5');
      const t = await rel.test();
      expectHelmOk(t);
      expect(t.output).to.contain(`converged on 1.13.5`);
    });
  });
}

// The official chart's snapshotRestoration, here: one real Qdrant 1.13.5 peer snapshots a collection onto its
// snapshots volume, loses the collection, and gets it back from `--snapshot` by a guarded `helm upgrade` that sets
// snapshotRestoration (pvcName empty: the file is on the release's own snapshots volume, as the official README
// describes); turning it off again keeps the collection.
for (const helm of HELM_MAJORS) {
  const short = helm === 'helm3' ? 'h3' : 'h4';

  describe(`snapshotRestoration as in the official chart under ${helm}: a collection restored from its snapshot by a guarded upgrade`, function () {
    const walk = new Walk();
    let rel: GuardRelease;
    let peerId: string;
    let snapshot: string;
    const values = (more: Values = {}): Values =>
      mergeValues(baseValues(), realQdrantValues(), { replicaCount: 1, image: { tag: 'v1.13.5' }, snapshotPersistence: { enabled: true, size: '1Gi' } }, more);

    before(function () {
      if (skipReason) {
        console.log(`      [restoration] skipped: ${skipReason}`);
        this.skip();
      }
      const cluster = sharedCluster();
      rel = new GuardRelease(cluster, helm, `sr-${short}`, testNamespace(`restoration-${helm}`));
      atTierEnd(async () => {
        if (!cluster.startedHere || process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
      });
    });
    dumpOnFailure(() => rel);

    walk.step('one real 1.13.5 peer: a collection with points, its snapshot on the snapshots volume, then the collection deleted', STEP_MS, async () => {
      expectHelmOk(await rel.install(values()));
      const [pod] = await rel.waitPodsReady(1, ':v1.13.5', 120_000);
      peerId = await peerIdOf(pod!);
      await qdrantOk(pod!, 'PUT', `/collections/${COLLECTION}`, { vectors: { size: 4, distance: 'Dot' } });
      const points = [];
      for (let id = 1; id <= 100; id++) points.push({ id, vector: [id % 7, id % 11, id % 13, 1] });
      await qdrantOk(pod!, 'PUT', `/collections/${COLLECTION}/points?wait=true`, { points });
      const created = await qdrantOk(pod!, 'POST', `/collections/${COLLECTION}/snapshots?wait=true`);
      const name = /"name"\s*:\s*"([^"]+\.snapshot)"/.exec(created)?.[1];
      expect(name, created).to.be.a('string');
      // Relative to Qdrant's working directory /qdrant, so ./snapshots is /qdrant/snapshots, as Qdrant reads it. The
      // stand-in runs Qdrant in a folder of its own, not a chroot: an absolute container path does not exist there.
      snapshot = `./snapshots/${COLLECTION}/${name}`;
      const folder = await pvcFolder(rel.cluster, rel.namespace, `qdrant-snapshots-${rel.statefulset}-0`);
      expect(fs.existsSync(path.join(folder, COLLECTION, name!)), 'the snapshot file is on the snapshots volume').to.equal(true);
      await qdrantOk(pod!, 'DELETE', `/collections/${COLLECTION}?wait=true`);
      expect((await qdrant(pod!, 'GET', `/collections/${COLLECTION}`)).status).to.equal(404);
    });

    walk.step('helm upgrade with snapshotRestoration (pvcName empty) restores the collection, guarded, the peer keeps its id', STEP_MS, async () => {
      const r = await rel.upgrade(values({ snapshotRestoration: { enabled: true, pvcName: '', snapshots: [`${snapshot}:${COLLECTION}`] } }), { wait: true });
      expectHelmOk(r);
      const cm = await rel.cluster.kubectlJson(['get', 'configmap', '-n', rel.namespace, rel.statefulset]);
      expect(cm.data['initialize.sh']).to.contain(`--snapshot ${snapshot}:${COLLECTION}`);
      const [pod] = await rel.waitPodsReady(1, ':v1.13.5', 120_000);
      expect(await peerIdOf(pod!)).to.equal(peerId);
      expect(await countPoints(pod!)).to.equal(100);
      expect((await rel.record())?.verdicts?.postUpgrade).to.equal('pass');
      console.log(`      [restoration] ${COLLECTION} restored from ${path.basename(snapshot)}: 100 points, peer ${peerId} kept`);
    });

    walk.step('turning snapshotRestoration off again restarts the peer without --snapshot; the collection stays', STEP_MS, async () => {
      expectHelmOk(await rel.upgrade(values(), { wait: true }));
      const cm = await rel.cluster.kubectlJson(['get', 'configmap', '-n', rel.namespace, rel.statefulset]);
      expect(cm.data['initialize.sh']).to.not.contain('--snapshot');
      const [pod] = await rel.waitPodsReady(1, ':v1.13.5', 120_000);
      expect(await peerIdOf(pod!)).to.equal(peerId);
      expect(await countPoints(pod!)).to.equal(100);
    });
  });
}
