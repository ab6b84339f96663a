/**
 * `volume` on a volume with a 64 MiB consensus WAL, beside `tar czf` of the same files in the same run.
 * Targets: at most 1.2x tar's wall time, peak RSS under 100 MiB. Both compress at gzip level 6 (tar czf runs
 * gzip at its default, 6; the guard sets zlib level 6), so the comparison is like for like. The guard also
 * hashes every file (sha256) and writes a manifest, tar does not.
 * WAL content: two 32 MiB segments (Qdrant's segment size) of Raft-entry-like JSON records mixed with
 * random bytes (about 1.5:1 compressible), so neither side gets a free ride on zeros.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundlePath, ensureBundle, measure, median, mib, repoRoot, verdict, type Measurement } from './lib.js';

const SEGMENT = 32 * 1024 * 1024;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function segment(seed: number): Buffer {
  const out = Buffer.alloc(SEGMENT);
  let off = 0;
  let index = seed * 1_000_000;
  let h = createHash('sha256').update(String(seed)).digest();
  while (off < SEGMENT) {
    if (index % 4 === 0) {
      const rnd = randomBytes(Math.min(512, SEGMENT - off));
      rnd.copy(out, off);
      off += rnd.length;
    } else {
      h = createHash('sha256').update(h).digest();
      const rec = Buffer.from(
        `{"term":7,"index":${index},"op":{"UpdatePeerMetadata":{"peer_id":${h.readBigUInt64BE(0) % 9007199254740991n},"metadata":{"version":"1.13.${index % 7}"}}},"collection":"c-${h.toString('hex', 8, 14)}"}\n`,
      );
      off += rec.copy(out, off);
    }
    index++;
  }
  return out;
}

async function main(): Promise<void> {
  ensureBundle();
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'qug-bench-volume-'));
  try {
    const storage = path.join(work, 'storage');
    await fs.mkdir(path.join(storage, 'collections_meta_wal'), { recursive: true });
    await fs.copyFile(
      path.resolve(repoRoot, 'test/fixtures/raft-state/constructed/v1.13.4_cluster-3peer_qdrant-0.json'),
      path.join(storage, 'raft_state.json'),
    );
    for (const i of [1, 2]) await fs.writeFile(path.join(storage, 'collections_meta_wal', `open-${i}`), segment(i));

    const archives = path.join(work, 'archives');
    const guard = (): Measurement =>
      measure(process.execPath, [bundlePath, 'volume', '--storage', storage, '--from', '1.13.4', '--to', '1.13.5', '--pod', 'qdrant-0', '--archive-dir', archives, '--keep', '1']);
    const tar = (): Measurement => measure('tar', ['czf', path.join(work, 'tar-out.tar.gz'), '-C', storage, 'raft_state.json', 'collections_meta_wal']);

    // Warm the page cache for both, then alternate so neither gets a systematically warmer machine.
    guard();
    tar();
    const g: Measurement[] = [];
    const t: Measurement[] = [];
    for (let i = 0; i < RUNS; i++) {
      g.push(guard());
      t.push(tar());
    }
    const gs = median(g.map((m) => m.seconds));
    const ts = median(t.map((m) => m.seconds));
    const grss = g.every((m) => m.maxRssKiB !== undefined) ? Math.max(...g.map((m) => m.maxRssKiB!)) : undefined;
    const trss = t.every((m) => m.maxRssKiB !== undefined) ? Math.max(...t.map((m) => m.maxRssKiB!)) : undefined;
    const ratio = gs / ts;
    const archive = (await fs.readdir(archives)).find((n) => n.endsWith('.tar.gz'))!;
    const [aSize, tSize] = await Promise.all([fs.stat(path.join(archives, archive)), fs.stat(path.join(work, 'tar-out.tar.gz'))]);
    console.log(`volume, 64 MiB WAL (2 x 32 MiB segments), median of ${RUNS}:`);
    console.log(`  guard volume   ${gs.toFixed(2)} s   peak RSS ${mib(grss)}   archive ${(aSize.size / 1048576).toFixed(1)} MiB`);
    console.log(`  tar czf        ${ts.toFixed(2)} s   peak RSS ${mib(trss)}   archive ${(tSize.size / 1048576).toFixed(1)} MiB`);
    console.log(`  ratio ${ratio.toFixed(2)}x (target <= 1.2x: ${verdict(ratio <= 1.2)}); guard RSS target < 100 MiB: ${grss === undefined ? 'n/a' : verdict(grss < 100 * 1024)}`);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

await main();
