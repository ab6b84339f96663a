/**
 * Every cluster command run against the Kubernetes API double (a test double enforcing RBAC rules, resourceNames
 * included) with ONLY the Role hook/kube/permissions.ts derives for it, the Qdrant emulator behind it: a call the
 * declarations forgot fails here with a 403.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { rulesOf, type GuardCommand } from '../../hook/kube/permissions.js';
import { runPreUpgrade } from '../../hook/commands/pre-upgrade.js';
import { runPostUpgrade } from '../../hook/commands/post-upgrade.js';
import { runVerify } from '../../hook/commands/verify.js';
import { runRestoreVolume, runRestoreVolumeWorker, restoreVolumeCommand, workerSummary } from '../../hook/commands/restore-volume.js';
import { parseRecord } from '../../hook/policy/record.js';
import type { Report } from '../../hook/report.js';
import { postUpgradeOptions, preUpgradeOptions, startScenario, type Scenario } from '../support/guard-scenario.js';

const roleOf = (command: GuardCommand, o: { staged?: boolean; volumeSnapshots?: boolean } = {}) =>
  rulesOf(command, { statefulset: 'qdrant', release: 'qdrant', replicas: 3, staged: o.staged ?? false, volumeSnapshots: o.volumeSnapshots ?? false });
const failed = (r: Report) => r.checks.filter((c) => c.status === 'fail');
const forbidden = (s: Scenario) => s.kube.double.requests.filter((r) => r.status === 403).map((r) => `${r.verb} ${r.path}`);

describe('each command works with exactly its Role (API double + Qdrant emulator)', function () {
  this.timeout(90_000);
  let s: Scenario;
  afterEach(async () => s && (await s.close()));

  it('pre-upgrade, then post-upgrade, then verify, each with only its own Role', async () => {
    s = await startScenario({ peers: 3 });
    s.kube.double.rbac = roleOf('pre-upgrade');
    const pre = await runPreUpgrade(preUpgradeOptions(), s.deps);
    expect(forbidden(s)).to.deep.equal([]);
    expect(pre.verdict, JSON.stringify(failed(pre))).to.equal('pass');

    s.applyUpgrade('1.13.5');
    s.kube.double.rbac = roleOf('post-upgrade');
    const [post] = await Promise.all([runPostUpgrade(postUpgradeOptions(), s.deps), s.rollOutAll()]);
    expect(forbidden(s)).to.deep.equal([]);
    expect(post.verdict, JSON.stringify(failed(post))).to.equal('pass');

    s.kube.double.rbac = roleOf('verify');
    const verify = await runVerify({ release: 'qdrant', statefulset: 'qdrant' }, s.deps);
    expect(forbidden(s)).to.deep.equal([]);
    expect(verify.verdict, JSON.stringify(failed(verify))).to.equal('pass');
  });

  it("the double does enforce the Role: verify's Role cannot delete a Qdrant pod", async () => {
    s = await startScenario({ peers: 1 });
    s.kube.double.rbac = roleOf('verify');
    const err = await s.deps.kube.deletePod('qdrant-0', 0).catch((e: Error) => e);
    expect(String((err as Error).message)).to.match(/permission denied: .* cannot delete pods/);
  });
});

describe('restore-volume: a lost raft state recovered in the cluster (API double + Qdrant emulator)', function () {
  this.timeout(90_000);
  let s: Scenario;
  afterEach(async () => s && (await s.close()));

  /** What the startup check does to a pod whose volume lost raft_state.json: the init container refuses, Qdrant never starts. */
  function holdByStartupCheck(pod: string): void {
    s.kube.double.mutate('pods', pod, (p) => {
      p['status'].conditions = p['status'].conditions.map((c: Record<string, unknown>) =>
        c['type'] === 'Ready' || c['type'] === 'ContainersReady' || c['type'] === 'Initialized' ? { ...c, status: 'False' } : c,
      );
      p['status'].initContainerStatuses = [
        {
          name: 'upgrade-guard-startup-check', image: 'guard:1', ready: false, restartCount: 3,
          state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error', message: '{"verdict":"refuse","classification":"missing-state"}' } },
        },
      ];
      p['status'].containerStatuses = [{ name: 'qdrant', image: 'qdrant/qdrant:v1.13.4', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }];
    });
  }

  /** The worker pod: runs the real worker command on the peer's storage folder, as the kubelet would in the pod. */
  function restoreWorkers(): string[] {
    const ran: string[] = [];
    const others = s.kube.double.onPodCreated;
    s.kube.double.onPodCreated = async (pod) => {
      const args: string[] = pod['spec'].containers[0].args;
      // pre-upgrade's `volume` workers keep the scenario's kubelet.
      if (args[0] !== 'restore-volume-worker' && others) return others(pod);
      const pvc: string = pod['spec'].volumes.find((v: { name: string }) => v.name === 'storage').persistentVolumeClaim.claimName;
      const ordinal = Number(pvc.split('-').pop());
      const storage = s.qdrant.peers[ordinal]!.storageDir;
      const flag = (f: string) => (args.includes(f) ? args[args.indexOf(f) + 1]!.replace('/qdrant/storage', storage) : undefined);
      ran.push(`${pod['metadata'].name}: ${args.join(' ')}`);
      const archive = flag('--archive');
      const report = await runRestoreVolumeWorker({ storage: flag('--storage')!, archiveDir: flag('--archive-dir')!, pod: flag('--pod')!, ...(archive ? { archive } : {}) });
      return { exitCode: report.verdict === 'pass' ? 0 : 1, terminationMessage: workerSummary(report) };
    };
    return ran;
  }

  /** The StatefulSet controller: a deleted Qdrant pod comes back (same IP, new uid) and its peer restarts. */
  function recreateOnDelete(): void {
    const real = s.deps.kube.deletePod.bind(s.deps.kube);
    s.deps.kube = Object.assign(Object.create(s.deps.kube), {
      deletePod: async (name: string, grace: number) => {
        const old = s.kube.double.get('pods', name)!;
        await real(name, grace);
        const ordinal = Number(name.split('-').pop());
        await s.qdrant.restartPeer(ordinal);
        const healthy = s.kube.double.get('pods', 'qdrant-0')!['status'];
        s.kube.double.put('pods', {
          ...old,
          metadata: { ...old['metadata'], uid: `${old['metadata'].uid}-recreated`, resourceVersion: undefined },
          status: { ...healthy, podIP: old['status'].podIP, podIPs: old['status'].podIPs, initContainerStatuses: [] },
        });
      },
    });
  }

  it('restores the archive the record names, with only the restore-volume Role, and the peer answers under its recorded id', async () => {
    s = await startScenario({ peers: 3 });
    expect((await runPreUpgrade(preUpgradeOptions({ targetVersion: '1.13.4' }), s.deps)).verdict).to.equal('pass');
    const record = parseRecord(s.kube.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json']);
    const peer1 = s.qdrant.peers[1]!;
    const recordedId = record.peers['1']!.peerId!;
    expect(peer1.peerId).to.equal(recordedId);

    // #6229: qdrant-1's volume loses raft_state.json; the startup check holds its pod.
    await peer1.stop();
    fs.rmSync(path.join(peer1.storageDir, 'raft_state.json'));
    holdByStartupCheck('qdrant-1');
    const ran = restoreWorkers();
    recreateOnDelete();

    s.kube.double.rbac = roleOf('restore-volume');
    const report = await runRestoreVolume(
      { release: 'qdrant', statefulset: 'qdrant', ordinal: 1, latest: true, archiveLocation: 'storage', workerImage: 'guard:1', timeoutSeconds: 30 },
      s.deps,
    );
    expect(forbidden(s)).to.deep.equal([]);
    expect(report.verdict, JSON.stringify(report.checks, null, 1)).to.equal('pass');
    expect(report.checks.map((c) => `${c.id} ${c.status}`)).to.deep.equal([
      'restore-volume.held pass', 'restore-volume.archive pass', 'restore-volume.worker pass', 'restore-volume.peer pass',
    ]);
    expect(ran).to.have.length(1);
    expect(ran[0]).to.contain('restore-volume-worker --storage /qdrant/storage --archive-dir /qdrant/storage/.upgrade-guard --pod qdrant-1 --termination-message-path /dev/termination-log');
    const byId = (id: string) => report.checks.find((c) => c.id === id)!;
    expect(byId('restore-volume.archive').observed).to.equal(`${record.peers['1']!.archive} (the newest verified archive of this ordinal on the volume)`);
    expect(byId('restore-volume.peer').observed).to.contain(recordedId);
    expect(fs.existsSync(path.join(peer1.storageDir, 'raft_state.json'))).to.equal(true);
    // The worker pod is gone again.
    expect(s.kube.double.list('pods').map((p) => p['metadata'].name).filter((n: string) => n.includes('guard-restore'))).to.deep.equal([]);
  });

  it('refuses, touching nothing, while the Qdrant container runs on the volume', async () => {
    s = await startScenario({ peers: 1 });
    expect((await runPreUpgrade(preUpgradeOptions({ targetVersion: '1.13.4' }), s.deps)).verdict).to.equal('pass');
    const ran = restoreWorkers();
    const report = await runRestoreVolume(
      { release: 'qdrant', statefulset: 'qdrant', ordinal: 0, latest: true, archiveLocation: 'storage', workerImage: 'guard:1', timeoutSeconds: 10 },
      s.deps,
    );
    expect(report.verdict).to.equal('refuse');
    const held = report.checks.find((c) => c.id === 'restore-volume.held')!;
    expect(held.status).to.equal('fail');
    expect(held.observed).to.equal('the qdrant container of qdrant-0 is running');
    expect(held.remedy).to.contain('qdrant-upgrade-guard restore-volume --namespace qdrant-ns --release qdrant --statefulset qdrant --ordinal 0 --latest');
    expect(ran).to.deep.equal([]);
  });

  /**
   * The StatefulSet controller and the startup check together: a deleted pod comes back; when its volume has no
   * raft_state.json the startup check holds it (Qdrant stays down), else Qdrant starts and the pod gets ready.
   */
  function controllerWithStartupCheck(lost: () => boolean): void {
    const real = s.deps.kube.deletePod.bind(s.deps.kube);
    s.deps.kube = Object.assign(Object.create(s.deps.kube), {
      deletePod: async (name: string, grace: number) => {
        const old = s.kube.double.get('pods', name)!;
        const healthy = structuredClone(s.kube.double.get('pods', 'qdrant-0')!['status']);
        await real(name, grace);
        const ordinal = Number(name.split('-').pop());
        const peer = s.qdrant.peers[ordinal]!;
        await peer.stop();
        if (lost()) fs.rmSync(path.join(peer.storageDir, 'raft_state.json'), { force: true });
        s.kube.double.put('pods', {
          ...old,
          metadata: { ...old['metadata'], uid: `${old['metadata'].uid}-${Date.now()}`, resourceVersion: undefined },
          status: { ...healthy, podIP: old['status'].podIP, podIPs: old['status'].podIPs, initContainerStatuses: [] },
        });
        if (!fs.existsSync(path.join(peer.storageDir, 'raft_state.json'))) holdByStartupCheck(name);
        else await s.qdrant.restartPeer(ordinal);
      },
    });
  }

  it('--delete-running-pod: Qdrant still runs on a volume that lost its state; the recreated pod is held, restored, back as itself', async () => {
    s = await startScenario({ peers: 3 });
    expect((await runPreUpgrade(preUpgradeOptions({ targetVersion: '1.13.4' }), s.deps)).verdict).to.equal('pass');
    const recordedId = parseRecord(s.kube.double.get('configmaps', 'qdrant-upgrade-guard')!['data']['record.json']).peers['2']!.peerId!;
    let lost = true;
    controllerWithStartupCheck(() => lost);
    const ran = restoreWorkers();
    const origOnPod = s.kube.double.onPodCreated!;
    s.kube.double.onPodCreated = async (pod) => {
      const out = await origOnPod(pod);
      lost = false; // restored: the next restart finds the state
      return out;
    };
    s.kube.double.rbac = roleOf('restore-volume');
    const report = await runRestoreVolume(
      { release: 'qdrant', statefulset: 'qdrant', ordinal: 2, latest: true, archiveLocation: 'storage', workerImage: 'guard:1', deleteRunningPod: true, timeoutSeconds: 30 },
      s.deps,
    );
    expect(forbidden(s)).to.deep.equal([]);
    expect(report.verdict, JSON.stringify(report.checks, null, 1)).to.equal('pass');
    expect(report.checks.find((c) => c.id === 'restore-volume.held')!.observed).to.match(/held by the startup check/);
    expect(report.checks.find((c) => c.id === 'restore-volume.peer')!.observed).to.contain(recordedId);
    expect(ran).to.have.length(1);
    expect(s.progress.some((l) => /deleting qdrant-2 so that its startup check holds the recreated pod/.test(l))).to.equal(true);
  });

  it('the pre-upgrade refusal of a volume that lost its state prints the restore-volume command, which recovers it', async () => {
    s = await startScenario({ peers: 3 });
    expect((await runPreUpgrade(preUpgradeOptions({ targetVersion: '1.13.4' }), s.deps)).verdict).to.equal('pass');
    fs.rmSync(path.join(s.qdrant.peers[1]!.storageDir, 'raft_state.json'));
    const refused = await runPreUpgrade(preUpgradeOptions(), s.deps);
    expect(refused.verdict).to.equal('refuse');
    const remedy = refused.checks.find((c) => c.id === 'volume.state' && c.status === 'fail')!.remedy;
    const command = 'qdrant-upgrade-guard restore-volume --namespace qdrant-ns --release qdrant --statefulset qdrant --ordinal 1 --latest --delete-running-pod';
    expect(remedy).to.contain(`From a laptop with a kubeconfig: \`${command}\``);

    let lost = true;
    controllerWithStartupCheck(() => lost);
    const workers = restoreWorkers();
    const run = s.kube.double.onPodCreated!;
    s.kube.double.onPodCreated = async (pod) => {
      const out = await run(pod);
      lost = false;
      return out;
    };
    s.kube.double.rbac = roleOf('restore-volume');
    const args = command.split(' ');
    const flag = (f: string) => args[args.indexOf(f) + 1]!;
    const report = await runRestoreVolume(
      { release: flag('--release'), statefulset: flag('--statefulset'), ordinal: Number(flag('--ordinal')), latest: args.includes('--latest'),
        deleteRunningPod: args.includes('--delete-running-pod'), archiveLocation: 'storage', workerImage: 'guard:1', timeoutSeconds: 30 },
      s.deps,
    );
    expect(report.verdict, JSON.stringify(report.checks, null, 1)).to.equal('pass');
    expect(workers).to.have.length(1);
    s.kube.double.rbac = undefined;
    await s.qdrant.waitForConvergence();
    const again = await runPreUpgrade(preUpgradeOptions(), s.deps);
    expect(again.verdict, JSON.stringify(again.checks.filter((c) => c.status === 'fail'), null, 1)).to.equal('pass');
  });

  it('--delete-running-pod on a healthy peer: it comes back running, nothing is restored', async () => {
    s = await startScenario({ peers: 1 });
    expect((await runPreUpgrade(preUpgradeOptions({ targetVersion: '1.13.4' }), s.deps)).verdict).to.equal('pass');
    controllerWithStartupCheck(() => false);
    const ran = restoreWorkers();
    const report = await runRestoreVolume(
      { release: 'qdrant', statefulset: 'qdrant', ordinal: 0, latest: true, archiveLocation: 'storage', workerImage: 'guard:1', deleteRunningPod: true, timeoutSeconds: 20 },
      s.deps,
    );
    expect(report.verdict).to.equal('refuse');
    expect(report.checks.find((c) => c.id === 'restore-volume.held')!.observed).to.contain('passed its startup check and runs Qdrant again: its volume holds a valid raft state');
    expect(ran).to.deep.equal([]);
  });

  it('prints the exact command with the values filled in', () => {
    expect(restoreVolumeCommand({ namespace: 'db', release: 'r', statefulset: 'r-qdrant', ordinal: 2 })).to.equal(
      'qdrant-upgrade-guard restore-volume --namespace db --release r --statefulset r-qdrant --ordinal 2 --latest',
    );
    expect(restoreVolumeCommand({ release: 'r', statefulset: 's', ordinal: 0, archive: 'raft-s-0-1.13.4-to-1.13.5-20250101T000000Z.tar.gz' })).to.equal(
      'qdrant-upgrade-guard restore-volume --release r --statefulset s --ordinal 0 --archive raft-s-0-1.13.4-to-1.13.5-20250101T000000Z.tar.gz',
    );
  });
});
