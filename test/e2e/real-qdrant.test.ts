// End to end with the REAL Qdrant server: the kubelet stand-in runs the Qdrant binary of each pod's image tag from
// QDRANT_BIN_DIR (the release pins it with the stand-in's pod annotation; test/cluster/README.md), with the chart's
// entrypoint, config file, env and args as rendered. Under Helm 3 and Helm 4:
//  - three 1.13.4 peers with a replicated collection; a guarded staged upgrade to 1.13.5; `helm test`; a lost
//    raft_state.json refused by pre-upgrade and by the startup check, restored, the peer back with its points; the
//    state lost after pre-upgrade, so real Qdrant 1.13.5 starts without it: post-upgrade fails with the #6229
//    diagnosis and the staged rollout stops at that peer;
//  - one peer (the seed's case of qdrant/qdrant#6229): 1.13.4 -> 1.13.5 with the state lost after pre-upgrade.
// Skipped, with the reason, when QDRANT_BIN_DIR lacks 1.13.4 or 1.13.5; failing instead when CI is set.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { atTierEnd, sharedCluster } from './support/guard-cluster.js';
import { testNamespace, waitFor } from './support/cluster.js';
import { dumpOnFailure, Walk } from './support/guard-diagnostics.js';
import {
  baseValues,
  GuardRelease,
  HELM_MAJORS,
  HELM_TIMEOUT_SECONDS,
  mergeValues,
  PER_PEER_SECONDS,
  PodTimeline,
  type HelmRun,
  type QdrantPod,
  type Values,
} from './support/guard-release.js';
import {
  clusterPeerIds,
  countPoints,
  createCollection,
  localShardPoints,
  qdrantRan,
  realQdrantSkipReason,
  realQdrantValues,
  standinQdrantBinDir,
  upsertPoints,
} from './support/real-qdrant.js';
import { qdrantBinDir } from '../support/real-qdrant/binaries.js';

const VERSIONS = ['1.13.4', '1.13.5'];
const STEP_MS = (HELM_TIMEOUT_SECONDS + 90) * 1000;
const COLLECTION = 'docs';
const POINTS = 500;

const values = (version: string, ...more: Values[]): Values =>
  mergeValues(baseValues(), realQdrantValues(), { image: { tag: `v${version}` } }, ...more);

function expectHelmOk(r: HelmRun): void {
  expect(r.code, `${r.what} exited ${r.code}:\n${r.output.slice(-3000)}`).to.equal(0);
}

function expectHelmFailed(r: HelmRun, phase: 'pre-upgrade' | 'post-upgrade'): void {
  expect(r.code, `${r.what} should have failed (${phase} hook) but exited 0:\n${r.output.slice(-2000)}`).to.not.equal(0);
  expect(r.output).to.contain(`${phase} hooks failed`);
}

function uidsAndImages(pods: QdrantPod[]): string[] {
  return pods.map((p) => `${p.name} ${p.uid} ${p.image}`);
}

