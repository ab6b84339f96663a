import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { GuardError } from '../../../hook/errors.js';
import { applyRetention, listArchives } from '../../../hook/archive/list.js';
import { archiveName, parseArchiveName, podIdentity } from '../../../hook/archive/name.js';
import { entryPathProblem, scanArchive } from '../../../hook/archive/read.js';
import { writeArchive, type ArchiveIo } from '../../../hook/archive/write.js';
import { inspectStorage } from '../../../hook/storage/inspect.js';
import {
  buildTarGz,
  cleanupTempDirs,
  fixture,
  LEGACY_BIGINT,
  makeStorage,
  manifestFor,
  segmentBytes,
  sha256,
  tempDir,
  THREE_PEER_0,
  treeDigest,
} from '../helpers/storage.js';

const NOW = new Date('2025-03-21T10:15:02.345Z');
const POD = { statefulSet: 'qdrant', ordinal: 0 };

async function archiveOf(storage: string, archiveDir: string, now = NOW, io?: ArchiveIo) {
  const inspection = await inspectStorage(storage);
  return writeArchive({ inspection, archiveDir, pod: POD, podName: 'qdrant-0', from: '1.13.4', to: '1.13.5', now, ...(io ? { io } : {}) });
}

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, as here); else tests inject the failure. */
function canMount(): boolean {
  const probe = path.join('/tmp', `qug-mount-probe-${process.pid}`);
  spawnSync('mkdir', ['-p', probe]);
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (ok) spawnSync('umount', [probe]);
  spawnSync('rmdir', [probe]);
  return ok;
}

