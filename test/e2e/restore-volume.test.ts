// End to end, under Helm 3 and Helm 4: a peer that lost raft_state.json recovered ONLY through
// `qdrant-upgrade-guard restore-volume`, run from outside the cluster with a token bound to the chart's restore-volume
// Role and nothing else: pre-upgrade refuses the volume, restore-volume deletes that one pod so its startup check holds
// the new one, the worker pod restores the archive the record names, the pod restarts under its recorded id, and the
// refused upgrade then passes. Qdrant is the emulator (a test double).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { atTierEnd, sharedCluster } from './support/guard-cluster.js';
import { repoRoot, run, testNamespace } from './support/cluster.js';
import { dumpOnFailure, Walk } from './support/guard-diagnostics.js';
import { baseValues, GuardRelease, HELM_MAJORS, HELM_TIMEOUT_SECONDS, mergeValues, type HelmRun, type Values } from './support/guard-release.js';
import { tokenKubectl, type TokenKubectl } from './support/guard-rbac.js';

const tag = (v: string): Values => ({ image: { tag: `v${v}` } });
const STEP_MS = (HELM_TIMEOUT_SECONDS + 90) * 1000;
const RESTORER = 'restorer';

function expectHelmOk(r: HelmRun): void {
  expect(r.code, `${r.what} exited ${r.code}:\n${r.output.slice(-3000)}`).to.equal(0);
}

for (const helm of HELM_MAJORS) {
  describe(`restore-volume end to end under ${helm}: the lost-state scenario recovered in the cluster`, function () {
    const walk = new Walk();
    let rel: GuardRelease;
    let ids: Map<number, string>;
    let kc: TokenKubectl | undefined;
    const values = (v: string): Values =>
      mergeValues(baseValues(), tag(v), { upgradeGuard: { restoreVolume: { subjects: [{ kind: 'ServiceAccount', name: RESTORER, namespace: rel.namespace }] } } });

    before(async function () {
      this.timeout(60_000);
      const cluster = sharedCluster();
      rel = new GuardRelease(cluster, helm, `rv-${helm === 'helm3' ? 'h3' : 'h4'}`, testNamespace(`restore-${helm}`));
      await cluster.kubectlOk(['create', 'namespace', rel.namespace]);
      await cluster.kubectlOk(['create', 'serviceaccount', RESTORER, '-n', rel.namespace]);
      atTierEnd(async () => {
        kc?.dispose();
        if (!cluster.startedHere || process.env.E2E_KEEP_CLUSTER) await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
      });
    });
    dumpOnFailure(() => rel);

    walk.step('installs 3 peers on 1.13.4 and upgrades to 1.13.5 under the guard (archives and record)', STEP_MS * 2, async () => {
      expectHelmOk(await rel.install(values('1.13.4')));
      await rel.waitPodsReady(3, ':v1.13.4');
      ids = await rel.peerIds();
      expectHelmOk(await rel.upgrade(values('1.13.5'), { wait: true }));
      const record = await rel.record();
      expect(record.peers['1'].peerId).to.equal(ids.get(1));
      expect(record.peers['1'].archive).to.match(/^raft-.*-1-1\.13\.4-to-1\.13\.5-\d{8}T\d{6}Z\.tar\.gz$/);
    });

    walk.step('raft_state.json lost on ordinal 1 while Qdrant runs: the next upgrade is refused by pre-upgrade', STEP_MS, async () => {
      fs.rmSync(path.join(await rel.pvFolder(1), 'raft_state.json'));
      const r = await rel.upgrade(values('1.13.6'));
      expect(r.code, r.output.slice(-2000)).to.not.equal(0);
      expect(r.output).to.contain('pre-upgrade hooks failed');
      expect(await rel.jobLog('pre-upgrade')).to.contain('missing-state');
    });

    walk.step(
      'restore-volume --latest --delete-running-pod, run from outside with only the restore-volume Role: the pod is held, the worker restores, the pod restarts under its recorded id',
      180_000,
      async () => {
        kc = await tokenKubectl(rel.cluster, rel.namespace, RESTORER);
        // The token can do nothing the Role does not grant.
        const secrets = await kc.run(['get', 'secrets', '-n', rel.namespace]);
        expect(secrets.code).to.not.equal(0);
        const before = (await rel.pods()).find((p) => p.ordinal === 1)!;
        // Qdrant still runs on the volume: restore-volume deletes just that pod, and its startup check holds the new one.
        const args = ['restore-volume', '--kubeconfig', kc.kubeconfig, '--namespace', rel.namespace, '--release', rel.release,
          '--statefulset', rel.statefulset, '--ordinal', '1', '--latest', '--delete-running-pod', '--timeout-seconds', '150'];
        const r = await run(process.execPath, [path.join(repoRoot, 'dist/qdrant-upgrade-guard.mjs'), ...args], { timeoutMs: 150_000 });
        expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
        expect(r.stdout).to.match(/restore-volume\.held .*\n\s+held by the startup check/);
        expect(r.stderr).to.contain(`deleting ${rel.statefulset}-1 so that its startup check holds the recreated pod`);
        expect((await rel.pods()).find((p) => p.ordinal === 1)!.uid).to.not.equal(before.uid);
        expect(r.stdout).to.contain(`answers as peer ${ids.get(1)}`);
        expect(fs.existsSync(path.join(await rel.pvFolder(1), 'raft_state.json'))).to.equal(true);
        const pods = await rel.waitPodsReady(3, ':v1.13.5', 90_000);
        expect(await rel.peerIdOf(pods[1]!)).to.equal(ids.get(1));
        const workers = (await rel.cluster.kubectlJson(['get', 'pods', '-n', rel.namespace, '-o', 'json'])).items
          .map((p: { metadata: { name: string } }) => p.metadata.name)
          .filter((n: string) => n.includes('guard-restore'));
        expect(workers, 'the worker pod is deleted').to.deep.equal([]);
      },
    );

    walk.step('the next guarded upgrade (1.13.6) passes with every peer under its original id', STEP_MS, async () => {
      expectHelmOk(await rel.upgrade(values('1.13.6'), { wait: true }));
      const record = await rel.record();
      expect(record.verdicts).to.deep.include({ preUpgrade: 'pass', postUpgrade: 'pass' });
      for (const [o, id] of ids) expect(record.peers[String(o)].peerId).to.equal(id);
    });
  });
}
