// End to end: the staged rollout on a real control plane with the real Helm 3 and Helm 4. One release per
// Helm major: installed with 1 peer, scaled to 3 during a guarded upgrade (6) under Helm's wait (10), then upgraded
// with the peer at ordinal 2 coming back in the #6229 loop (9): the hook must stop right after it, with ordinals 0
// and 1 never restarted. The loop is the Qdrant emulator's `metadata-loop` fault (a test double), set for that one
// pod through the kubelet stand-in's per-pod env overrides.
import { expect } from 'chai';
import { atTierEnd, sharedCluster } from './support/guard-cluster.js';
import { testNamespace } from './support/cluster.js';
import { dumpOnFailure, Walk } from './support/guard-diagnostics.js';
import {
  baseValues,
  GuardRelease,
  HELM_MAJORS,
  HELM_TIMEOUT_SECONDS,
  mergeValues,
  PodTimeline,
  setEnvOverride,
  type HelmRun,
} from './support/guard-release.js';

const STEP_MS = (HELM_TIMEOUT_SECONDS + 90) * 1000;

function expectHelmOk(r: HelmRun): void {
  expect(r.code, `${r.what} exited ${r.code}:\n${r.output.slice(-3000)}`).to.equal(0);
}

for (const helm of HELM_MAJORS) {
  describe(`staged rollout end to end under ${helm}: scale 1 -> 3 during an upgrade, then a peer that comes back looping`, function () {
    const walk = new Walk();
    let rel: GuardRelease;
    let timeline: PodTimeline;
    let scaleUpgrade: HelmRun;
    const startupLogs = new Map<string, string>(); // pod uid -> the startup check's log of that instance

    before(function () {
      const cluster = sharedCluster();
      rel = new GuardRelease(cluster, helm, `scale-${helm === 'helm3' ? 'h3' : 'h4'}`, testNamespace(`staged-${helm}`));
      atTierEnd(async () => {
        setEnvOverride(rel.namespace, `${rel.statefulset}-2`, undefined);
        if (!cluster.startedHere || process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
      });
    });
    dumpOnFailure(() => rel);

    walk.step(
      '6. one peer installed, then upgraded to 1.13.5 with replicaCount=3: the new volumes start fresh, the guard passes, 3 peers converge',
      STEP_MS,
      async () => {
        expectHelmOk(await rel.install(mergeValues(baseValues(), { replicaCount: 1, image: { tag: 'v1.13.4' } })));
        const [only] = await rel.waitPodsReady(1, ':v1.13.4');
        const id0 = await rel.peerIdOf(only!);

        // The first instances of ordinals 1 and 2 live only until the staged rollout replaces them: keep the
        // startup check's log of every instance as soon as it has run.
        timeline = new PodTimeline(rel, async (pods) => {
          for (const p of pods) {
            if (p.ordinal === 0 || startupLogs.has(p.uid) || p.startupCheck?.exitCode !== 0) continue;
            const r = await rel.cluster.kubectl(['logs', '-n', rel.namespace, p.name, '-c', 'upgrade-guard-startup-check']);
            if (r.code === 0) startupLogs.set(p.uid, `${p.name} ${p.image}: ${r.stdout}`);
          }
        }).start(200);
        try {
          scaleUpgrade = await rel.upgrade(mergeValues(baseValues(), { replicaCount: 3, image: { tag: 'v1.13.5' } }), { wait: true });
        } finally {
          await timeline.stop();
        }
        expectHelmOk(scaleUpgrade);

        const pre = await rel.jobLog('pre-upgrade');
        // Pre-upgrade runs before Helm applies the new replica count: it sees the one existing peer and its volume.
        expect(pre).to.contain('1 pod(s), 1 storage PVC(s)');
        const record = await rel.record();
        expect(Object.keys(record.peers), 'pre-upgrade saw (and archived) only the existing volume').to.deep.equal(['0']);
        expect(record.peers['0'].peerId).to.equal(id0);
        expect(record.verdicts).to.deep.include({ preUpgrade: 'pass', postUpgrade: 'pass' });
        for (const o of [1, 2]) expect(await rel.archives(o), `no archive on the new volume of ordinal ${o}`).to.deep.equal([]);

        const firstInstances = timeline.instances().filter((i) => i.ordinal > 0);
        for (const o of [1, 2]) {
          const first = firstInstances.find((i) => i.ordinal === o);
          expect(first, `ordinal ${o} seen:\n${timeline.describe()}`).to.not.equal(undefined);
          const log = startupLogs.get(first!.uid);
          expect(log, `startup check log of the first ${rel.statefulset}-${o}; captured: ${[...startupLogs.values()].join('\n')}`).to.be.a('string');
          expect(log).to.contain(`${rel.statefulset}-${o} (`);
          expect(log).to.match(/is fresh: Qdrant has not used it yet/);
        }

        expect(await rel.jobLog('post-upgrade')).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.5`);
        const pods = await rel.waitPodsReady(3, ':v1.13.5', 10_000);
        const ids = await Promise.all(pods.map((p) => rel.peerIdOf(p)));
        expect(ids[0], 'ordinal 0 kept its id').to.equal(id0);
        expect(new Set(ids).size).to.equal(3);
        const t = await rel.test();
        expectHelmOk(t);
        expect(t.output).to.contain('3 peer(s) for 3 replica(s)');
      },
    );

    walk.step(
      `10. \`helm upgrade ${helm === 'helm3' ? '--wait' : '--wait=watcher'}\` with the partition at the live replica count returned in time; the new ordinals started once, on the new revision, and ordinal 0 moved only under the hook`,
      30_000,
      async () => {
        expectHelmOk(scaleUpgrade);
        expect(scaleUpgrade.seconds).to.be.below(HELM_TIMEOUT_SECONDS / 2);
        const job = await rel.job('post-upgrade');
        const created = Date.parse(job.metadata.creationTimestamp);
        // The chart rendered the partition at the live replica count (1): ordinals 1 and 2 were created at or above
        // it, so they start once, on the new revision, and are never restarted by the rollout.
        const newOrdinals = timeline.instances().filter((i) => i.ordinal > 0);
        expect(newOrdinals.filter((i) => i.image.endsWith(':v1.13.4')), timeline.describe()).to.deep.equal([]);
        for (const o of [1, 2]) expect(newOrdinals.filter((i) => i.ordinal === o), timeline.describe()).to.have.length(1);
        // Ordinal 0 was held back by the partition until the hook lowered it.
        const zeroNew = timeline.instances().find((i) => i.ordinal === 0 && i.image.endsWith(':v1.13.5'));
        expect(zeroNew, timeline.describe()).to.not.equal(undefined);
        // Sample times are local, the Job's timestamp is the API server's (same host, 1 s resolution).
        expect(created, `post-upgrade Job created at ${job.metadata.creationTimestamp}\n${timeline.describe()}`).to.be.at.most(zeroNew!.firstSeen + 1000);
      },
      { readOnly: true },
    );

    walk.step(
      '9. the peer at ordinal 2 comes back looping (#6229): the hook stops after it, ordinals 0 and 1 never restart, helm fails with the diagnosis',
      STEP_MS,
      async () => {
        const before = await rel.pods();
        setEnvOverride(rel.namespace, `${rel.statefulset}-2`, { QDRANT_EMULATOR_FAULT: 'metadata-loop' });
        const watch = new PodTimeline(rel).start(250);
        let r: HelmRun;
        try {
          r = await rel.upgrade(mergeValues(baseValues(), { replicaCount: 3, image: { tag: 'v1.13.6' } }));
        } finally {
          await watch.stop();
          setEnvOverride(rel.namespace, `${rel.statefulset}-2`, undefined);
        }
        expect(r.code, `the upgrade should fail in post-upgrade:\n${r.output.slice(-2000)}`).to.not.equal(0);
        expect(r.output).to.contain('post-upgrade hooks failed');
        if (helm === 'helm4') {
          // hook-output-log-policy: hook-failed streams the Job's log to the client (Helm 3.18+ and 4).
          expect(r.output).to.contain('#6229');
        }

        const log = await rel.jobLog('post-upgrade');
        expect(log).to.contain(`staged rollout stopped at ${rel.statefulset}-2`);
        expect(log).to.contain('#6229');
        expect(log).to.match(/peer\.(identity-lost|log-loop) pod\/\S+-2/);
        expect(log).to.contain(`${rel.statefulset}-0, ${rel.statefulset}-1 still on the old version, serving`);

        // Ordinals 0 and 1: the same pod instances throughout the upgrade, on 1.13.5.
        for (const o of [0, 1]) {
          const was = before.find((p) => p.ordinal === o)!;
          const seen = new Set(watch.instances().filter((i) => i.ordinal === o).map((i) => i.uid));
          expect([...seen], `instances of ordinal ${o}:\n${watch.describe()}`).to.deep.equal([was.uid]);
        }
        const after = await rel.pods();
        expect(after.filter((p) => p.ordinal < 2).map((p) => `${p.uid} ${p.image}`)).to.deep.equal(
          before.filter((p) => p.ordinal < 2).map((p) => `${p.uid} ${p.image}`),
        );
        expect(after.find((p) => p.ordinal === 2)!.image).to.equal('qdrant/qdrant:v1.13.6');
        const sts = await rel.statefulSetObject();
        expect(sts.spec.updateStrategy.rollingUpdate.partition, 'the partition still holds ordinals 0 and 1').to.equal(2);
        const failed = (await rel.events('UpgradeVerificationFailed')).pop();
        expect(failed?.message).to.contain(`stopped at ${rel.statefulset}-2`);
      },
    );
  });
}
