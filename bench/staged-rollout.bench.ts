/**
 * What the staged rollout costs: a 3-peer upgrade (1.13.4 -> 1.13.5, Helm 3, no --wait) on the embedded control
 * plane (test/cluster: real apiserver/controllers, the kubelet stand-in, the Qdrant emulator), once with the
 * staged rollout (post-upgrade lowers the partition one peer at a time and verifies each) and once as the plain
 * StatefulSet rolling update (`upgradeGuard.stagedRollout.enabled=false`; post-upgrade only waits and verifies at
 * the end). Target: under 5 s per peer beyond the pod's own restart and readiness.
 *
 * Figures, medians over BENCH_RUNS_STAGED rounds (default 3; each round runs both modes on fresh releases):
 *  - helm upgrade wall time, both modes, and the difference per peer;
 *  - the per-peer cycle: time between one new pod appearing and the next one appearing (the old pod's shutdown,
 *    the new pod's start and readiness, plus, when staged, the hook noticing and verifying);
 *  - the pod's own part: new pod seen -> seen Ready (readiness probe: 1 s delay, 1 s period, as in the e2e tier).
 * Pods are sampled every 100 ms through kubectl, so each figure carries about 0.1-0.2 s of sampling jitter.
 * Needs `make cluster-build tools bundle`; starts the cluster when it is not running, stops it only then.
 */
import { ensureCluster, releaseCluster, testNamespace, type Cluster } from '../test/e2e/support/cluster.js';
import { baseValues, GuardRelease, mergeValues, PodTimeline } from '../test/e2e/support/guard-release.js';
import { ensureBundle, median, verdict } from './lib.js';

const ROUNDS = Number(process.env.BENCH_RUNS_STAGED ?? 3);
const PEERS = 3;

interface Run {
  mode: 'staged' | 'plain';
  helmSeconds: number;
  cycles: number[];
  podReady: number[];
}

async function oneUpgrade(cluster: Cluster, mode: Run['mode'], round: number): Promise<Run> {
  const rel = new GuardRelease(cluster, 'helm3', `bench-${mode}-${round}`, testNamespace(`bench-${mode}`));
  const values = (t: string) =>
    mergeValues(baseValues(), { replicaCount: PEERS, image: { tag: t }, upgradeGuard: { stagedRollout: { enabled: mode === 'staged' } } });
  try {
    const inst = await rel.install(values('v1.13.4'));
    if (inst.code !== 0) throw new Error(`install (${mode}) failed:\n${inst.output.slice(-2000)}`);
    await rel.waitPodsReady(PEERS, ':v1.13.4');
    const timeline = new PodTimeline(rel).start(100);
    const up = await rel.upgrade(values('v1.13.5'));
    await timeline.stop();
    if (up.code !== 0) throw new Error(`upgrade (${mode}) failed:\n${up.output.slice(-3000)}`);
    const fresh = timeline.instances().filter((i) => i.image.endsWith(':v1.13.5'));
    if (fresh.length !== PEERS || fresh.some((i) => i.readyAt === undefined)) {
      throw new Error(`${mode}: expected ${PEERS} new pods seen ready, got:\n${timeline.describe()}`);
    }
    const cycles = fresh.slice(1).map((f, k) => (f.firstSeen - fresh[k]!.firstSeen) / 1000);
    const podReady = fresh.map((f) => (f.readyAt! - f.firstSeen) / 1000);
    return { mode, helmSeconds: up.seconds, cycles, podReady };
  } finally {
    await cluster.kubectl(['delete', 'namespace', rel.namespace, '--wait=false']);
  }
}

async function main(): Promise<void> {
  ensureBundle();
  const cluster = await ensureCluster();
  const runs: Run[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which mode goes first, so neither always runs on the warmer cluster.
      const order: Run['mode'][] = round % 2 === 0 ? ['staged', 'plain'] : ['plain', 'staged'];
      for (const mode of order) {
        const r = await oneUpgrade(cluster, mode, round);
        runs.push(r);
        console.log(
          `  round ${round + 1} ${mode.padEnd(6)} helm upgrade ${r.helmSeconds.toFixed(1)} s; cycles ${r.cycles.map((c) => c.toFixed(1)).join(', ')} s; pod start->ready ${r.podReady.map((c) => c.toFixed(1)).join(', ')} s`,
        );
      }
    }
  } finally {
    await releaseCluster(cluster);
  }
  const of = (mode: Run['mode']) => runs.filter((r) => r.mode === mode);
  const helmS = median(of('staged').map((r) => r.helmSeconds));
  const helmP = median(of('plain').map((r) => r.helmSeconds));
  const cycS = median(of('staged').flatMap((r) => r.cycles));
  const cycP = median(of('plain').flatMap((r) => r.cycles));
  const ready = median(runs.flatMap((r) => r.podReady));
  const perPeer = (helmS - helmP) / PEERS;
  console.log(`staged rollout vs plain rolling update, ${PEERS} peers, 1.13.4 -> 1.13.5, Helm 3, median of ${ROUNDS} round(s):`);
  console.log(`  helm upgrade wall time     staged ${helmS.toFixed(1)} s, plain ${helmP.toFixed(1)} s: +${(helmS - helmP).toFixed(1)} s = ${perPeer.toFixed(2)} s per peer`);
  console.log(`  per-peer cycle             staged ${cycS.toFixed(2)} s, plain ${cycP.toFixed(2)} s: +${(cycS - cycP).toFixed(2)} s per peer`);
  console.log(`  the pod's own start->ready ${ready.toFixed(2)} s (readiness probe 1 s delay, 1 s period)`);
  console.log(`  added per peer (wall time) ${perPeer.toFixed(2)} s (target < 5 s: ${verdict(perPeer < 5)})`);
}

await main();
