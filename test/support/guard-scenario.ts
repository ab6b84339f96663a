/**
 * TEST HARNESS for the cluster-aware commands: a Qdrant emulator cluster (test double of Qdrant,
 * real HTTP on loopback) behind a Kubernetes API double (real client-node adapter over HTTP), wired
 * the way a cluster is: the StatefulSet's pods carry the emulator peers' IPs, worker pods run the real
 * `volume` command on the peer's storage folder, and a rollout restarts the emulated peers.
 */
import { startEmulatorCluster, type EmulatorCluster, type FaultMode, type RestartOptions } from './qdrant-emulator/index.js';
import { startHarness, type Harness } from './kube-api-double/harness.js';
import type { DoubleOptions } from './kube-api-double/index.js';
import { HttpQdrantApi } from '../../hook/qdrant/http-api.js';
import { runVolume, terminationSummary } from '../../hook/commands/volume.js';
import type { ClusterDeps } from '../../hook/commands/cluster.js';
import type { PreUpgradeOptions } from '../../hook/commands/pre-upgrade.js';
import type { PostUpgradeOptions } from '../../hook/commands/post-upgrade.js';
import { systemClock, type Clock } from '../../hook/runtime/clock.js';

/** pre-upgrade as the chart runs it for release `qdrant`, 1.13.4 -> 1.13.5; override what a test varies. */
export function preUpgradeOptions(over: Partial<PreUpgradeOptions> = {}): PreUpgradeOptions {
  return {
    release: 'qdrant',
    statefulset: 'qdrant',
    targetVersion: '1.13.5',
    workerImage: 'ghcr.io/qdrant-upgrade-guard/qdrant-upgrade-guard:0.1.0',
    allowVersionSkip: false,
    allowDegraded: false,
    timeoutSeconds: 60,
    archiveLocation: 'storage',
    keep: 5,
    ...over,
  };
}

/** post-upgrade as the chart runs it for release `qdrant` going to 1.13.5. */
export function postUpgradeOptions(over: Partial<PostUpgradeOptions> = {}): PostUpgradeOptions {
  return { release: 'qdrant', statefulset: 'qdrant', targetVersion: '1.13.5', timeoutSeconds: 30, onFailure: 'fail', ...over };
}

export interface ScenarioOptions {
  peers?: number;
  version?: string;
  /** Storage PVCs that exist (default: every ordinal). */
  pvcOrdinals?: number[];
  /** Extra StatefulSet replicas beyond the running peers (a scale-up in the same upgrade). */
  replicas?: number;
  rbac?: DoubleOptions['rbac'];
  apiKey?: string;
  peerIds?: string[];
  /** Benchmarks: workers answer at once with the peer's id, without archiving (isolates the coordinator's cost). */
  instantWorkers?: boolean;
  /** Worker-pod poll interval of the kube adapter: tests use 50 ms; production (and benchmarks) 1000 ms. */
  pollIntervalMs?: number;
  /** Benchmarks: real sleeps everywhere (tests shorten them), so waits cost what they cost in a hook Job. */
  realClock?: boolean;
}

export interface Scenario {
  qdrant: EmulatorCluster;
  kube: Harness;
  deps: ClusterDeps;
  /** Progress lines the commands printed. */
  progress: string[];
  /** Worker pods the double ran, by name. */
  workers: string[];
  /** What `helm upgrade` does to the StatefulSet: new image, new update revision. */
  applyUpgrade(version: string, revision?: string): void;
  /** Restarts one emulated peer; its pod's log (as the kubelet serves it) starts again from the new lifetime. */
  restartPeer(ordinal: number, options?: RestartOptions): Promise<void>;
  /** The StatefulSet controller rolling every pod (highest first), restarting its emulated peer. */
  rollOutAll(options?: { fault?: (ordinal: number) => FaultMode | undefined; deleteState?: (ordinal: number) => boolean }): Promise<void>;
  close(): Promise<void>;
}

const fastClock = (): Clock => ({ now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))) });