describe('raft-state archives (README.md "Archives and restore")', () => {
  afterEach(cleanupTempDirs);

  describe('names', () => {
    it('derives statefulset and ordinal from the pod name', () => {
      expect(podIdentity('qdrant-2')).to.deep.equal({ statefulSet: 'qdrant', ordinal: 2 });
      expect(podIdentity('my-qdrant-prod-10')).to.deep.equal({ statefulSet: 'my-qdrant-prod', ordinal: 10 });
    });
    it('refuses a pod name without an ordinal as a usage error', () => {
      expect(() => podIdentity('laptop')).to.throw(GuardError, 'cannot derive the statefulset and ordinal');
    });
    it('refuses ordinals a StatefulSet never gives (leading zero, beyond int32) and names longer than a DNS label', () => {
      for (const name of ['qdrant-01', 'qdrant-99999999999999999999', 'qdrant-2147483648', `${'q'.repeat(62)}-0`]) {
        expect(() => podIdentity(name), name).to.throw(GuardError, 'cannot derive the statefulset and ordinal');
      }
      expect(podIdentity('qdrant-2147483647').ordinal).to.equal(2147483647);
    });
    it('names archives raft-<sts>-<ordinal>-<from>-to-<to>-<UTC timestamp>.tar.gz and parses them back', () => {
      const name = archiveName({ statefulSet: 'my-qdrant-2', ordinal: 1 }, 'v1.11.6-dev', '1.12.0', NOW);
      expect(name).to.equal('raft-my-qdrant-2-1-1.11.6-dev-to-1.12.0-20250321T101502Z.tar.gz');
      expect(parseArchiveName(name)).to.deep.include({ statefulSet: 'my-qdrant-2', ordinal: 1, from: '1.11.6-dev', to: '1.12.0', timestamp: '20250321T101502Z' });
      expect(parseArchiveName('raft-x.tar.gz')).to.equal(undefined);
      expect(parseArchiveName('.raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz.partial-1-ab')).to.equal(undefined);
    });
  });

  describe('writing', () => {
    it('archives raft_state.json (first), the WAL and a manifest with every sha256, peer id as a string', async () => {
      const storage = await makeStorage({ stateFixture: LEGACY_BIGINT, wal: [70_000, 1234] });
      const dir = await tempDir();
      const a = await archiveOf(storage, dir);
      expect(a.name).to.equal('raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz');
      expect(sha256(await fs.readFile(a.path))).to.equal(a.sha256);
      expect(a.manifest).to.deep.include({
        formatVersion: 1,
        peerId: '11532566549086892528',
        term: '12',
        commit: '988',
        fromVersion: '1.13.4',
        toVersion: '1.13.5',
        createdAt: '2025-03-21T10:15:02.345Z',
        directories: ['collections_meta_wal'],
      });
      expect(a.manifest.files.map((f) => f.path)).to.deep.equal(['raft_state.json', 'collections_meta_wal/open-1', 'collections_meta_wal/open-2']);
      expect(a.manifest.files[1]).to.deep.equal({ path: 'collections_meta_wal/open-1', size: 70_000, sha256: sha256(segmentBytes(70_000, 0)) });

      const scan = await scanArchive(a.path);
      expect(scan.ok).to.equal(true);
      if (!scan.ok) return;
      expect(scan.raftState?.firstVoter).to.equal('18446744073709551615');
      const raw = await fs.readFile(path.join(dir, a.name));
      expect(raw.subarray(0, 2).toString('hex')).to.equal('1f8b');
    });

    it('keeps u64::MAX byte-exact through archive and extraction', async () => {
      const storage = await makeStorage({ stateFixture: LEGACY_BIGINT });
      const a = await archiveOf(storage, await tempDir());
      const out = await tempDir();
      const scan = await scanArchive(a.path, { extractTo: out });
      expect(scan.ok).to.equal(true);
      expect(await fs.readFile(path.join(out, 'raft_state.json'))).to.deep.equal(await fs.readFile(fixture(LEGACY_BIGINT)));
    });

    it('is readable by tar(1), with the manifest last', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [10] });
      const a = await archiveOf(storage, await tempDir());
      const list = spawnSync('tar', ['tzf', a.path], { encoding: 'utf8' });
      expect(list.status).to.equal(0);
      expect(list.stdout.trim().split('\n')).to.deep.equal(['raft_state.json', 'collections_meta_wal/', 'collections_meta_wal/open-1', 'manifest.json']);
    });

    it('keeps the newest N archives of the volume and leaves other volumes and foreign files alone', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0 });
      const dir = await tempDir();
      for (let i = 0; i < 4; i++) await archiveOf(storage, dir, new Date(NOW.getTime() + i * 60_000));
      await fs.writeFile(path.join(dir, 'raft-qdrant-1-1.13.4-to-1.13.5-20240101T000000Z.tar.gz'), 'other volume');
      await fs.writeFile(path.join(dir, 'notes.txt'), 'mine');
      const deleted = await applyRetention(dir, POD, 2);
      expect(deleted).to.deep.equal(['raft-qdrant-0-1.13.4-to-1.13.5-20250321T101602Z.tar.gz', 'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz']);
      const left = (await listArchives(dir)).map((a) => a.name);
      expect(left).to.deep.equal([
        'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101802Z.tar.gz',
        'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101702Z.tar.gz',
        'raft-qdrant-1-1.13.4-to-1.13.5-20240101T000000Z.tar.gz',
      ]);
      expect(await fs.readFile(path.join(dir, 'notes.txt'), 'utf8')).to.equal('mine');
    });

    it('fails with an infrastructure error when the archive dir cannot exist (its parent is a file)', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0 });
      const parent = path.join(await tempDir(), 'a-file');
      await fs.writeFile(parent, 'x');
      const err = await archiveOf(storage, path.join(parent, 'archives')).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(GuardError);
      expect((err as GuardError).kind).to.equal('infrastructure');
      expect((err as GuardError).message).to.contain('ENOTDIR');
    });

    it('fails with an infrastructure error on a read-only archive dir (read-only tmpfs, or an injected EROFS where mount is not allowed)', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
      const dir = await tempDir();
      const mounted = canMount() && spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', dir]).status === 0;
      try {
        const io: ArchiveIo | undefined = mounted
          ? undefined
          : { createWriteStream: () => new Writable({ write: (_c, _e, cb) => cb(Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' })) }) };
        const err = await archiveOf(storage, dir, NOW, io).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(GuardError);
        expect((err as GuardError).kind).to.equal('infrastructure');
        expect((err as GuardError).message).to.match(/EROFS|EACCES/);
      } finally {
        if (mounted) spawnSync('umount', [dir]);
      }
    });

    it('leaves the volume untouched and no partial archive behind when the disk fills (real 64 KiB tmpfs, or an injected ENOSPC)', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [300_000] });
      const before = await treeDigest(storage);
      const dir = await tempDir();
      const mounted = canMount() && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status === 0;
      try {
        let written = 0;
        const io: ArchiveIo | undefined = mounted
          ? undefined
          : {
              createWriteStream: (file) => {
                void fs.writeFile(file, '');
                return new Writable({
                  write(chunk: Buffer, _e, cb) {
                    written += chunk.length;
                    cb(written > 64 * 1024 ? Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }) : null);
                  },
                });
              },
            };
        const err = await archiveOf(storage, dir, NOW, io).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(GuardError);
        expect((err as GuardError).kind).to.equal('infrastructure');
        expect((err as GuardError).message).to.contain('ENOSPC');
        expect((err as GuardError).remedy).to.contain('was not changed');
        expect(await fs.readdir(dir)).to.deep.equal([]);
        expect(await treeDigest(storage)).to.deep.equal(before);
      } finally {
        if (mounted) spawnSync('umount', [dir]);
      }
    });
  });

  describe('reading hostile or damaged archives', () => {
    const state = () => fs.readFile(fixture(THREE_PEER_0));
    const PEER = '3134814695916598';
    async function archiveFile(buf: Buffer): Promise<string> {
      const file = path.join(await tempDir(), 'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz');
      await fs.writeFile(file, buf);
      return file;
    }
    async function refusal(entries: Parameters<typeof buildTarGz>[0]): Promise<string> {
      const out = await scanArchive(await archiveFile(buildTarGz(entries)));
      expect(out.ok).to.equal(false);
      return out.ok ? '' : out.reason;
    }

    it('accepts a well-formed hand-made archive (control case)', async () => {
      const s = await state();
      const out = await scanArchive(await archiveFile(buildTarGz([{ path: 'raft_state.json', body: s }, { path: 'manifest.json', body: manifestFor([{ path: 'raft_state.json', body: s }], PEER) }])));
      expect(out.ok).to.equal(true);
    });

    const cases: Array<{ name: string; entries: (s: Buffer) => Parameters<typeof buildTarGz>[0]; reason: string }> = [
      { name: 'a ../ traversal', entries: (s) => [{ path: 'collections_meta_wal/../../evil', body: 'x' }, { path: 'raft_state.json', body: s }], reason: 'escapes the target directory (..)' },
      { name: 'an absolute path', entries: () => [{ path: '/etc/cron.d/evil', body: 'x' }], reason: 'has an absolute path' },
      { name: 'a symlink', entries: () => [{ path: 'raft_state.json', type: 'SymbolicLink', linkpath: '/etc/passwd' }], reason: 'is a symbolic link to /etc/passwd' },
      { name: 'a hard link', entries: () => [{ path: 'collections_meta_wal/open-1', type: 'Link', linkpath: '/etc/shadow' }], reason: 'is a hard link to /etc/shadow' },
      { name: 'a device node', entries: () => [{ path: 'collections_meta_wal/null', type: 'CharacterDevice' }], reason: 'is a device node' },
      { name: 'a FIFO', entries: () => [{ path: 'raft_state', type: 'FIFO' }], reason: 'is a FIFO' },
      { name: 'an entry outside the allow-list', entries: () => [{ path: 'collections/books/config.json', body: '{}' }], reason: 'is not an entry a raft-state archive holds' },
      { name: 'a duplicate entry', entries: (s) => [{ path: 'raft_state.json', body: s }, { path: 'raft_state.json', body: s }], reason: 'appears twice' },
      { name: 'a missing manifest', entries: (s) => [{ path: 'raft_state.json', body: s }], reason: 'manifest.json is missing' },
      { name: 'a checksum mismatch', entries: (s) => [{ path: 'raft_state.json', body: s }, { path: 'manifest.json', body: manifestFor([{ path: 'raft_state.json', body: Buffer.concat([s, Buffer.from(' ')]) }], PEER).replace(/"size":\d+/, `"size":${s.length}`) }], reason: 'checksum mismatch' },
      { name: 'a file not in the manifest', entries: (s) => [{ path: 'raft_state.json', body: s }, { path: 'raft_state', body: 'x' }, { path: 'manifest.json', body: manifestFor([{ path: 'raft_state.json', body: s }], PEER) }], reason: 'raft_state is in the archive but not in manifest.json' },
      { name: 'a manifest naming another peer', entries: (s) => [{ path: 'raft_state.json', body: s }, { path: 'manifest.json', body: manifestFor([{ path: 'raft_state.json', body: s }], '1') }], reason: 'manifest.json says 1' },
      { name: 'an invalid state inside', entries: () => [{ path: 'raft_state.json', body: '{}' }, { path: 'manifest.json', body: manifestFor([{ path: 'raft_state.json', body: '{}' }], PEER) }], reason: 'archived raft_state.json is not a valid raft state' },
      { name: 'a manifest from a future format', entries: (s) => [{ path: 'raft_state.json', body: s }, { path: 'manifest.json', body: manifestFor([{ path: 'raft_state.json', body: s }], PEER, { formatVersion: 2 }) }], reason: 'formatVersion is 2' },
    ];
    for (const c of cases) {
      it(`refuses ${c.name}`, async () => {
        expect(await refusal(c.entries(await state()))).to.contain(c.reason);
      });
    }

    it('refuses a truncated gzip', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [50_000] });
      const a = await archiveOf(storage, await tempDir());
      const buf = await fs.readFile(a.path);
      const out = await scanArchive(await archiveFile(buf.subarray(0, Math.floor(buf.length / 2))));
      expect(out.ok).to.equal(false);
      expect(!out.ok && out.reason).to.contain('damaged');
    });

    it('refuses a file that is not gzip at all', async () => {
      const out = await scanArchive(await archiveFile(Buffer.from('not an archive at all, just text '.repeat(40))));
      expect(out.ok).to.equal(false);
    });

    it('knows which entry paths are safe', () => {
      expect(entryPathProblem('raft_state.json')).to.equal(undefined);
      expect(entryPathProblem('collections_meta_wal/open-1')).to.equal(undefined);
      expect(entryPathProblem('collections_meta_wal/')).to.equal(undefined);
      expect(entryPathProblem('./raft_state.json')).to.equal('has an unexpected path form');
      expect(entryPathProblem('C:\\x')).to.equal('has an absolute path');
      expect(entryPathProblem('raft_state.json/x')).to.equal('is not an entry a raft-state archive holds');
    });

    it('is a usage error when the archive does not exist', async () => {
      const err = await scanArchive('/nonexistent.tar.gz').catch((e: unknown) => e);
      expect((err as GuardError).kind).to.equal('usage');
    });
  });
});
