/**
 * Restore under faults: a full disk, names the file system cannot hold, concurrent runs, another peer's archive,
 * hostile archives without a usable state. Each case ends in one of two outcomes only: the volume restored and
 * reading back right, or the volume byte for byte as it was with no staging dir left (all-or-nothing).
 * The full-disk case runs on a real tmpfs (this suite runs as root); it is skipped with the reason printed
 * where mount is not allowed.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header, Pax } from 'tar';
import { runCli, type CliContext } from '../../../hook/cli.js';
import type { Check } from '../../../hook/report.js';
import type { ProcessDetector } from '../../../hook/archive/holders.js';
import { acquireStorageLock, lockPath } from '../../../hook/archive/lock.js';
import { restoreArchive } from '../../../hook/archive/restore.js';
import { writeArchive } from '../../../hook/archive/write.js';
import { inspectStorage } from '../../../hook/storage/inspect.js';
import {
  buildTarGz,
  cleanupTempDirs,
  fixture,
  makeStorage,
  manifestFor,
  tempDir,
  THREE_PEER_0,
  THREE_PEER_1,
  treeDigest,
  type TarEntrySpec,
} from '../helpers/storage.js';

const NOW = new Date('2025-03-21T10:15:02Z');
const LATER = new Date('2025-03-21T11:00:00Z');
const PEER0 = '3134814695916598';
const PEER1 = '7820539312201337';
const nobody: ProcessDetector = { scan: async () => ({ supported: true, holders: [] }) };
const notGuard = (rel: string) => rel.startsWith('.upgrade-guard');

async function archiveOf(storage: string, podName = 'qdrant-0', archiveDir = path.join(storage, '.upgrade-guard'), now = NOW) {
  const inspection = await inspectStorage(storage);
  const ordinal = Number(podName.split('-').pop());
  return writeArchive({ inspection, archiveDir, pod: { statefulSet: 'qdrant', ordinal }, podName, from: '1.13.4', to: '1.13.5', now });
}

function firstFail(out: { checks: Check[] }): Check {
  const c = out.checks.find((x) => x.status === 'fail');
  if (!c) throw new Error(`no failed check in ${JSON.stringify(out.checks.map((x) => [x.id, x.status]))}`);
  return c;
}

async function guardEntries(storage: string): Promise<string[]> {
  return (await fs.readdir(path.join(storage, '.upgrade-guard')).catch(() => [] as string[])).sort();
}

async function handMade(entries: TarEntrySpec[]): Promise<string> {
  const file = path.join(await tempDir(), 'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz');
  await fs.writeFile(file, buildTarGz(entries));
  return file;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const ctx: CliContext = { env, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  const code = await runCli(args, ctx);
  return { code, stdout, stderr };
}

/** Like buildTarGz, but long names go in a PAX header as tar(1) writes them. */
function paxTarGz(entries: { path: string; body: Buffer | string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body);
    const h = new Header({ path: e.path, type: 'File', size: body.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 });
    const block = Buffer.alloc(512);
    if (h.encode(block, 0)) blocks.push(new Pax({ path: e.path, mtime: new Date(0), size: body.length }).encode());
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

function mountTmpfs(dir: string, options: string): boolean {
  return spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]).status === 0;
}

