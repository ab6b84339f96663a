/**
 * Memory of the per-volume commands on hostile sizes (README "Restore and its limits"): peak RSS of the bundled CLI
 * (GNU time) and its ratio to the input, for
 *   - a 64 MiB raft_state.json (the largest the guard reads): a 64 MiB cluster_metadata value, and ~64 MiB of peers;
 *   - a 30 MB cluster_metadata value (Qdrant accepts it, and users can set one through its API);
 *   - the 64 MiB state archived by `volume` and put back by `restore`;
 *   - a 1 MiB gzip bomb (1 GiB of zeros, wrong checksum) given to `restore`.
 * Target: peak RSS <= 3x the file size + 100 MiB; the 30 MB case under 256 MiB, the container limit the README
 * recommends for upgradeGuard.resources. The bundle is built fresh into a temp dir, so the figures are of this source.
 */
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { measure, mib, repoRoot, verdict } from './lib.js';

const MiB = 1024 * 1024;
const PEER = '3134814695916598';
const work = mkdtempSync(path.join(os.tmpdir(), 'qug-bench-state-'));
const bundle = path.join(work, 'cli.mjs');
await build({
  absWorkingDir: repoRoot,
  entryPoints: ['hook/cli.ts'],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  logLevel: 'warning',
  banner: { js: 'import { createRequire as __c } from "node:module"; const require = __c(import.meta.url);' },
});

function base(extra: string): string {
  return (
    `{"state":{"hard_state":{"term":7,"vote":${PEER},"commit":1342},"conf_state":{"voters":[${PEER}],"learners":[],"voters_outgoing":[],"learners_next":[],"auto_leave":false}},` +
    `"latest_snapshot_meta":{"term":0,"index":0},"apply_progress_queue":[1343,1342],"first_voter":${PEER},` +
    `"peer_address_by_id":{"${PEER}":"http://qdrant-0.qdrant-headless:6335/"},"peer_metadata_by_id":{"${PEER}":{"version":"1.13.4"}},` +
    `${extra}"this_peer_id":${PEER}}`
  );
}

function storageWith(name: string, state: string | Buffer): string {
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, 'collections_meta_wal'), { recursive: true });
  writeFileSync(path.join(dir, 'collections_meta_wal', 'open-1'), Buffer.alloc(4096, 1));
  writeFileSync(path.join(dir, 'raft_state.json'), state);
  return dir;
}

/** A cluster_metadata value of `bytes` bytes: mostly one long string, as an API user could store. */
function metadataState(bytes: number): string {
  const shell = base('"cluster_metadata":{"big":{"note":"","n":[1,2.5,{"k":true}]}},');
  return base(`"cluster_metadata":{"big":{"note":"${'x'.repeat(bytes - shell.length)}","n":[1,2.5,{"k":true}]}},`);
}

/** ~`bytes` of peers: addresses and versions for as many peer ids as fit. */
function peersState(bytes: number): string {
  const addrs: string[] = [];
  const metas: string[] = [];
  let size = 600;
  for (let i = 0; size < bytes; i++) {
    const id = String(1_000_000_000_000 + i * 7919);
    const a = `"${id}":"http://qdrant-${i}.qdrant-headless:6335/"`;
    const m = `"${id}":{"version":"1.13.4"}`;
    addrs.push(a);
    metas.push(m);
    size += a.length + m.length + 2;
  }
  return (
    `{"state":{"hard_state":{"term":7,"vote":${PEER},"commit":1342},"conf_state":{"voters":[${PEER}],"learners":[],"voters_outgoing":[],"learners_next":[],"auto_leave":false}},` +
    `"latest_snapshot_meta":{"term":0,"index":0},"apply_progress_queue":[1343,1342],"first_voter":${PEER},` +
    `"peer_address_by_id":{"${PEER}":"http://qdrant-0.qdrant-headless:6335/",${addrs.join(',')}},"peer_metadata_by_id":{${metas.join(',')}},"this_peer_id":${PEER}}`
  );
}

const rows: { name: string; bytes: number; kib?: number; seconds: number; limit: number }[] = [];
function run(name: string, bytes: number, args: string[], limitMiB: number, okCodes = [0]) {
  const m = measure(process.execPath, [bundle, ...args], { okCodes });
  rows.push({ name, bytes, seconds: m.seconds, limit: limitMiB, ...(m.maxRssKiB !== undefined ? { kib: m.maxRssKiB } : {}) });
}

const target = (bytes: number) => (3 * bytes) / MiB + 100;
const cases: [string, string][] = [
  ['64 MiB state, one cluster_metadata value', metadataState(64 * MiB - 64)],
  ['64 MiB state, ~700k peers', peersState(64 * MiB - 4096)],
  ['30 MB cluster_metadata value', metadataState(30_000_000)],
];
for (const [name, text] of cases) {
  const dir = storageWith(name.replace(/[^a-z0-9]+/gi, '-'), text);
  const bytes = statSync(path.join(dir, 'raft_state.json')).size;
  const limit = name.startsWith('30 MB') ? Math.min(256, target(bytes)) : target(bytes);
  run(`volume --check-only: ${name}`, bytes, ['volume', '--check-only', '--storage', dir, '--pod', 'qdrant-0'], limit);
  run(`inspect: ${name}`, bytes, ['inspect', '--storage', dir], limit);
}

// The largest state through the archive path: archived by `volume`, the state lost, restored by `restore`.
{
  const dir = storageWith('archive-64', metadataState(64 * MiB - 64));
  const bytes = statSync(path.join(dir, 'raft_state.json')).size;
  run('volume (archiving): 64 MiB state', bytes, ['volume', '--storage', dir, '--pod', 'qdrant-0', '--from', '1.13.4', '--to', '1.13.5'], target(bytes));
  const archive = readdirSync(path.join(dir, '.upgrade-guard')).find((n) => n.endsWith('.tar.gz'))!;
  rmSync(path.join(dir, 'raft_state.json'));
  run('restore: 64 MiB state onto its lost-state volume', bytes, ['restore', '--archive', path.join(dir, '.upgrade-guard', archive), '--storage', dir, '--pod', 'qdrant-0'], target(bytes));
}

// The gzip bomb: 1 GiB of zeros behind a tar header, the gzip checksum broken.
const bomb = gzipSync(Buffer.alloc(1024 * MiB), { level: 9 });
bomb.writeUInt32LE(bomb.readUInt32LE(bomb.length - 8) ^ 1, bomb.length - 8);
const bombFile = path.join(work, 'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz');
writeFileSync(bombFile, bomb);
const target0 = storageWith('bomb-target', base(''));
run('restore: 1 MiB gzip bomb (1 GiB of zeros)', bomb.length, ['restore', '--archive', bombFile, '--storage', target0, '--output', 'json'], 100 + 3, [1]);

console.log('state parsing and archive reading: peak RSS of the bundled CLI');
for (const r of rows) {
  const ratio = r.kib === undefined ? 'n/a' : `${((r.kib * 1024) / r.bytes).toFixed(2)}x`;
  const ok = r.kib === undefined ? 'n/a' : verdict(r.kib / 1024 <= r.limit);
  console.log(
    `  ${r.name.padEnd(62)} input ${(r.bytes / MiB).toFixed(1).padStart(6)} MiB  peak RSS ${mib(r.kib).padStart(10)}  ratio ${ratio.padStart(7)}  ` +
      `${r.seconds.toFixed(2)} s  target <= ${r.limit.toFixed(0)} MiB: ${ok}`,
  );
}
rmSync(work, { recursive: true, force: true });
