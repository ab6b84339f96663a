import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
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

describe('CLI contract (README.md "CLI reference")', () => {
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

    for (const args of [
      ['inspect', '--storage', '/tmp', '--storage', '/var'],
      ['volume', '--storage', '/tmp', '--check-only', '--pod', 'qdrant-0', '--pod', 'qdrant-1'],
      ['restore', '--archive', '/a.tar.gz', '--archive', '/b.tar.gz', '--storage', '/tmp'],
    ]) {
      it(`rejects a repeated single-value flag with exit 2: ${args.join(' ')}`, async () => {
        const r = await cli(args);
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stderr).to.match(/--(storage|pod|archive) was given more than once/);
      });
    }

    for (const [flag, value, range] of [
      ['--max-state-bytes', '0', 'from 4096 to 1073741824'],
      ['--max-state-bytes', 'abc', 'from 4096 to 1073741824'],
      ['--max-state-bytes', '1e400', 'from 4096 to 1073741824'],
      ['--max-state-bytes', '', 'from 4096 to 1073741824'],
      ['--max-state-bytes', '-1', 'from 4096 to 1073741824'],
      ['--max-state-bytes', '10', 'from 4096 to 1073741824'],
      ['--max-state-bytes', '100.5', 'from 4096 to 1073741824'],
      ['--keep', '', 'from 0 to 1000'],
      ['--keep', '-1', 'from 0 to 1000'],
      ['--keep', '2.5', 'from 0 to 1000'],
      ['--to', ' 1.13.5', 'a Qdrant version such as 1.13.5'],
      ['--from', '1.13', 'a Qdrant version such as 1.13.5'],
      ['--to', '1.13.5 ', 'a Qdrant version such as 1.13.5'],
    ] as const) {
      it(`rejects ${flag} ${JSON.stringify(value)} with exit 2 and the accepted range`, async () => {
        const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
        const base = ['volume', '--storage', storage, '--pod', 'qdrant-0', '--from', '1.13.4', '--to', '1.13.5'];
        const args = flag === '--from' || flag === '--to' ? [...base.filter((_, i) => base[i - 1] !== flag && base[i] !== flag), flag, value] : [...base, flag, value];
        const r = await cli(args);
        expect(r.code, r.stdout + r.stderr).to.equal(2);
        expect(r.stderr).to.contain(range);
        expect(await fs.readdir(path.join(storage, '.upgrade-guard')).catch(() => [])).to.deep.equal([]);
      });
    }

    it('validates --max-state-bytes for restore and archives too, and restore applies it to the archived state', async () => {
      const storage = await makeStorage({ stateFixture: LEGACY_BIGINT, wal: [100] });
      const text = await fs.readFile(path.join(storage, 'raft_state.json'), 'utf8');
      await fs.writeFile(path.join(storage, 'raft_state.json'), text.replace('}', `,"pad":"${'x'.repeat(6000)}"}`));
      const v = await cli(['volume', '--storage', storage, '--pod', 'qdrant-0', '--from', '1.13.4', '--to', '1.13.5', '--output', 'json']);
      expect(v.code, v.stderr).to.equal(0);
      const archive = JSON.parse(v.stdout).details.archive.path as string;
      expect((await cli(['restore', '--archive', archive, '--storage', storage, '--max-state-bytes', 'abc'])).code).to.equal(2);
      expect((await cli(['archives', '--storage', storage, '--max-state-bytes', '0'])).code).to.equal(2);
      const r = await cli(['restore', '--archive', archive, '--storage', storage, '--max-state-bytes', '4096']);
      expect(r.code, r.stdout).to.equal(1);
      expect(r.stdout).to.contain('more than the 4096 bytes it can be');
      expect((await cli(['restore', '--archive', archive, '--storage', storage, '--max-state-bytes', '8192'])).code).to.equal(0);
    });

    it('accepts --max-state-bytes 4096 and names the limit in KiB', async () => {
      const storage = await makeStorage({ stateFixture: LEGACY_BIGINT, wal: [100] });
      const big = await fs.readFile(path.join(storage, 'raft_state.json'), 'utf8');
      await fs.writeFile(path.join(storage, 'raft_state.json'), big.replace('}', `,"pad":"${'x'.repeat(5000)}"}`));
      const r = await cli(['inspect', '--storage', storage, '--max-state-bytes', '4096']);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.contain('above the 4.0 KiB limit');
    });
  });

  describe('where a volume run may write', () => {
    it('a --termination-message-path that cannot be written is a warning; the verdict and exit code stand', async function () {
      this.timeout(10_000);
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
      for (const extra of [['--check-only'], ['--from', '1.13.4', '--to', '1.13.5']]) {
        const r = await cli(['volume', '--storage', storage, '--pod', 'qdrant-0', ...extra, '--termination-message-path', '/proc/nonexistent/x']);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(/^PASS/);
        expect(r.stderr).to.contain('warning: cannot write termination message /proc/nonexistent/x');
      }
    });

    it('a --termination-message-path that is a FIFO nobody reads, or an --archive-dir under /proc, fails fast', async function () {
      this.timeout(10_000);
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
      const fifo = path.join(await tempDir(), 'fifo');
      expect(spawnSync('mkfifo', [fifo]).status).to.equal(0);
      const r = await cli(['volume', '--storage', storage, '--pod', 'qdrant-0', '--check-only', '--termination-message-path', fifo]);
      expect(r.code).to.equal(0);
      expect(r.stderr).to.contain('warning: cannot write termination message');
      const p = await cli(['volume', '--storage', storage, '--pod', 'qdrant-0', '--from', '1.13.4', '--to', '1.13.5', '--archive-dir', '/proc/nonexistent/x']);
      expect(p.code, p.stderr).to.equal(3);
      expect(p.stderr).to.contain('archive directory /proc/nonexistent/x cannot be used');
    });

    for (const inside of ['collections_meta_wal', 'collections/books', '.', 'collections_meta_wal/../aliases']) {
      it(`refuses --archive-dir <storage>/${inside} with exit 2 (only .upgrade-guard/ inside the storage dir)`, async () => {
        const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100], collections: ['books'] });
        const r = await cli(['volume', '--storage', storage, '--pod', 'qdrant-0', '--from', '1.13.4', '--to', '1.13.5', '--archive-dir', path.join(storage, inside)]);
        expect(r.code, r.stdout + r.stderr).to.equal(2);
        expect(r.stderr).to.contain('is inside the storage dir');
        expect(await fs.readdir(path.join(storage, 'collections_meta_wal'))).to.deep.equal(['open-1']);
      });
    }

    it('accepts --archive-dir <storage>/.upgrade-guard and a dir outside the storage dir', async () => {
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] });
      const outside = await tempDir();
      for (const dir of [path.join(storage, '.upgrade-guard'), outside]) {
        const r = await cli(['volume', '--storage', storage, '--pod', 'qdrant-0', '--from', '1.13.4', '--to', '1.13.5', '--archive-dir', dir]);
        expect(r.code, r.stderr).to.equal(0);
      }
      expect((await fs.readdir(outside)).filter((n) => n.endsWith('.tar.gz'))).to.have.length(1);
    });

    it('refuses up front an archive whose manifest restore could not read (volume writes nothing)', async () => {
      const { runVolume } = await import('../../../hook/commands/volume.js');
      const storage = await makeStorage({ stateFixture: THREE_PEER_0, wal: Array.from({ length: 40 }, () => 10) });
      const report = await runVolume({ storage, pod: 'qdrant-0', from: '1.13.4', to: '1.13.5', maxManifestBytes: 4096 });
      expect(report.verdict).to.equal('refuse');
      const c = report.checks.find((x) => x.id === 'volume.archive')!;
      expect(c.status).to.equal('fail');
      expect(c.observed).to.match(/manifest.json would be \d+ bytes for 41 files .* above the 4096-byte limit/);
      expect((await fs.readdir(path.join(storage, '.upgrade-guard'))).filter((n) => !n.startsWith('lock'))).to.deep.equal([]);
    });
  });
});