describe('restore is all-or-nothing under faults', () => {
  afterEach(cleanupTempDirs);

  it('a full file system while staging (real tmpfs out of inodes) refuses, leaves the volume byte for byte, removes the staging dir', async function () {
    // ~1,000 small WAL segments: the byte estimate fits, the file system runs out of inodes part way.
    const source = await makeStorage({ stateFixture: THREE_PEER_0, wal: Array.from({ length: 1000 }, () => 900) });
    const a = await archiveOf(source, 'qdrant-0', await tempDir());
    const storage = await tempDir('qug-tmpfs-');
    if (!mountTmpfs(storage, 'size=64m,nr_inodes=300')) this.skip();
    try {
      await makeStorage({ wal: [100, 200, 300], collections: ['books'] }, storage);
      const before = await treeDigest(storage);
      const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody });
      expect(out.restored).to.equal(false);
      const failed = out.checks.find((c) => c.status === 'fail')!;
      expect(failed.id).to.equal('restore.staging');
      expect(failed.observed).to.contain('ENOSPC');
      expect(failed.remedy).to.contain('nothing was changed');
      expect(await treeDigest(storage, notGuard)).to.deep.equal(before);
      expect(await guardEntries(storage)).to.deep.equal([]);
      expect((await inspectStorage(storage)).classification).to.equal('missing-state');
    } finally {
      spawnSync('umount', [storage]);
    }
  });

  it('a swap that fails part way (.upgrade-guard on another file system: EXDEV) is undone, the volume left as it was', async function () {
    const source = await makeStorage({ stateFixture: THREE_PEER_0, wal: [500, 600] });
    const a = await archiveOf(source, 'qdrant-0', await tempDir());
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
    await fs.writeFile(path.join(storage, 'raft_state.json'), '{"corrupt":');
    await fs.mkdir(path.join(storage, '.upgrade-guard'));
    if (!mountTmpfs(path.join(storage, '.upgrade-guard'), 'size=16m')) this.skip();
    try {
      const before = await treeDigest(storage, notGuard);
      const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody });
      expect(out.restored).to.equal(false);
      const c = firstFail(out);
      expect(c.id).to.equal('restore.applied');
      expect(c.observed).to.contain('EXDEV');
      expect(c.observed).to.contain('every step was undone');
      expect(await treeDigest(storage, notGuard)).to.deep.equal(before);
      expect(await guardEntries(storage)).to.deep.equal([]);
    } finally {
      spawnSync('umount', [path.join(storage, '.upgrade-guard')]);
    }
  });

  it('a swap that fails after the WAL was swapped (an immutable raft_state.json: EPERM) puts the WAL back', async function () {
    const source = await makeStorage({ stateFixture: THREE_PEER_0, wal: [500, 600] });
    const a = await archiveOf(source, 'qdrant-0', await tempDir());
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
    const state = path.join(storage, 'raft_state.json');
    await fs.writeFile(state, '{"corrupt":');
    if (spawnSync('chattr', ['+i', state]).status !== 0) this.skip();
    try {
      const before = await treeDigest(storage, notGuard);
      const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody });
      expect(out.restored).to.equal(false);
      const c = firstFail(out);
      expect(c.id).to.equal('restore.applied');
      expect(c.observed).to.contain('EPERM');
      expect(c.observed).to.contain('every step was undone');
      expect(await treeDigest(storage, notGuard)).to.deep.equal(before);
      expect(await fs.readdir(path.join(storage, 'collections_meta_wal'))).to.deep.equal(['open-1']);
      expect(await guardEntries(storage)).to.deep.equal([]);
    } finally {
      spawnSync('chattr', ['-i', state]);
    }
  });

  it('refuses, before touching anything, an entry whose name no Linux file system can hold', async () => {
    const s = await fs.readFile(fixture(THREE_PEER_0));
    const long = `collections_meta_wal/${'x'.repeat(300)}`;
    const files = [{ path: 'raft_state.json', body: s }, { path: long, body: 'wal' }];
    const file = await handMade([
      { path: 'raft_state.json', body: s },
      { path: 'collections_meta_wal/', type: 'Directory' },
      { path: long, body: 'wal' },
      { path: 'manifest.json', body: manifestFor(files, PEER0, { directories: ['collections_meta_wal'] }) },
    ]);
    const storage = await makeStorage({ wal: [100] });
    const before = await treeDigest(storage);
    const out = await restoreArchive({ archive: file, storage, now: LATER, detector: nobody });
    expect(out.restored).to.equal(false);
    expect(firstFail(out)).to.deep.include({ id: 'restore.archive', status: 'fail' });
    expect(firstFail(out).observed).to.contain('longer than 255 bytes');
    expect(await treeDigest(storage)).to.deep.equal(before);
  });

  it('refuses a WAL path that is a file, not a directory (a directory would be in the way)', async () => {
    const s = await fs.readFile(fixture(THREE_PEER_0));
    const files = [{ path: 'raft_state.json', body: s }, { path: 'collections_meta_wal', body: 'not a dir' }];
    const file = await handMade([...files, { path: 'manifest.json', body: manifestFor(files, PEER0) }]);
    const storage = await makeStorage({ wal: [100] });
    const before = await treeDigest(storage);
    const out = await restoreArchive({ archive: file, storage, now: LATER, detector: nobody });
    expect(out.restored).to.equal(false);
    expect(firstFail(out).observed).to.contain('collections_meta_wal');
    expect(await treeDigest(storage)).to.deep.equal(before);
  });

  it('refuses a path that is both a file and a directory, before staging', async () => {
    const s = await fs.readFile(fixture(THREE_PEER_0));
    for (const order of [['collections_meta_wal/a', 'collections_meta_wal/a/b'], ['collections_meta_wal/a/b', 'collections_meta_wal/a']]) {
      const files = [{ path: 'raft_state.json', body: s }, ...order.map((p) => ({ path: p, body: 'x' }))];
      const file = await handMade([...files, { path: 'manifest.json', body: manifestFor(files, PEER0) }]);
      const storage = await makeStorage({ wal: [100] });
      const before = await treeDigest(storage);
      const out = await restoreArchive({ archive: file, storage, now: LATER, detector: nobody });
      expect(firstFail(out)).to.deep.include({ id: 'restore.archive' });
      expect(firstFail(out).observed).to.match(/which the archive holds as a file|other entries lie below it/);
      expect(await treeDigest(storage)).to.deep.equal(before);
    }
  });

  it('an entry path too deep for the file system is a refusal with JSON and exit 1, not a stack trace', async () => {
    const s = await fs.readFile(fixture(THREE_PEER_0));
    const deep = 'collections_meta_wal/' + Array.from({ length: 400 }, () => 'abcdefghij').join('/');
    const files = [{ path: 'raft_state.json', body: s }, { path: deep, body: 'x' }];
    const file = path.join(await tempDir(), 'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz');
    await fs.writeFile(file, paxTarGz([...files, { path: 'manifest.json', body: manifestFor(files, PEER0) }]));
    const storage = await makeStorage({ wal: [100] });
    const before = await treeDigest(storage);
    const r = await cli(['restore', '--archive', file, '--storage', storage, '--output', 'json']);
    expect(r.code, r.stderr).to.equal(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.verdict).to.equal('refuse');
    expect(doc.checks.find((c: Check) => c.status === 'fail').observed).to.contain('longer than 4095 bytes');
    expect(await treeDigest(storage)).to.deep.equal(before);
  });
});

