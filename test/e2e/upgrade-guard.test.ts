// End to end: the chart and its guard on a real control plane (test/cluster), driven by the real Helm 3 and Helm 4.
// One 3-peer release per Helm major walks through the scenarios below in order, each step starting from
// the state the previous one left: install and helm test (1), a guarded staged upgrade (2) with the rollout order (8)
// and Helm's wait on a partitioned StatefulSet (10), the hook's RBAC (7), the next upgrade after the hook patched
// the partition (Helm 4 server-side apply), a lost raft_state.json refused, the pod stopped by the startup check
// and restored (3), a skipped minor refused (4), and a state lost after pre-upgrade turned into the #6229 diagnosis
// within seconds (5). Qdrant is the emulator (test/support/qdrant-emulator, a test double); the hook is the bundle.
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
import { tokenKubectl } from './support/guard-rbac.js';

const tag = (v: string): Values => ({ image: { tag: `v${v}` } });
const STEP_MS = (HELM_TIMEOUT_SECONDS + 90) * 1000;

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

for (const helm of HELM_MAJORS) {
  describe(`upgrade guard end to end under ${helm}: a 3-peer release from install through guarded, refused and failed upgrades`, function () {
    const walk = new Walk();
    let rel: GuardRelease;
    let originalIds: Map<number, string>;
    let timeline: PodTimeline;
    let upgrade135: HelmRun;

    before(function () {
      const cluster = sharedCluster();
      rel = new GuardRelease(cluster, helm, `up-${helm === 'helm3' ? 'h3' : 'h4'}`, testNamespace(`guard-${helm}`));
      atTierEnd(async () => {
        if (!cluster.startedHere || process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
      });
    });
    dumpOnFailure(() => rel);

    walk.step('1. installs 3 peers of Qdrant 1.13.4 and `helm test` passes (the test pod runs `verify`)', STEP_MS, async () => {
      expectHelmOk(await rel.install(mergeValues(baseValues(), tag('1.13.4'))));
      const pods = await rel.waitPodsReady(3, ':v1.13.4');
      expect(pods.map((p) => p.name)).to.deep.equal([0, 1, 2].map((i) => `${rel.statefulset}-${i}`));
      originalIds = await rel.peerIds();
      expect(new Set(originalIds.values()).size, 'three distinct peer ids').to.equal(3);

      const t = await rel.test();
      expectHelmOk(t);
      expect(t.output).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.4`);
    });

    walk.step(
      '2. upgrade to 1.13.5: pre-upgrade archives every volume and records the three peer ids, post-upgrade verifies the staged rollout, `helm test` passes',
      STEP_MS,
      async () => {
        timeline = new PodTimeline(rel).start(200);
        try {
          upgrade135 = await rel.upgrade(mergeValues(baseValues(), tag('1.13.5')), { wait: true });
        } finally {
          await timeline.stop();
        }
        expectHelmOk(upgrade135);

        const record = await rel.record();
        expect(record, 'record ConfigMap').to.not.equal(undefined);
        expect(record.fromVersion).to.equal('1.13.4');
        expect(record.toVersion).to.equal('1.13.5');
        expect(record.verdicts).to.deep.include({ preUpgrade: 'pass', postUpgrade: 'pass' });
        expect(Object.keys(record.peers).sort()).to.deep.equal(['0', '1', '2']);
        for (let i = 0; i < 3; i++) {
          const names = await rel.archives(i);
          const mine = names.filter((n) => new RegExp(`^raft-${rel.statefulset}-${i}-1\\.13\\.4-to-1\\.13\\.5-\\d{8}T\\d{6}Z\\.tar\\.gz$`).test(n));
          expect(mine, `archive of ordinal ${i} in ${await rel.pvFolder(i)}/.upgrade-guard: ${names.join(', ')}`).to.have.length(1);
          expect(record.peers[String(i)].peerId, `recorded peer id of ordinal ${i}`).to.equal(originalIds.get(i));
          expect(record.peers[String(i)].archive).to.equal(mine[0]);
          // The archive is complete and its checksums hold (read back by the CLI, as an operator would).
          const list = await rel.runCli(['archives', '--storage', await rel.pvFolder(i), '--output', 'json']);
          expect(list.code, list.stdout + list.stderr).to.equal(0);
          expect(list.stdout).to.contain(mine[0]);
          expect(list.stdout).to.contain(`"${originalIds.get(i)}"`);
        }

        const post = await rel.jobLog('post-upgrade');
        expect(post).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.5`);
        const pods = await rel.waitPodsReady(3, ':v1.13.5', 10_000);
        for (const p of pods) expect(await rel.peerIdOf(p), `${p.name} came back as itself`).to.equal(originalIds.get(p.ordinal));

        const t = await rel.test();
        expectHelmOk(t);
        expect(t.output).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.5`);
        expect(t.output).to.match(/peer\.identity .*\n\s+peer \d+, as recorded/);
      },
    );

    walk.step(
      '8. the staged rollout of step 2 replaced the pods highest ordinal first, each ready on 1.13.5 before the next went down',
      30_000,
      async () => {
        const replaced = timeline.instances().filter((i) => i.image.endsWith(':v1.13.5'));
        const story = timeline.describe();
        expect(replaced.map((i) => i.ordinal), `new pod instances in order of appearance:\n${story}`).to.deep.equal([2, 1, 0]);
        for (let k = 1; k < replaced.length; k++) {
          const prev = replaced[k - 1]!;
          expect(prev.readyAt, `ordinal ${prev.ordinal} never seen ready:\n${story}`).to.be.a('number');
          expect(replaced[k]!.firstSeen, `ordinal ${replaced[k]!.ordinal} replaced before ${prev.ordinal} was ready:\n${story}`).to.be.at.least(prev.readyAt!);
        }
        // The hook's own account of the steps, from the Job the chart keeps until the next upgrade.
        const log = await rel.jobLog('post-upgrade');
        const at = [2, 1, 0].map((o) => log.indexOf(`partition -> ${o}, ${rel.statefulset}-${o} updates next`));
        expect(at.every((i) => i >= 0) && at[0]! < at[1]! && at[1]! < at[2]!, `progress lines in order 2, 1, 0:\n${log.slice(0, 3000)}`).to.equal(true);
        expect(log).to.contain('staged rollout: every peer updated and verified');
      },
      { readOnly: true },
    );

    walk.step(
      `10. \`helm upgrade ${helm === 'helm3' ? '--wait' : '--wait=watcher'}\` did not wait for the pods the partition held back`,
      30_000,
      async () => {
        expectHelmOk(upgrade135);
        expect(upgrade135.seconds, 'the upgrade returned well within --timeout').to.be.below(HELM_TIMEOUT_SECONDS / 2);
        // Post-upgrade hooks start after Helm's wait: the Job existed before the first pod was replaced, i.e. the
        // wait ended while every pod was still on the old revision (partition = replicas).
        const job = await rel.job('post-upgrade');
        const firstNew = timeline.instances().find((i) => i.image.endsWith(':v1.13.5'));
        expect(firstNew, timeline.describe()).to.not.equal(undefined);
        const newPodCreated = Date.parse(
          (await rel.pods()).find((p) => p.uid === firstNew!.uid)?.createdAt ?? new Date(firstNew!.firstSeen).toISOString(),
        );
        expect(Date.parse(job.metadata.creationTimestamp), 'post-upgrade Job created before the first pod was replaced').to.be.at.most(newPodCreated);
      },
      { readOnly: true },
    );

    walk.step(
      "7. the pre-upgrade hook's ServiceAccount is denied what its Role does not grant: pods/exec, Secrets, pods of another namespace",
      60_000,
      async () => {
        const sa = `${rel.statefulset}-guard-pre-upgrade`;
        const kc = await tokenKubectl(rel.cluster, rel.namespace, sa);
        try {
          const who = await kc.run(['auth', 'whoami', '-o', 'json']);
          expect(who.stdout, who.stderr).to.contain(`system:serviceaccount:${rel.namespace}:${sa}`);
          // What the Role grants works with this token, so the denials below are RBAC, not a broken credential.
          const own = await kc.run(['get', 'pods', '-n', rel.namespace, '-o', 'name']);
          expect(own.code, own.stderr).to.equal(0);
          expect(own.stdout).to.contain(`pod/${rel.statefulset}-0`);

          // kubectl exec reads the pod first, which this Role does not allow either (it only lists pods).
          const exec = await kc.run(['exec', '-n', rel.namespace, `${rel.statefulset}-0`, '-c', 'qdrant', '--', 'true']);
          expect(exec.code).to.not.equal(0);
          expect(exec.stderr).to.match(/forbidden.*cannot (create resource "pods\/exec"|get resource "pods")/i);
          const canExec = await kc.run(['auth', 'can-i', 'create', 'pods', '--subresource=exec', '-n', rel.namespace]);
          expect(canExec.stdout.trim()).to.equal('no');
          const secrets = await kc.run(['get', 'secrets', '-n', rel.namespace]);
          expect(secrets.code).to.not.equal(0);
          expect(secrets.stderr).to.match(/forbidden.*cannot list resource "secrets"/i);
          const other = await kc.run(['get', 'pods', '-n', 'kube-system']);
          expect(other.code).to.not.equal(0);
          expect(other.stderr).to.match(/forbidden.*cannot list resource "pods".*namespace "kube-system"/i);
        } finally {
          kc.dispose();
        }
      },
      { readOnly: true },
    );

    walk.step(
      helm === 'helm4'
        ? 'SSA: after a completed staged rollout the hook has given rollingUpdate.partition back, so the next Helm 4 upgrade applies without --force-conflicts'
        : 'SSA: the next Helm 3 upgrade after a staged rollout applies cleanly (client-side three-way merge)',
      STEP_MS,
      async () => {
        const sts = await rel.cluster.kubectlJson(['get', 'statefulset', '-n', rel.namespace, rel.statefulset, '--show-managed-fields']);
        const owners: string[] = (sts.metadata.managedFields ?? [])
          .filter((m: any) => JSON.stringify(m.fieldsV1 ?? {}).includes('"f:partition"'))
          .map((m: any) => `${m.manager} (${m.operation})`);
        expect(owners.filter((o) => o.startsWith('qdrant-upgrade-guard')), `partition owners: ${owners.join(', ')}`).to.deep.equal([]);
        const before = uidsAndImages(await rel.pods());
        // Same values as step 2: nothing in the pod template changes, so nothing may restart.
        const values = mergeValues(baseValues(), tag('1.13.5'));
        expectHelmOk(await rel.upgrade(values, { forceConflicts: false }));
        expect(uidsAndImages(await rel.pods()), 'an upgrade with unchanged values restarts nothing').to.deep.equal(before);
        expect((await rel.record()).verdicts).to.deep.include({ preUpgrade: 'pass', postUpgrade: 'pass' });
      },
    );

    let refusedArchive: string;
    walk.step(
      '3a. raft_state.json deleted on ordinal 1 (WAL left): the next upgrade is refused by pre-upgrade, the StatefulSet untouched, an UpgradeRefused Event says why',
      STEP_MS,
      async () => {
        const pv1 = await rel.pvFolder(1);
        fs.rmSync(path.join(pv1, 'raft_state.json'));
        expect(fs.existsSync(path.join(pv1, 'collections_meta_wal')), 'the WAL stays').to.equal(true);
        const stsBefore = await rel.statefulSetObject();
        const podsBefore = uidsAndImages(await rel.pods());

        const r = await rel.upgrade(mergeValues(baseValues(), tag('1.13.6')));
        expectHelmFailed(r, 'pre-upgrade');

        const stsAfter = await rel.statefulSetObject();
        expect(stsAfter.metadata.generation, 'StatefulSet generation').to.equal(stsBefore.metadata.generation);
        expect(stsAfter.spec.template.spec.containers[0].image).to.equal('qdrant/qdrant:v1.13.5');
        expect(uidsAndImages(await rel.pods()), 'no pod restarted').to.deep.equal(podsBefore);

        const refused = (await rel.events('UpgradeRefused')).pop();
        expect(refused, 'an UpgradeRefused Event on the StatefulSet').to.not.equal(undefined);
        expect(refused.type).to.equal('Warning');
        expect(refused.message).to.contain('to 1.13.6 refused');
        expect(refused.message).to.contain(`qdrant-storage-${rel.statefulset}-1`);
        expect(refused.message).to.contain('volume.state');
        expect(refused.message).to.contain('raft_state.json');
        expect(refused.message).to.contain('docs/runbooks.md#lost-or-corrupt-raft-state');

        const log = await rel.jobLog('pre-upgrade');
        expect(log).to.contain('REFUSED');
        const archive = /restore --archive ([^\s`]+) --storage ([^\s`]+?)[.`]*(?:\s|$)/.exec(log);
        expect(archive, `the remedy names the archive to restore:\n${log.slice(0, 3000)}`).to.not.equal(null);
        expect(archive![2]).to.equal(pv1);
        expect(path.dirname(archive![1]!)).to.equal(path.join(pv1, '.upgrade-guard'));
        refusedArchive = archive![1]!;
      },
    );

    walk.step(
      '3b. the startup check refuses to start that pod again; `restore` from the archive (pod stopped) brings the peer back under its own id',
      120_000,
      async () => {
        const pod1 = `${rel.statefulset}-1`;
        const old = (await rel.pods()).find((p) => p.ordinal === 1)!;
        await rel.cluster.kubectlOk(['delete', 'pod', '-n', rel.namespace, pod1, '--wait=true'], { timeoutMs: 60_000 });
        const refused = await waitFor(
          `the startup check of the new ${pod1} to refuse`,
          async () => {
            const p = (await rel.pods()).find((x) => x.ordinal === 1 && x.uid !== old.uid);
            return p?.startupCheck && p.startupCheck.exitCode !== 0 ? p : undefined;
          },
          30_000,
        );
        expect(refused.startupCheck!.exitCode).to.equal(1);
        expect(refused.startupCheck!.message).to.match(/REFUSED.*volume\.state/);
        expect(refused.startupCheck!.message).to.contain('raft_state.json and the legacy raft_state are missing');
        expect(refused.ready).to.equal(false);
        expect(refused.phase).to.equal('Pending'); // Qdrant never started: no new peer id was minted

        // Qdrant is not running on the volume (the init container holds the pod): restore on the host.
        const pv1 = await rel.pvFolder(1);
        const res = await rel.runCli(['restore', '--archive', refusedArchive, '--storage', pv1]);
        expect(res.code, res.stdout + res.stderr).to.equal(0);
        expect(res.stdout).to.contain(`PASS: restored peer ${originalIds.get(1)}`);
        expect(fs.existsSync(path.join(pv1, 'raft_state.json'))).to.equal(true);

        // The startup check's next retry passes and Qdrant starts under its old id.
        const pods = await rel.waitPodsReady(3, ':v1.13.5', 90_000);
        expect(await rel.peerIdOf(pods[1]!)).to.equal(originalIds.get(1));
      },
    );

    walk.step('3c. after the restore the upgrade to 1.13.6 passes, every peer under its original id', STEP_MS, async () => {
      expectHelmOk(await rel.upgrade(mergeValues(baseValues(), tag('1.13.6')), { wait: true }));
      const record = await rel.record();
      expect(record.toVersion).to.equal('1.13.6');
      expect(record.verdicts).to.deep.include({ preUpgrade: 'pass', postUpgrade: 'pass' });
      for (const [o, id] of originalIds) expect(record.peers[String(o)].peerId).to.equal(id);
      const pods = await rel.waitPodsReady(3, ':v1.13.6', 10_000);
      for (const p of pods) expect(await rel.peerIdOf(p)).to.equal(originalIds.get(p.ordinal));
      expect(await rel.jobLog('post-upgrade')).to.contain(`PASS: statefulset/${rel.statefulset} converged on 1.13.6`);
    });

    walk.step('4. a skipped minor version (1.13.6 -> 1.15.0) is refused by pre-upgrade and nothing changes', STEP_MS, async () => {
      const stsBefore = await rel.statefulSetObject();
      const podsBefore = uidsAndImages(await rel.pods());
      const r = await rel.upgrade(mergeValues(baseValues(), tag('1.15.0')));
      expectHelmFailed(r, 'pre-upgrade');
      const log = await rel.jobLog('pre-upgrade');
      expect(log).to.match(/\[FAIL\] version\.policy/);
      expect(log).to.contain('1.13.6 -> 1.15.0');
      expect(log).to.match(/1\.14/); // the path to take goes through 1.14.x
      expect((await rel.statefulSetObject()).metadata.generation).to.equal(stsBefore.metadata.generation);
      expect(uidsAndImages(await rel.pods())).to.deep.equal(podsBefore);
      const refused = (await rel.events('UpgradeRefused')).pop();
      expect(refused.message).to.contain('to 1.15.0 refused');
    });

    walk.step(
      '5. raft_state.json lost after pre-upgrade (no startup check): post-upgrade fails with the #6229 diagnosis in a fraction of its deadline',
      STEP_MS,
      async () => {
        const pv2 = await rel.pvFolder(2);
        const podsBefore = await rel.pods();
        // The incident: the state file disappears between the pre-upgrade check and the restart. Delete it as soon
        // as the pre-upgrade worker has archived this volume (the partition still holds every pod).
        let deletedAt: number | undefined;
        let stop = false;
        const saboteur = (async () => {
          while (!stop && deletedAt === undefined) {
            const dir = path.join(pv2, '.upgrade-guard');
            if (fs.existsSync(dir) && fs.readdirSync(dir).some((n) => /^raft-.*-1\.13\.6-to-1\.14\.0-.*\.tar\.gz$/.test(n))) {
              fs.rmSync(path.join(pv2, 'raft_state.json'));
              deletedAt = Date.now();
            }
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
        let r: HelmRun;
        try {
          r = await rel.upgrade(mergeValues(baseValues(), tag('1.14.0'), { upgradeGuard: { startupCheck: { enabled: false } } }));
        } finally {
          stop = true;
          await saboteur;
        }
        expect(deletedAt, 'raft_state.json of ordinal 2 deleted after its pre-upgrade archive').to.be.a('number');
        expectHelmFailed(r, 'post-upgrade');

        const log = await rel.jobLog('post-upgrade');
        expect(log).to.contain('FAILED');
        expect(log).to.contain('#6229');
        expect(log).to.match(/peer\.(identity-lost|log-loop) pod\/\S+-2/);
        expect(log).to.match(/raft_state\.json was lost|Replaced metadata/);
        const { seconds, deadline } = await rel.jobSeconds('post-upgrade');
        console.log(`      [timing] post-upgrade failed after ${seconds} s (Job deadline ${deadline} s, per-peer budget ${PER_PEER_SECONDS} s)`);
        expect(seconds).to.be.below(deadline / 2);
        expect(seconds, 'faster than the per-peer budget too').to.be.below(PER_PEER_SECONDS);

        // The staged rollout stopped at ordinal 2: the others still run 1.13.6, untouched.
        const after = await rel.pods();
        for (const o of [0, 1]) expect(uidsAndImages(after.filter((p) => p.ordinal === o))).to.deep.equal(uidsAndImages(podsBefore.filter((p) => p.ordinal === o)));
        expect(after.find((p) => p.ordinal === 2)!.image).to.equal('qdrant/qdrant:v1.14.0');
        const t = await rel.test();
        expect(t.code, 'helm test now fails too').to.not.equal(0);
      },
    );
  });
}