export async function startScenario(o: ScenarioOptions = {}): Promise<Scenario> {
  const peers = o.peers ?? 3;
  const version = o.version ?? '1.13.4';
  const qdrant = await startEmulatorCluster({
    peers,
    version,
    ...(o.apiKey ? { apiKey: o.apiKey } : {}),
    ...(o.peerIds ? { peerIds: o.peerIds } : {}),
    // Large emulated clusters take a while to elect and replicate on 2 busy cores: relax the election
    // timeout so followers do not depose a leader that is merely slow to answer dozens of long-polls.
    timeoutMs: 20_000 + peers * 2_000,
    ...(peers > 10 ? { timing: { electionTimeoutMs: 10_000, requestTimeoutMs: 5_000 } } : {}),
  });
  const kube = await startHarness({ double: { ...(o.rbac ? { rbac: o.rbac } : {}) }, api: { pollIntervalMs: o.pollIntervalMs ?? 50 }, ...(o.realClock ? { realClock: true } : {}) });
  const hosts = qdrant.peers.map((p) => p.host);
  kube.double.seedQdrantStatefulSet({
    name: 'qdrant',
    release: 'qdrant',
    replicas: o.replicas ?? peers,
    image: `qdrant/qdrant:v${version}`,
    podIPs: hosts,
    ...(o.pvcOrdinals ? { pvcOrdinals: o.pvcOrdinals } : {}),
  });
  // The release was installed a while ago: its pods started long before any upgrade record.
  const installedAt = new Date(Date.now() - 3600_000).toISOString();
  for (const pod of kube.double.list('pods')) {
    kube.double.mutate('pods', pod['metadata'].name, (p) => (p['status'].startTime = installedAt));
  }
  const workers: string[] = [];
  kube.double.onPodCreated = async (pod) => {
    const args: string[] = pod['spec'].containers[0].args;
    workers.push(pod['metadata'].name);
    const podName = args[args.indexOf('--pod') + 1]!;
    const ordinal = Number(podName.split('-').pop());
    // A scaled-up ordinal has a fresh, empty volume: its folder is a new temp dir of the emulator root.
    const storage = ordinal < qdrant.peers.length ? qdrant.peers[ordinal]!.storageDir : `${qdrant.rootDir}/fresh-${ordinal}`;
    const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
    if (o.instantWorkers && ordinal < qdrant.peers.length) {
      const peerId = qdrant.peers[ordinal]!.peerId;
      return { exitCode: 0, terminationMessage: `{"verdict":"pass","classification":"initialized","peerId":${peerId},"term":"1","commit":"1","archive":null,"sha256":null,"reason":""}` };
    }
    try {
      const report = await runVolume({
        storage,
        from: flag('--from')!,
        to: flag('--to')!,
        pod: podName,
        keep: Number(flag('--keep') ?? 5),
        allowVersionSkip: args.includes('--allow-version-skip'),
      });
      return { exitCode: report.verdict === 'pass' ? 0 : 1, terminationMessage: terminationSummary(report) };
    } catch (err) {
      return { exitCode: 3, terminationMessage: terminationSummary(undefined, { kind: 'infrastructure', message: (err as Error).message }) };
    }
  };
  const progress = kube.progress;
  const deps: ClusterDeps = {
    kube: kube.api,
    qdrant: new HttpQdrantApi({ timeoutMs: 2000, ...(o.apiKey ? { apiKey: o.apiKey } : {}) }),
    clock: o.realClock ? systemClock : fastClock(),
    progress: { say: (m) => progress.push(m) },
  };
  let upgradeVersion = version;
  // What kubelet does for `kubectl logs`: each emulated peer's log lines become its pod's container log.
  const shipped = qdrant.peers.map(() => 0);
  const shipLogs = () => {
    qdrant.peers.forEach((peer, i) => {
      const records = peer.logs({ sinceLastStart: true });
      // Each line keeps the time Qdrant wrote it, as the kubelet's log files do: sinceTime filters on it.
      for (const r of records.slice(shipped[i])) {
        kube.double.appendPodLog(`qdrant-${i}`, r.line, { container: 'qdrant', time: Date.parse(r.timestamp) });
      }
      shipped[i] = records.length;
    });
  };
  const logTimer = setInterval(shipLogs, 50);
  return {
    qdrant,
    kube,
    deps,
    progress,
    workers,
    applyUpgrade(v, revision = `qdrant-${v.replace(/\./g, '')}`) {
      upgradeVersion = v;
      kube.double.applyUpgrade('qdrant', { image: `qdrant/qdrant:v${v}`, revision });
    },
    async restartPeer(ordinal, options = {}) {
      shipped[ordinal] = 0;
      await qdrant.restartPeer(ordinal, options);
    },
    async rollOutAll(opts = {}) {
      const ordinals = qdrant.peers.map((_, i) => i).reverse();
      await kube.double.rollOut('qdrant', {
        ordinals,
        onRestart: async (ordinal) => {
          shipped[ordinal] = 0;
          const fault = opts.fault?.(ordinal);
          await qdrant.restartPeer(ordinal, {
            version: upgradeVersion,
            ...(fault ? { fault } : {}),
            ...(opts.deleteState?.(ordinal) ? { deleteStateFile: true } : {}),
          });
        },
      });
    },
    async close() {
      clearInterval(logTimer);
      await kube.close();
      await qdrant.destroy();
    },
  };
}