describe('restore validates the staged state before the swap', () => {
  afterEach(cleanupTempDirs);

  it('refuses a raft_state.json/ directory entry beside a 1-byte legacy raft_state, changing nothing', async () => {
    const files = [{ path: 'raft_state', body: Buffer.from([0x00]) }];
    const file = await handMade([
      { path: 'raft_state.json/', type: 'Directory' },
      ...files,
      { path: 'manifest.json', body: manifestFor(files, PEER0, { directories: ['raft_state.json'] }) },
    ]);
    const storage = await makeStorage({ wal: [100] });
    const before = await treeDigest(storage);
    const out = await restoreArchive({ archive: file, storage, now: LATER, detector: nobody });
    expect(out.restored).to.equal(false);
    expect(firstFail(out)).to.deep.include({ id: 'restore.archive', status: 'fail' });
    expect(await treeDigest(storage)).to.deep.equal(before);
  });

  it('refuses a legacy-only archive whose raft_state is not a valid state (manifest says peer 42)', async () => {
    const files = [{ path: 'raft_state', body: Buffer.from([0x00]) }];
    const file = await handMade([...files, { path: 'manifest.json', body: manifestFor(files, '42', { stateFormat: 'cbor-legacy' }) }]);
    const storage = await makeStorage({ wal: [100] });
    const before = await treeDigest(storage);
    const out = await restoreArchive({ archive: file, storage, now: LATER, detector: nobody });
    expect(out.restored).to.equal(false);
    expect(firstFail(out).observed).to.contain('archived raft_state');
    expect(await treeDigest(storage)).to.deep.equal(before);
  });

  for (const [field, value] of [['term', '8'], ['commit', '1'], ['stateFormat', 'cbor-legacy']] as const) {
    it(`refuses an archive whose manifest ${field} differs from the archived state`, async () => {
      const s = await fs.readFile(fixture(THREE_PEER_0));
      const files = [{ path: 'raft_state.json', body: s }];
      const file = await handMade([...files, { path: 'manifest.json', body: manifestFor(files, PEER0, { [field]: value }) }]);
      const out = await restoreArchive({ archive: file, storage: await makeStorage({ wal: [100] }), now: LATER, detector: nobody });
      expect(out.restored).to.equal(false);
      expect(firstFail(out).observed).to.contain(`manifest.json says ${field}`);
    });
  }
});

