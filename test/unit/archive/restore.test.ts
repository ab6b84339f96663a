import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { procDetector, type ProcessDetector } from '../../../hook/archive/holders.js';
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
} from '../helpers/storage.js';

const NOW = new Date('2025-03-21T10:15:02Z');
const LATER = new Date('2025-03-21T11:00:00Z');
const nobody: ProcessDetector = { scan: async () => ({ supported: true, holders: [] }) };
const ignoreGuardDir = (rel: string) => rel.startsWith('.upgrade-guard');

async function archived(storage: string) {
  const inspection = await inspectStorage(storage);
  return writeArchive({ inspection, archiveDir: path.join(storage, '.upgrade-guard'), pod: { statefulSet: 'qdrant', ordinal: 0 }, podName: 'qdrant-0', from: '1.13.4', to: '1.13.5', now: NOW });
}

describe('restore (README.md "Archives and restore")', () => {
  afterEach(cleanupTempDirs);

  it('puts back a deleted raft_state.json and keeps the volume\'s own newer WAL (an older log would be behind the cluster\'s commit)', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [5000, 6000], collections: ['books'] });
    const original = await treeDigest(storage, ignoreGuardDir);
    const a = await archived(storage);
    // The incident: state deleted, WAL left (and appended to by the new identity).
    await fs.rm(path.join(storage, 'raft_state.json'));
    await fs.appendFile(path.join(storage, 'collections_meta_wal', 'open-1'), 'appended after the archive');
    const grown = await treeDigest(storage, ignoreGuardDir);
    expect((await inspectStorage(storage)).classification).to.equal('missing-state');

    const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody });
    expect(out.checks.map((c) => [c.id, c.status])).to.deep.equal([
      ['restore.lock', 'pass'],
      ['restore.archive', 'pass'],
      ['restore.not-running', 'pass'],
      ['restore.identity', 'pass'],
      ['restore.staging', 'pass'],
      ['restore.wal', 'pass'],
      ['restore.applied', 'pass'],
    ]);
    expect(out.checks.find((c) => c.id === 'restore.wal')!.observed).to.contain("the volume's own WAL (2 segment(s)");
    expect(out.restored).to.equal(true);
    const after = await treeDigest(storage, ignoreGuardDir);
    expect(after['raft_state.json']).to.equal(original['raft_state.json']);
    expect(after['collections_meta_wal/open-1']).to.equal(grown['collections_meta_wal/open-1']);
    const record = JSON.parse(await fs.readFile(path.join(out.replacedDir!, 'RESTORE.json'), 'utf8'));
    expect(record).to.deep.include({ peerId: '3134814695916598', replaced: [] });
    expect((await fs.readdir(path.join(storage, '.upgrade-guard'))).filter((n) => n.includes('staging'))).to.deep.equal([]);
  });

  it('puts the archived WAL back when a segment is missing or shorter, or with --with-wal, keeping the replaced files aside', async () => {
    for (const variant of ['missing', 'shorter', 'with-wal'] as const) {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [5000, 6000], collections: ['books'] });
      const original = await treeDigest(storage, ignoreGuardDir);
      const a = await archived(storage);
      await fs.rm(path.join(storage, 'raft_state.json'));
      const seg = path.join(storage, 'collections_meta_wal', 'open-2');
      if (variant === 'missing') await fs.rm(seg);
      if (variant === 'shorter') await fs.truncate(seg, 100);
      if (variant === 'with-wal') await fs.appendFile(path.join(storage, 'collections_meta_wal', 'open-1'), 'replayed under a new id');
      const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody, ...(variant === 'with-wal' ? { withWal: true } : {}) });
      expect(out.restored, variant).to.equal(true);
      expect(out.checks.find((c) => c.id === 'restore.wal')!.observed, variant).to.match(variant === 'with-wal' ? /as asked with --with-wal/ : /lacks or holds shorter open-2/);
      expect(await treeDigest(storage, ignoreGuardDir), variant).to.deep.equal(original);
      expect(out.replacedDir).to.match(/replaced-20250321T110000Z$/);
      const record = JSON.parse(await fs.readFile(path.join(out.replacedDir!, 'RESTORE.json'), 'utf8'));
      expect(record.replaced, variant).to.deep.equal(['collections_meta_wal']);
      if (variant === 'with-wal') {
        expect(await fs.readFile(path.join(out.replacedDir!, 'collections_meta_wal', 'open-1'), 'utf8')).to.contain('replayed under a new id');
      }
    }
  });

  it('replaces a corrupt raft_state.json in one rename and keeps the corrupt one aside', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
    const a = await archived(storage);
    await fs.writeFile(path.join(storage, 'raft_state.json'), '{"state":');
    const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: nobody });
    expect(out.restored).to.equal(true);
    expect(await fs.readFile(path.join(storage, 'raft_state.json'))).to.deep.equal(await fs.readFile(fixture(THREE_PEER_0)));
    expect(await fs.readFile(path.join(out.replacedDir!, 'raft_state.json'), 'utf8')).to.equal('{"state":');
  });

  it('refuses while a qdrant process holds the storage dir, and changes nothing', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
    const a = await archived(storage);
    await fs.rm(path.join(storage, 'raft_state.json'));
    const before = await treeDigest(storage);
    // A /proc look-alike: pid 4242 is "qdrant" with an open fd inside the storage dir.
    const proc = await tempDir();
    await fs.mkdir(path.join(proc, '4242', 'fd'), { recursive: true });
    await fs.writeFile(path.join(proc, '4242', 'comm'), 'qdrant\n');
    await fs.symlink('/', path.join(proc, '4242', 'cwd'));
    await fs.symlink(path.join(storage, 'collections_meta_wal', 'open-1'), path.join(proc, '4242', 'fd', '7'));
    await fs.mkdir(path.join(proc, '99', 'fd'), { recursive: true });
    await fs.writeFile(path.join(proc, '99', 'comm'), 'bash\n');
    await fs.symlink(storage, path.join(proc, '99', 'cwd'));

    const out = await restoreArchive({ archive: a.path, storage, now: LATER, detector: procDetector({ procRoot: proc }) });
    const c = out.checks.find((x) => x.id === 'restore.not-running')!;
    expect(c.status).to.equal('fail');
    expect(c.observed).to.equal(`in use by qdrant pid 4242 (${path.join(storage, 'collections_meta_wal', 'open-1')})`);
    expect(out.restored).to.equal(false);
    expect(await treeDigest(storage)).to.deep.equal(before);
  });

  it('finds no holder on the real /proc when qdrant is not running', async () => {
    const storage = await makeStorage({});
    const scan = await procDetector().scan(storage);
    expect(scan).to.deep.equal({ supported: true, holders: [] });
  });

  it('refuses to restore another peer over a valid state (no identity cloning) unless told to', async () => {
    const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
    const a = await archived(storage);
    const other = await makeStorage({ stateFixture: THREE_PEER_1, wal: [100] });
    const before = await treeDigest(other);
    const out = await restoreArchive({ archive: a.path, storage: other, now: LATER, detector: nobody });
    const c = out.checks.find((x) => x.id === 'restore.identity')!;
    expect(c.status).to.equal('fail');
    expect(c.observed).to.contain('peer 7820539312201337; the archive is peer 3134814695916598');
    expect(await treeDigest(other)).to.deep.equal(before);

    const forced = await restoreArchive({ archive: a.path, storage: other, now: LATER, detector: nobody, allowPeerChange: true });
    expect(forced.restored).to.equal(true);
    expect((await inspectStorage(other)).state?.thisPeerId).to.equal('3134814695916598');
  });

  it('verifies every checksum before touching anything: a tampered archive changes nothing', async () => {
    const storage = await makeStorage({ wal: [100] });
    const before = await treeDigest(storage);
    const s = await fs.readFile(fixture(THREE_PEER_0));
    const evil = Buffer.from(s.toString().replace('"term":7', '"term":9'));
    const file = path.join(await tempDir(), 'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz');
    await fs.writeFile(file, buildTarGz([{ path: 'raft_state.json', body: evil }, { path: 'manifest.json', body: manifestFor([{ path: 'raft_state.json', body: s }], '3134814695916598') }]));
    const out = await restoreArchive({ archive: file, storage, now: LATER, detector: nobody });
    expect(out.checks.map((c) => [c.id, c.status])).to.deep.equal([['restore.lock', 'pass'], ['restore.archive', 'fail']]);
    expect(out.checks[1]!.observed).to.contain('checksum mismatch');
    expect(await treeDigest(storage)).to.deep.equal(before);
  });

  it('refuses a traversal archive without writing outside or inside the target', async () => {
    const storage = await makeStorage({ wal: [100] });
    const before = await treeDigest(storage);
    const file = path.join(await tempDir(), 'evil.tar.gz');
    await fs.writeFile(file, buildTarGz([{ path: 'collections_meta_wal/../../../tmp/qug-evil', body: 'pwned' }]));
    const out = await restoreArchive({ archive: file, storage, now: LATER, detector: nobody });
    expect(out.checks[1]).to.deep.include({ id: 'restore.archive', status: 'fail' });
    expect(out.checks[1]!.observed).to.contain('escapes the target directory');
    expect(await fs.stat('/tmp/qug-evil').catch(() => undefined)).to.equal(undefined);
    expect(await treeDigest(storage)).to.deep.equal(before);
  });
});
