// One e2e cluster for the whole tier. Importing this module registers mocha ROOT hooks (they run once, before
// the first and after the last test of every file): the cluster is started when it is not running, and stopped at
// the end only when this process started it (E2E_KEEP_CLUSTER=1 keeps it). The smoke test's own
// ensureCluster()/releaseCluster() then find it running and leave it alone.
import fs from 'node:fs';
import { ensureCluster, hookBundle, releaseCluster, type Cluster } from './cluster.js';

let cluster: Cluster | undefined;
let startError: Error | undefined;
const cleanups: Array<() => Promise<void>> = [];

before(async function () {
  this.timeout(240_000);
  if (!fs.existsSync(hookBundle)) {
    startError = new Error(`${hookBundle} is missing: run \`node scripts/bundle.mjs\` (make bundle) before the e2e tier`);
    return;
  }
  try {
    cluster = await ensureCluster();
    console.log(`    [e2e] cluster ${cluster.startedHere ? `started in ${cluster.upSeconds.toFixed(1)} s` : 'already running, reused'}`);
  } catch (err) {
    startError = err as Error;
  }
});

after(async function () {
  this.timeout(180_000);
  for (const c of cleanups.reverse()) await c().catch((err: Error) => console.error(`    [e2e] cleanup: ${err.message}`));
  await releaseCluster(cluster);
});

/** The shared cluster; throws the start-up error in the test that needs it (so it shows where it matters). */
export function sharedCluster(): Cluster {
  if (startError) throw startError;
  if (!cluster) throw new Error('the e2e cluster is not started: the root before hook of test/e2e/support/guard-cluster.ts did not run');
  return cluster;
}

/** Runs `fn` in the root after hook, before the cluster is released (namespaces, env overrides). */
export function atTierEnd(fn: () => Promise<void>): void {
  cleanups.push(fn);
}