describe('restore takes an exclusive lock on the storage dir', () => {
  afterEach(cleanupTempDirs);

  it('two restores at once: one restores, the other refuses naming the pid; the WAL is complete', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [5000, 6000, 7000] });
    const original = await treeDigest(storage, notGuard);
    const a = await archiveOf(storage);
    await fs.rm(path.join(storage, 'raft_state.json'));
    await fs.rm(path.join(storage, 'collections_meta_wal', 'open-2'));
    const [x, y] = await Promise.all([
      restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody }),
      restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody }),
    ]);
    expect([x.restored, y.restored].sort()).to.deep.equal([false, true]);
    const loser = x.restored ? y : x;
    expect(firstFail(loser)).to.deep.include({ id: 'restore.lock', status: 'fail' });
    expect(firstFail(loser).observed).to.contain(`another restore or volume run holds the storage dir (pid ${process.pid}`);
    expect(await treeDigest(storage, notGuard)).to.deep.equal(original);
    expect((await guardEntries(storage)).filter((n) => n.includes('staging') || n === 'lock')).to.deep.equal([]);
  });

  it('two restores in the same second keep both replaced sets apart', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [5000] });
    const a = await archiveOf(storage);
    const first = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody, withWal: true });
    const second = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody, withWal: true });
    expect(first.restored && second.restored).to.equal(true);
    expect(first.replacedDir).to.not.equal(second.replacedDir);
    expect(await fs.readdir(path.join(second.replacedDir!, 'collections_meta_wal'))).to.deep.equal(['open-1']);
  });

  it('volume (archiving) refuses while a restore holds the lock, and --check-only refuses too', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
    const held = await acquireStorageLock(storage, 'restore');
    expect(held.ok).to.equal(true);
    try {
      const r = await cli(['volume', '--storage', storage, '--from', '1.13.4', '--to', '1.13.5', '--pod', 'qdrant-0', '--output', 'json']);
      expect(r.code, r.stderr).to.equal(1);
      const doc = JSON.parse(r.stdout);
      expect(doc.checks.find((c: { id: string }) => c.id === 'volume.lock')).to.deep.include({ status: 'fail' });
      expect(doc.details.archive).to.equal(null);
      const c = await cli(['volume', '--storage', storage, '--check-only', '--pod', 'qdrant-0']);
      expect(c.code).to.equal(1);
      expect(c.stdout).to.contain(`pid ${process.pid}`);
    } finally {
      if (held.ok) await held.release();
    }
    expect(await fs.stat(lockPath(storage)).catch(() => undefined)).to.equal(undefined);
  });

  it('--check-only is not held by an archiving run (a killed pre-upgrade worker must not hold Qdrant)', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
    await fs.mkdir(path.join(storage, '.upgrade-guard'), { recursive: true });
    await fs.writeFile(lockPath(storage), JSON.stringify({ pid: 7, host: 'qdrant-guard-worker-0', command: 'volume', startedAt: NOW.toISOString() }));
    const c = await cli(['volume', '--storage', storage, '--check-only', '--pod', 'qdrant-0']);
    expect(c.code, c.stdout).to.equal(0);
    const a = await cli(['volume', '--storage', storage, '--pod', 'qdrant-0', '--from', '1.13.4', '--to', '1.13.5']);
    expect(a.code).to.equal(1);
    expect(a.stdout).to.contain('pid 7 on qdrant-guard-worker-0');
  });

  it('takes over a stale lock of a process that no longer exists on this host, and removes the staging dir it left', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
    const a = await archiveOf(storage);
    await fs.mkdir(path.join(storage, '.upgrade-guard', 'restore-20250321T100000Z-99999999-abcd.staging', 'collections_meta_wal'), { recursive: true });
    // A pid far above pid_max cannot be alive.
    await fs.writeFile(lockPath(storage), JSON.stringify({ pid: 99999999, host: os.hostname(), command: 'restore', startedAt: NOW.toISOString() }));
    const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody });
    expect(out.restored).to.equal(true);
    expect(out.checks.find((c) => c.id === 'restore.lock')!.observed).to.contain('stale lock of pid 99999999');
    expect((await guardEntries(storage)).filter((n) => n.endsWith('.staging'))).to.deep.equal([]);
  });

  it('refuses a lock held on another host and says how to clear it', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
    const a = await archiveOf(storage);
    await fs.writeFile(lockPath(storage), JSON.stringify({ pid: 7, host: 'qdrant-restore-job-x', command: 'restore', startedAt: NOW.toISOString() }));
    const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody });
    expect(out.restored).to.equal(false);
    const c = firstFail(out);
    expect(c).to.deep.include({ id: 'restore.lock', status: 'fail' });
    expect(c.observed).to.contain('pid 7 on qdrant-restore-job-x');
    expect(c.remedy).to.contain(lockPath(storage));
  });
});

