import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runCli, type CliContext } from '../../../hook/cli.js';
import { JsonNumber, parseLossless } from '../../../hook/storage/raft-state.js';
import { cleanupTempDirs, LEGACY_BIGINT, makeStorage, tempDir, THREE_PEER_0 } from '../helpers/storage.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json(): Record<string, any>;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const ctx: CliContext = { env, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  const code = await runCli(args, ctx);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

describe('CLI contract (DESIGN.md "Commands and their contract")', () => {
  afterEach(cleanupTempDirs);

  describe('inspect', () => {
    it('prints classification and every peer id as exact decimal strings in JSON', async () => {
      const storage = await makeStorage({ stateFixture: LEGACY_BIGINT, wal: [100] });
      const r = await cli(['inspect', '--storage', storage, '--output', 'json']);
      expect(r.code).to.equal(0);
      // The raw text must carry the ids as strings, never as numbers.
      expect(r.stdout).to.contain('"thisPeerId": "11532566549086892528"');
      expect(r.stdout).to.contain('"firstVoter": "18446744073709551615"');
      // Walk the document losslessly: no number in it may be an id (16+ digits).
      const numbers: string[] = [];
      const walk = (v: unknown): void => {
        if (v instanceof JsonNumber) numbers.push(v.text);
        else if (v && typeof v === 'object') Object.values(v).forEach(walk);
      };
      walk(parseLossless(r.stdout));
      expect(numbers.filter((n) => n.length >= 16)).to.deep.equal([]);
      const doc = r.json();
      expect(doc.verdict).to.equal('pass');
      expect(doc.details.classification).to.equal('initialized');
      expect(doc.details.state.thisPeerId).to.equal('11532566549086892528');
      expect(doc.details.state.confState.voters).to.deep.equal(['11532566549086892528', '9834046559507417430']);
      expect(Object.keys(doc.details.state.peerAddressById)).to.have.members(['11532566549086892528', '9834046559507417430']);
      for (const c of doc.checks) expect(Object.keys(c)).to.deep.equal(['id', 'status', 'subject', 'observed', 'expected', 'remedy']);
    });

    it('exits 0 on a lost state but shows the problem and the remedy', async () => {
      const storage = await makeStorage({ wal: [100] });
      const r = await cli(['inspect', '--storage', storage]);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.contain('has lost its raft state');
      expect(r.stdout).to.contain('[WARN] volume.state');
      expect(r.stdout).to.contain('remedy:');
    });
  });

  describe('volume', () => {
    it('archives a healthy volume and reports archive name, sha256, peer id, term, commit in JSON', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [2048] });
      const r = await cli(['volume', '--storage', storage, '--from', '1.13.4', '--to', '1.13.5', '--output', 'json'], { POD_NAME: 'qdrant-0' });
      expect(r.code, r.stderr).to.equal(0);
      const d = r.json().details;
      expect(d.classification).to.equal('initialized');
      expect(d).to.deep.include({ peerId: '3134814695916598', term: '7', commit: '1342' });
      expect(d.archive.name).to.match(/^raft-qdrant-0-1\.13\.4-to-1\.13\.5-\d{8}T\d{6}Z\.tar\.gz$/);
      expect(d.archive.sha256).to.match(/^[0-9a-f]{64}$/);
      expect(await fs.stat(path.join(storage, '.upgrade-guard', d.archive.name))).to.have.property('size', d.archive.bytes);
    });

    it('refuses (exit 1) the #6229 volume and names the newest archive in the remedy', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [2048] });
      const first = await cli(['volume', '--storage', storage, '--from', '1.13.4', '--to', '1.13.5', '--pod', 'qdrant-0', '--output', 'json']);
      await fs.rm(path.join(storage, 'raft_state.json'));
      const r = await cli(['volume', '--storage', storage, '--check-only', '--pod', 'qdrant-0']);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/^REFUSED: volume.state refused on qdrant-0/);
      expect(r.stdout).to.contain(`restore --archive ${path.join(storage, '.upgrade-guard', first.json().details.archive.name)} --storage ${storage}`);
    });

    it('--check-only writes nothing, not even an archive dir', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
      const r = await cli(['volume', '--storage', storage, '--check-only']);
      expect(r.code).to.equal(0);
      expect(await fs.readdir(storage)).to.have.members(['raft_state.json', 'collections_meta_wal']);
    });

    it('refuses a skipped minor (exit 1) and writes no archive', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0 });
      const r = await cli(['volume', '--storage', storage, '--from', '1.11.0', '--to', '1.13.0', '--pod', 'qdrant-0', '--output', 'json']);
      expect(r.code).to.equal(1);
      expect(r.json().verdict).to.equal('refuse');
      expect(r.json().checks[0]).to.deep.include({ id: 'version.policy', status: 'fail' });
      expect(r.json().details.archive).to.equal(null);
    });

    it('needs --from/--to without --check-only (exit 2)', async () => {
      const storage = await makeStorage({});
      const r = await cli(['volume', '--storage', storage, '--pod', 'qdrant-0']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain('needs --from and --to');
    });

    it('treats a non-semver version as a usage error (exit 2), with a JSON error document', async () => {
      const storage = await makeStorage({});
      const r = await cli(['volume', '--storage', storage, '--from', 'latest', '--to', '1.13.5', '--pod', 'qdrant-0', '--output', 'json']);
      expect(r.code).to.equal(2);
      expect(r.json().error).to.deep.include({ kind: 'usage' });
    });

    it('is an infrastructure error (exit 3) when the archive dir is unusable', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0 });
      const file = path.join(await tempDir(), 'f');
      await fs.writeFile(file, '');
      const r = await cli(['volume', '--storage', storage, '--from', '1.13.4', '--to', '1.13.5', '--pod', 'qdrant-0', '--archive-dir', path.join(file, 'x')]);
      expect(r.code).to.equal(3);
      expect(r.stderr).to.contain('ERROR (infrastructure error)');
    });

    it('writes a compact termination message under 4 KiB for the pre-upgrade coordinator', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
      const tm = path.join(await tempDir(), 'termination-log');
      const r = await cli(['volume', '--storage', storage, '--from', '1.13.4', '--to', '1.13.5', '--pod', 'qdrant-0', '--termination-message-path', tm]);
      expect(r.code).to.equal(0);
      const msg = JSON.parse(await fs.readFile(tm, 'utf8'));
      expect(Object.keys(msg)).to.deep.equal(['verdict', 'classification', 'peerId', 'term', 'commit', 'archive', 'sha256', 'reason']);
      expect(msg).to.deep.include({ verdict: 'pass', classification: 'initialized', peerId: '3134814695916598', term: '7', commit: '1342' });
      expect(msg.sha256).to.match(/^[0-9a-f]{64}$/);
    });

    it('keeps the termination message under 4 KiB even with a huge reason, and writes it on errors too', async () => {
      const storage = await makeStorage({ collections: Array.from({ length: 400 }, (_, i) => `collection-with-a-long-name-${i}`) });
      const tm = path.join(await tempDir(), 'termination-log');
      const r = await cli(['volume', '--storage', storage, '--check-only', '--termination-message-path', tm]);
      expect(r.code).to.equal(1);
      const text = await fs.readFile(tm, 'utf8');
      expect(Buffer.byteLength(text)).to.be.at.most(4096);
      expect(JSON.parse(text)).to.deep.include({ verdict: 'refuse', classification: 'missing-state' });

      const bad = await cli(['volume', '--storage', '/nonexistent', '--check-only', '--termination-message-path', tm]);
      expect(bad.code).to.equal(2);
      expect(JSON.parse(await fs.readFile(tm, 'utf8'))).to.deep.include({ verdict: 'error' });
    });
  });

  describe('archives and restore', () => {
    it('lists archives newest first with peer ids, then restores one (exit 0)', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
      await cli(['volume', '--storage', storage, '--from', '1.13.4', '--to', '1.13.5', '--pod', 'qdrant-0']);
      const list = await cli(['archives', '--storage', storage, '--output', 'json']);
      expect(list.code).to.equal(0);
      const rows = list.json().details.archives;
      expect(rows).to.have.length(1);
      expect(rows[0]).to.deep.include({ verified: true, peerId: '3134814695916598', statefulSet: 'qdrant', ordinal: 0 });
      await fs.rm(path.join(storage, 'raft_state.json'));
      const r = await cli(['restore', '--archive', rows[0].path, '--storage', storage]);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^PASS: restored peer 3134814695916598/);
      expect((await cli(['volume', '--storage', storage, '--check-only'])).code).to.equal(0);
    });

    it('restore of a missing archive is a usage error (exit 2)', async () => {
      const storage = await makeStorage({});
      const r = await cli(['restore', '--archive', '/nonexistent.tar.gz', '--storage', storage]);
      expect(r.code).to.equal(2);
    });
  });

  describe('parsing', () => {
    it('rejects an unknown command with exit 2', async () => {
      expect((await cli(['frobnicate'])).code).to.equal(2);
    });
    it('rejects an unknown flag with exit 2', async () => {
      expect((await cli(['inspect', '--storage', '/tmp', '--bogus'])).code).to.equal(2);
    });
    it('rejects a missing required flag with exit 2', async () => {
      const r = await cli(['inspect']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain('storage');
    });
    it('rejects an unknown output format with exit 2', async () => {
      expect((await cli(['inspect', '--storage', '/tmp', '--output', 'yaml'])).code).to.equal(2);
    });
  });
});
