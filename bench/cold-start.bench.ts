/**
 * CLI cold start: `inspect` on a small storage dir through the bundle, beside `node -e 0`, in the same run.
 * Target: at most 4x. Interleaved runs, medians, millisecond wall clock.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundlePath, ensureBundle, median, repoRoot, verdict, wall } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS_COLD ?? 15);

async function main(): Promise<void> {
  ensureBundle();
  const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'qug-bench-cold-'));
  try {
    await fs.copyFile(
      path.resolve(repoRoot, 'test/fixtures/raft-state/constructed/v1.13.4_cluster-3peer_qdrant-0.json'),
      path.join(storage, 'raft_state.json'),
    );
    const node0 = () => wall(process.execPath, ['-e', '0']);
    const inspect = () => wall(process.execPath, [bundlePath, 'inspect', '--storage', storage]);
    node0();
    inspect();
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      a.push(node0());
      b.push(inspect());
    }
    const n = median(a);
    const c = median(b);
    console.log(`cold start, median of ${RUNS}:`);
    console.log(`  node -e 0                ${(n * 1000).toFixed(0)} ms`);
    console.log(`  inspect (bundle)         ${(c * 1000).toFixed(0)} ms`);
    console.log(`  ratio ${(c / n).toFixed(2)}x (target <= 4x: ${verdict(c / n <= 4)})`);
  } finally {
    await fs.rm(storage, { recursive: true, force: true });
  }
}

await main();