describe('restore refuses to give a volume another peer\'s identity', () => {
  afterEach(cleanupTempDirs);

  async function lostStateVolume1() {
    // qdrant-1's volume, archived once by its own pre-upgrade step, then its raft_state.json lost.
    const storage = await makeStorage({ stateFixture: THREE_PEER_1, wal: [100] });
    await archiveOf(storage, 'qdrant-1');
    await fs.rm(path.join(storage, 'raft_state.json'));
    return storage;
  }

  it('refuses qdrant-0\'s archive on qdrant-1\'s lost-state volume: its own newest archive names peer 7820...', async () => {
    const storage = await lostStateVolume1();
    const a = await archiveOf(await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] }), 'qdrant-0');
    const before = await treeDigest(storage);
    const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody });
    const c = out.checks.find((x) => x.id === 'restore.identity')!;
    expect(c.status).to.equal('fail');
    expect(c.observed).to.contain(`newest own archive of this volume`);
    expect(c.observed).to.contain(`peer ${PEER1}`);
    expect(out.restored).to.equal(false);
    expect(await treeDigest(storage)).to.deep.equal(before);
  });

  it('refuses when --pod disagrees with the archive\'s recorded pod and with the address of its peer', async () => {
    const storage = await makeStorage({ wal: [100] }); // no own archive to compare with
    const a = await archiveOf(await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] }), 'qdrant-0');
    const r = await cli(['restore', '--archive', a.path, '--storage', storage, '--output', 'json'], { POD_NAME: 'qdrant-1' });
    expect(r.code, r.stderr).to.equal(1);
    const c = JSON.parse(r.stdout).checks.find((x: { id: string }) => x.id === 'restore.identity');
    expect(c.status).to.equal('fail');
    expect(c.observed).to.contain('recorded for pod qdrant-0');
    expect(c.observed).to.contain('http://qdrant-0.qdrant-headless:6335/');
  });

  it('looks for own archives in --archive-dir only when the pod is known (that dir may hold every pod\'s archives)', async () => {
    const snapshots = await tempDir();
    const storage = await makeStorage({ stateFixture: THREE_PEER_1, wal: [100] });
    await archiveOf(storage, 'qdrant-1', snapshots);
    await fs.rm(path.join(storage, 'raft_state.json'));
    const foreign = await archiveOf(await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] }), 'qdrant-1', await tempDir());
    const withPod = await restoreArchive({ archive: foreign.path, storage, now: LATER, detector: nobody, pod: 'qdrant-1', archiveDir: snapshots });
    const c = withPod.checks.find((x) => x.id === 'restore.identity')!;
    expect(c.status).to.equal('fail');
    expect(c.observed).to.contain(`is peer ${PEER1}; the archive to restore is peer ${PEER0}`);
    const withoutPod = await restoreArchive({ archive: foreign.path, storage, now: LATER, detector: nobody, archiveDir: snapshots });
    const d = withoutPod.checks.find((x) => x.id === 'restore.identity')!;
    expect(d.status).to.equal('pass');
    expect(d.observed).to.contain('no --pod or POD_NAME');
  });

  it('--allow-peer-change overrides and says so', async () => {
    const storage = await lostStateVolume1();
    const a = await archiveOf(await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] }), 'qdrant-0');
    const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody, pod: 'qdrant-1', allowPeerChange: true });
    expect(out.restored).to.equal(true);
    const c = out.checks.find((x) => x.id === 'restore.identity')!;
    expect(c.status).to.equal('warn');
    expect(c.remedy).to.contain('--allow-peer-change');
  });

  it('restores the volume\'s own archive onto its lost state (the #6229 recovery) with --pod', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_1, wal: [100] });
    const a = await archiveOf(storage, 'qdrant-1');
    await fs.rm(path.join(storage, 'raft_state.json'));
    const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody, pod: 'qdrant-1' });
    expect(out.checks.map((c) => [c.id, c.status])).to.deep.include.members([['restore.identity', 'pass'], ['restore.applied', 'pass']]);
    expect((await inspectStorage(storage)).state?.thisPeerId).to.equal(PEER1);
  });
});