/** Every pod ran the real binary of `version`; the line goes to the test output, so a reader sees which Qdrant ran. */
async function expectRealQdrant(rel: GuardRelease, version: string, ordinals: number[]): Promise<void> {
  const ran = await waitFor(
    `the stand-in's note of which Qdrant ran on ordinals ${ordinals.join(', ')}`,
    async () => {
      const m = await qdrantRan(rel);
      return ordinals.every((o) => m.get(o)?.startsWith(`real ${version} `)) ? m : undefined;
    },
    10_000,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(Object.fromEntries(await qdrantRan(rel)))}`);
  });
  for (const o of ordinals) console.log(`      [qdrant] ${rel.statefulset}-${o}: ${ran.get(o)}`);
}

/**
 * Deletes raft_state.json of `ordinal` as soon as a pre-upgrade archive of that volume appears that was not there
 * before: the state is lost between the guard's check and the restart, which the startup check (off here) would
 * otherwise catch. Answers when it deleted the file.
 */
function loseStateAfterPreUpgrade(rel: GuardRelease, ordinal: number): { done: () => Promise<number | undefined> } {
  let stop = false;
  let deletedAt: number | undefined;
  const loop = (async () => {
    const pv = await rel.pvFolder(ordinal);
    const dir = path.join(pv, '.upgrade-guard');
    const before = new Set(fs.existsSync(dir) ? fs.readdirSync(dir) : []);
    while (!stop && deletedAt === undefined) {
      if (fs.existsSync(dir) && fs.readdirSync(dir).some((n) => /^raft-.*\.tar\.gz$/.test(n) && !before.has(n))) {
        fs.rmSync(path.join(pv, 'raft_state.json'));
        deletedAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    done: async () => {
      stop = true;
      await loop;
      return deletedAt;
    },
  };
}

const skipReason = realQdrantSkipReason(VERSIONS);

for (const helm of HELM_MAJORS) {
  const short = helm === 'helm3' ? 'h3' : 'h4';

  describe(`real Qdrant end to end under ${helm}: three 1.13.4 peers, a guarded upgrade to 1.13.5, a lost state refused and restored, and the #6229 incident diagnosed`, function () {
    const walk = new Walk();
    let rel: GuardRelease;
    let originalIds: Map<number, string>;
    let points: number;
    let shardsOf1: Record<string, number>;

    before(function () {
      if (skipReason) {
        console.log(`      [qdrant] skipped: ${skipReason}`);
        this.skip();
      }
      const cluster = sharedCluster();
      const seen = standinQdrantBinDir();
      if (seen !== qdrantBinDir()) {
        throw new Error(
          `the running e2e cluster's kubelet stand-in sees QDRANT_BIN_DIR=${seen ?? '(unset)'}, this run ${qdrantBinDir()}: ` +
            'it was started by another environment; stop it (test/cluster/down.sh) and run again',
        );
      }
      rel = new GuardRelease(cluster, helm, `rq-${short}`, testNamespace(`real-${helm}`));
      atTierEnd(async () => {
        if (!cluster.startedHere || process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
      });
    });
    dumpOnFailure(() => rel);

    walk.step('installs three real Qdrant 1.13.4 peers, writes a replicated collection, `helm test` passes', STEP_MS, async () => {
      // Real Qdrant exits when its bootstrap peer (pod 0) does not answer yet, and the kubelet restarts it. Helm 4's
      // watcher reads a pod whose container has failed as Failed and ends --wait at once ("1 pods have failed"),
      // so under Helm 4 the install does not wait and the pods are waited for here (Helm 3's wait tolerates restarts).
      expectHelmOk(await rel.install(values('1.13.4'), { wait: helm === 'helm3' }));
      const pods = await rel.waitPodsReady(3, ':v1.13.4', 180_000);
      await expectRealQdrant(rel, '1.13.4', [0, 1, 2]);
      originalIds = await rel.peerIds();
      expect(new Set(originalIds.values()).size, 'three distinct peer ids').to.equal(3);
      // Every peer knows all three (the URIs name pods through the headless service, resolved by real Qdrant).
      for (const p of pods) expect((await clusterPeerIds(p.ip!)).peers).to.deep.equal([...originalIds.values()].sort());

      await createCollection(pods[0]!.ip!, COLLECTION, 3, 2);
      await upsertPoints(pods[0]!.ip!, COLLECTION, POINTS);
      points = await countPoints(pods[2]!.ip!, COLLECTION);
      expect(points).to.equal(POINTS);
      console.log(`      [points] after install: ${COLLECTION}=${points}`);

      const t = await rel.test();
      expectHelmOk(t);
      expect(t.output).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.4`);
    });

    walk.step('guarded staged upgrade to 1.13.5: archives, record, order 2 -> 1 -> 0, every peer back as itself with the points; `helm test` passes', STEP_MS, async () => {
      const timeline = new PodTimeline(rel).start(200);
      let r: HelmRun;
      try {
        r = await rel.upgrade(values('1.13.5'), { wait: true });
      } finally {
        await timeline.stop();
      }
      expectHelmOk(r);
      console.log(`      [timing] guarded staged upgrade 1.13.4 -> 1.13.5 (3 real peers): helm ${r.seconds.toFixed(1)} s`);
      const record = await rel.record();
      expect(record.verdicts).to.deep.include({ preUpgrade: 'pass', postUpgrade: 'pass' });
      for (let i = 0; i < 3; i++) {
        expect(record.peers[String(i)].peerId, `recorded peer id of ordinal ${i}`).to.equal(originalIds.get(i));
        expect(record.peers[String(i)].archive).to.match(new RegExp(`^raft-${rel.statefulset}-${i}-1\\.13\\.4-to-1\\.13\\.5-\\d{8}T\\d{6}Z\\.tar\\.gz$`));
      }
      const replaced = timeline.instances().filter((i) => i.image.endsWith(':v1.13.5'));
      expect(replaced.map((i) => i.ordinal), timeline.describe()).to.deep.equal([2, 1, 0]);
      expect(await rel.jobLog('post-upgrade')).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.5`);

      const pods = await rel.waitPodsReady(3, ':v1.13.5', 10_000);
      await expectRealQdrant(rel, '1.13.5', [0, 1, 2]);
      for (const p of pods) {
        expect(await rel.peerIdOf(p), `${p.name} came back as itself`).to.equal(originalIds.get(p.ordinal));
        expect(await countPoints(p.ip!, COLLECTION), `points through ${p.name}`).to.equal(points);
      }
      shardsOf1 = await localShardPoints(pods[1]!.ip!, COLLECTION);
      expect(Object.keys(shardsOf1).length, 'ordinal 1 holds shard replicas').to.be.at.least(1);
      console.log(`      [points] after the upgrade: ${COLLECTION}=${points}; ordinal 1 holds ${JSON.stringify(shardsOf1)}`);

      const t = await rel.test();
      expectHelmOk(t);
      expect(t.output).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.5`);
    });

    let archive: string;
    walk.step('an upgrade that changes nothing archives every volume at the current commit, restarts nothing', STEP_MS, async () => {
      // An archive at the current commit: the restore below then shows the peer back with nothing to catch up.
      // (An older archive's WAL put back would roll the peer's log below the index the leader recorded for it, and
      // raft-rs panics on the next heartbeat: restore keeps the volume's own, newer WAL for that reason.)
      const before = uidsAndImages(await rel.pods());
      expectHelmOk(await rel.upgrade(values('1.13.5'), { wait: true }));
      expect(uidsAndImages(await rel.pods())).to.deep.equal(before);
      const names = await rel.archives(1);
      expect(names.at(-1), names.join(', ')).to.match(/-1\.13\.5-to-1\.13\.5-\d{8}T\d{6}Z\.tar\.gz$/);
    });

    walk.step('raft_state.json deleted on ordinal 1 while real Qdrant runs: the next upgrade is refused by pre-upgrade, nothing restarts', STEP_MS, async () => {
      const pv1 = await rel.pvFolder(1);
      fs.rmSync(path.join(pv1, 'raft_state.json'));
      const stsBefore = await rel.statefulSetObject();
      const podsBefore = uidsAndImages(await rel.pods());

      const r = await rel.upgrade(values('1.13.5'));
      expectHelmFailed(r, 'pre-upgrade');
      expect((await rel.statefulSetObject()).metadata.generation).to.equal(stsBefore.metadata.generation);
      expect(uidsAndImages(await rel.pods()), 'no pod restarted').to.deep.equal(podsBefore);
      const refused = (await rel.events('UpgradeRefused')).pop();
      expect(refused?.message).to.contain(`volume.state on pvc/qdrant-storage-${rel.statefulset}-1`);
      const log = await rel.jobLog('pre-upgrade');
      expect(log).to.match(/\[FAIL\] volume\.state pvc\/\S+-1 .*\n\s+observed: missing-state/);
      const m = /restore --archive ([^\s`]+) --storage ([^\s`]+?)[.`]*(?:\s|$)/.exec(log);
      expect(m, `the remedy names the archive to restore:\n${log.slice(0, 3000)}`).to.not.equal(null);
      expect(m![2]).to.equal(pv1);
      archive = m![1]!;
      expect(path.basename(archive), 'the newest archive of that volume').to.equal((await rel.archives(1)).at(-1));
      // Real Qdrant did not write the file back while idle: the refusal stands on what the volume holds.
      expect(fs.existsSync(path.join(pv1, 'raft_state.json'))).to.equal(false);
    });

    walk.step('the startup check holds the restarted pod before real Qdrant can mint an id; `restore` brings peer 1 back as itself with its points', 150_000, async () => {
      const pod1 = `${rel.statefulset}-1`;
      const old = (await rel.pods()).find((p) => p.ordinal === 1)!;
      await rel.cluster.kubectlOk(['delete', 'pod', '-n', rel.namespace, pod1, '--wait=true'], { timeoutMs: 60_000 });
      const held = await waitFor(
        `the startup check of the new ${pod1} to refuse`,
        async () => {
          const p = (await rel.pods()).find((x) => x.ordinal === 1 && x.uid !== old.uid);
          return p?.startupCheck && p.startupCheck.exitCode !== 0 ? p : undefined;
        },
        45_000,
      );
      expect(held.startupCheck!.message).to.match(/REFUSED.*volume\.state/);
      expect(held.phase).to.equal('Pending');
      const pv1 = await rel.pvFolder(1);
      expect(fs.existsSync(path.join(pv1, 'raft_state.json')), 'Qdrant never started: no new state').to.equal(false);

      const res = await rel.runCli(['restore', '--archive', archive, '--storage', pv1]);
      expect(res.code, res.stdout + res.stderr).to.equal(0);
      expect(res.stdout).to.contain(`PASS: restored peer ${originalIds.get(1)}`);

      const pods = await rel.waitPodsReady(3, ':v1.13.5', 120_000).catch(async (err: Error) => {
        const log = await rel.cluster.kubectl(['logs', '-n', rel.namespace, pod1, '-c', 'qdrant', '--tail=-1']);
        throw new Error(`${err.message}\nthe restored peer's whole log:\n${log.stdout.split('\n').filter((l) => !/Can't send Raft message over channel/.test(l)).slice(0, 150).join('\n')}`);
      });
      await expectRealQdrant(rel, '1.13.5', [1]);
      expect(await rel.peerIdOf(pods[1]!)).to.equal(originalIds.get(1));
      // The restored peer rejoins the same consensus: three peers, the original ids, and its own shard replicas.
      const seen = await waitFor(
        'ordinal 1 to see the original three peers and hold its points again',
        async () => {
          const ids = await clusterPeerIds(pods[1]!.ip!);
          const local = await localShardPoints(pods[1]!.ip!, COLLECTION);
          return ids.peers.join() === [...originalIds.values()].sort().join() && JSON.stringify(local) === JSON.stringify(shardsOf1) ? { ids, local } : undefined;
        },
        60_000,
      );
      expect(seen.local).to.deep.equal(shardsOf1);
      expect(await countPoints(pods[1]!.ip!, COLLECTION)).to.equal(points);
      console.log(`      [points] after the restore: ${COLLECTION}=${points}; ordinal 1 holds ${JSON.stringify(seen.local)}`);
      const t = await rel.test();
      expectHelmOk(t);
    });

    walk.step('the state lost after pre-upgrade: real 1.13.5 starts without it, post-upgrade fails with the #6229 diagnosis, the rollout stops at that peer', STEP_MS, async () => {
      const podsBefore = await rel.pods();
      // Turning the startup check off changes the pod template, so the staged rollout restarts every peer,
      // ordinal 2 first; nothing stands between the lost state and Qdrant any more.
      const saboteur = loseStateAfterPreUpgrade(rel, 2);
      let r: HelmRun;
      try {
        r = await rel.upgrade(values('1.13.5', { upgradeGuard: { startupCheck: { enabled: false } } }));
      } finally {
        expect(await saboteur.done(), 'raft_state.json of ordinal 2 deleted after its pre-upgrade archive').to.be.a('number');
      }
      expectHelmFailed(r, 'post-upgrade');
      const log = await rel.jobLog('post-upgrade');
      expect(log).to.contain('FAILED');
      expect(log).to.contain('#6229');
      expect(log).to.match(/peer\.(identity-lost|identity|log-loop) pod\/\S+-2/);
      const { seconds, deadline } = await rel.jobSeconds('post-upgrade');
      console.log(`      [timing] post-upgrade failed after ${seconds} s on real Qdrant (Job deadline ${deadline} s)`);
      expect(seconds).to.be.below(PER_PEER_SECONDS);

      // What real Qdrant did: ordinal 2 answers under a new id, and the old one is still a voter beside it.
      const after = await rel.pods();
      const p2 = after.find((p) => p.ordinal === 2)!;
      // The guard usually answers before this Qdrant has even bound its HTTP port.
      const ids = await waitFor(`GET /cluster on ${p2.name}`, () => clusterPeerIds(p2.ip!), 60_000, 500);
      expect(ids.self, 'ordinal 2 minted a new peer id').to.not.equal(originalIds.get(2));
      console.log(`      [qdrant] ordinal 2 now answers as ${ids.self} (was ${originalIds.get(2)}); peers it knows: ${ids.peers.join(', ')}`);
      for (const o of [0, 1]) {
        expect(uidsAndImages(after.filter((p) => p.ordinal === o)), `ordinal ${o} untouched`).to.deep.equal(uidsAndImages(podsBefore.filter((p) => p.ordinal === o)));
      }
      // The data plane still answers on the untouched peers.
      expect(await countPoints(after.find((p) => p.ordinal === 0)!.ip!, COLLECTION)).to.equal(points);
      const t = await rel.test();
      expect(t.code, 'helm test fails too').to.not.equal(0);
    });
  });

  describe(`real Qdrant end to end under ${helm}: one peer, 1.13.4 -> 1.13.5 with the state lost after pre-upgrade (the seed's case)`, function () {
    const walk = new Walk();
    let rel: GuardRelease;
    let originalId: string;

    before(function () {
      if (skipReason) {
        console.log(`      [qdrant] skipped: ${skipReason}`);
        this.skip();
      }
      const cluster = sharedCluster();
      rel = new GuardRelease(cluster, helm, `rq1-${short}`, testNamespace(`real1-${helm}`));
      atTierEnd(async () => {
        if (!cluster.startedHere || process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
      });
    });
    dumpOnFailure(() => rel);

    walk.step('one real 1.13.4 peer with points; the upgrade to 1.13.5 restarts it without its state; post-upgrade fails with the #6229 diagnosis', STEP_MS, async () => {
      expectHelmOk(await rel.install(values('1.13.4', { replicaCount: 1 })));
      const [pod] = await rel.waitPodsReady(1, ':v1.13.4');
      await expectRealQdrant(rel, '1.13.4', [0]);
      originalId = await rel.peerIdOf(pod!);
      await createCollection(pod!.ip!, COLLECTION, 1, 1);
      await upsertPoints(pod!.ip!, COLLECTION, POINTS);
      expect(await countPoints(pod!.ip!, COLLECTION)).to.equal(POINTS);

      const saboteur = loseStateAfterPreUpgrade(rel, 0);
      let r: HelmRun;
      try {
        r = await rel.upgrade(values('1.13.5', { replicaCount: 1, upgradeGuard: { startupCheck: { enabled: false } } }));
      } finally {
        expect(await saboteur.done(), 'raft_state.json deleted after its pre-upgrade archive').to.be.a('number');
      }
      expectHelmFailed(r, 'post-upgrade');
      const log = await rel.jobLog('post-upgrade');
      expect(log).to.contain('#6229');
      expect(log).to.match(/peer\.(identity-lost|identity|log-loop) pod\/\S+-0/);
      const { seconds } = await rel.jobSeconds('post-upgrade');
      console.log(`      [timing] single peer: post-upgrade failed after ${seconds} s on real Qdrant`);

      const [now] = await rel.waitPodsReady(1, ':v1.13.5', 30_000);
      await expectRealQdrant(rel, '1.13.5', [0]);
      const ids = await clusterPeerIds(now!.ip!);
      expect(ids.self).to.not.equal(originalId);
      // The phantom: the old id is still a voter of the new peer's consensus, at the same address.
      expect(ids.peers, 'the old id came back beside the new one').to.include(originalId);
      // Upserts and searches still answer: the data plane hides the incident, which is why the guard looks.
      expect(await countPoints(now!.ip!, COLLECTION)).to.equal(POINTS);
      console.log(`      [qdrant] the lone peer now answers as ${ids.self}; voters it knows: ${ids.peers.join(', ')}`);
    });
  });
}
