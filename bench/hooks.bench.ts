/**
 * The cluster-aware hooks against the test doubles (Kubernetes API double + Qdrant emulator, real HTTP on
 * loopback), printing figures:
 * - pre-upgrade for 3, 10 and 50 peers: wall time and API requests. Targets: 50 peers <= 2x the 3-peer time;
 *   requests <= 4 + 3 per peer.
 * - post-upgrade: time from convergence to verdict (< 2 s); time from the first #6229 loop line to the
 *   failure (< 30 s); the poll interval (no resource polled more than once a second).
 * Worker pods here finish at once (the double runs `volume` in-process), so the figures are the
 * coordinator's own overhead, not a volume's archive time (bench/volume.bench.ts measures that).
 */
import { runPreUpgrade } from '../hook/commands/pre-upgrade.js';
import { runPostUpgrade, POLL_MS } from '../hook/commands/post-upgrade.js';
import { startScenario } from '../test/support/guard-scenario.js';

const SIZES = (process.env.BENCH_PEERS ?? '3,10,50').split(',').map(Number);

const preOptions = {
  release: 'qdrant',
  statefulset: 'qdrant',
  targetVersion: '1.13.5',
  workerImage: 'qdrant-upgrade-guard:bench',
  allowVersionSkip: false,
  allowDegraded: false,
  timeoutSeconds: 120,
  archiveLocation: 'storage' as const,
  keep: 5,
};

async function preUpgrade(peers: number, instantWorkers: boolean): Promise<{ ms: number; requests: number; verdict: string }> {
  // The production poll interval (1 s): what a hook Job does, request for request.
  const s = await startScenario({ peers, instantWorkers, pollIntervalMs: 1000, realClock: true });
  try {
    const before = s.kube.api.requestCount();
    const t0 = performance.now();
    const report = await runPreUpgrade(preOptions, s.deps);
    return { ms: performance.now() - t0, requests: s.kube.api.requestCount() - before, verdict: report.verdict };
  } finally {
    await s.close();
  }
}

async function convergenceToVerdict(): Promise<number> {
  const s = await startScenario({ peers: 3, pollIntervalMs: 1000, realClock: true });
  try {
    await runPreUpgrade(preOptions, s.deps);
    s.applyUpgrade('1.13.5');
    let convergedAt = 0;
    // Converged: the last pod is replaced and ready, and the emulated peers agree (checked in-process every
    // 10 ms, so the mark is within 10 ms of the real moment; the hook sees it only through its 1 s polls).
    const roll = s.rollOutAll().then(async () => {
      while (s.qdrant.divergence() !== undefined) await new Promise((r) => setTimeout(r, 10));
      convergedAt = performance.now();
    });
    const report = await runPostUpgrade({ release: 'qdrant', statefulset: 'qdrant', targetVersion: '1.13.5', timeoutSeconds: 60, onFailure: 'fail' }, s.deps);
    const doneAt = performance.now();
    await roll;
    if (report.verdict !== 'pass') throw new Error(`post-upgrade did not pass: ${report.summary}`);
    return doneAt - convergedAt;
  } finally {
    await s.close();
  }
}

async function loopToFailure(): Promise<number> {
  const s = await startScenario({ peers: 3, pollIntervalMs: 1000, realClock: true });
  try {
    await runPreUpgrade(preOptions, s.deps);
    s.applyUpgrade('1.13.5');
    const post = runPostUpgrade({ release: 'qdrant', statefulset: 'qdrant', targetVersion: '1.13.5', timeoutSeconds: 120, onFailure: 'fail' }, s.deps);
    await s.rollOutAll({ deleteState: (o) => o === 2 });
    const report = await post;
    const failedAt = Date.now();
    if (report.verdict !== 'fail') throw new Error('expected a failure');
    // The first "Replaced metadata" line of the peer that lost its state, by the timestamp Qdrant wrote on it.
    const first = s.qdrant.peers[2]!.logs({ sinceLastStart: true }).find((r) => r.message.startsWith('Replaced metadata of peer'));
    if (!first) throw new Error('the emulator logged no loop line');
    return failedAt - Date.parse(first.timestamp);
  } finally {
    await s.close();
  }
}

async function main(): Promise<void> {
  for (const instantWorkers of [false, true]) {
    const rows: { peers: number; ms: number; requests: number; verdict: string }[] = [];
    for (const peers of SIZES) rows.push({ peers, ...(await preUpgrade(peers, instantWorkers)) });
    console.log(
      instantWorkers
        ? 'pre-upgrade against the doubles, workers answering at once (the coordinator alone)'
        : 'pre-upgrade against the doubles, workers running the real `volume` in-process (all archives on these 2 cores)',
    );
    for (const r of rows) {
      console.log(`  ${String(r.peers).padStart(3)} peers: ${r.ms.toFixed(0).padStart(6)} ms, ${String(r.requests).padStart(4)} API requests (target <= ${4 + 3 * r.peers}), verdict ${r.verdict}`);
    }
    const small = rows.find((r) => r.peers === Math.min(...SIZES))!;
    const large = rows.find((r) => r.peers === Math.max(...SIZES))!;
    console.log(`  ${large.peers} peers / ${small.peers} peers time: ${(large.ms / small.ms).toFixed(2)}x (target <= 2x)`);
  }
  console.log('post-upgrade');
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) samples.push(await convergenceToVerdict());
  samples.sort((a, b) => a - b);
  console.log(
    `  convergence -> verdict, 3 runs at the production 1 s poll: median ${samples[1]!.toFixed(0)} ms, max ${samples[2]!.toFixed(0)} ms (target < 2000 ms)`,
  );
  console.log(`  first loop line -> failure: ${(await loopToFailure()).toFixed(0)} ms (target < 30000 ms)`);
  console.log(`  poll interval: ${POLL_MS} ms per resource (target: no resource more than once a second)`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
