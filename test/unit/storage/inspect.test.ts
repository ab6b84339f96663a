import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Encoder } from 'cbor-x';
import { GuardError } from '../../../hook/errors.js';
import { inspectStorage } from '../../../hook/storage/inspect.js';
import { cleanupTempDirs, fixture, LEGACY_BIGINT, makeStorage, tempDir, THREE_PEER_0 } from '../helpers/storage.js';

describe('storage classification (docs/qdrant-facts.md#storage-directory)', () => {
  afterEach(cleanupTempDirs);

  it('calls an empty dir fresh', async () => {
    const i = await inspectStorage(await makeStorage({}));
    expect(i.classification).to.equal('fresh');
    expect(i.problem).to.equal(undefined);
  });

  it('calls a dir with only an empty collections/ and transient entries fresh', async () => {
    const d = await makeStorage({});
    await fs.mkdir(path.join(d, 'collections'));
    await fs.mkdir(path.join(d, '.atomicwriteAbC1'));
    await fs.mkdir(path.join(d, '.deleted'));
    await fs.mkdir(path.join(d, 'tmp'));
    await fs.mkdir(path.join(d, '.upgrade-guard'));
    await fs.writeFile(path.join(d, '.upgrade-guard', 'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz'), 'x');
    const i = await inspectStorage(d);
    expect(i.classification).to.equal('fresh');
    expect(i.evidence.unknownEntries).to.deep.equal([]);
  });

  it('calls a healthy 3-peer volume initialized, with the WAL evidence counted', async () => {
    const d = await makeStorage({ stateFixture: THREE_PEER_0, wal: [1000, 2345], collections: ['books'], aliases: true });
    const i = await inspectStorage(d);
    expect(i.classification).to.equal('initialized');
    expect(i.state?.thisPeerId).to.equal('3134814695916598');
    expect(i.state?.term).to.equal('7');
    expect(i.state?.commit).to.equal('1342');
    expect(i.evidence).to.deep.include({ walDir: true, walSegments: 2, walBytes: 3345, collections: ['books'], aliases: true, stateJsonPresent: true });
    expect(i.stateFile?.bytes).to.equal(706);
  });

  it('refuses the #6229 volume: raft_state.json gone but the WAL remains (missing-state)', async () => {
    const i = await inspectStorage(await makeStorage({ wal: [4096] }));
    expect(i.classification).to.equal('missing-state');
    expect(i.problem?.code).to.equal('absent');
  });

  it('cannot call a volume fresh when collections/ cannot be listed: an infra error naming it, not "no collections"', async () => {
    const dir = await tempDir();
    await fs.symlink('collections', path.join(dir, 'collections')); // a loop: readdir answers ELOOP
    let err: unknown;
    await inspectStorage(dir).catch((e) => (err = e));
    expect(err).to.be.instanceOf(GuardError);
    expect((err as GuardError).kind).to.equal('infrastructure');
    expect((err as GuardError).message).to.contain(`cannot list ${path.join(dir, 'collections')} (ELOOP)`);
  });

  it('calls a volume with collections but no state missing-state', async () => {
    expect((await inspectStorage(await makeStorage({ collections: ['a'] }))).classification).to.equal('missing-state');
  });

  it('calls a volume with only aliases/ but no state missing-state', async () => {
    expect((await inspectStorage(await makeStorage({ aliases: true }))).classification).to.equal('missing-state');
  });

  it('calls a 0-byte state file on a used volume missing-state', async () => {
    const i = await inspectStorage(await makeStorage({ state: '', wal: [10] }));
    expect(i.classification).to.equal('missing-state');
    expect(i.problem?.code).to.equal('empty');
  });

  it('calls a whitespace-only state file on an unused volume corrupt-state', async () => {
    const i = await inspectStorage(await makeStorage({ state: '  \n' }));
    expect(i.classification).to.equal('corrupt-state');
    expect(i.problem?.code).to.equal('empty');
  });

  it('calls truncated JSON corrupt-state with the parser position', async () => {
    const text = await fs.readFile(fixture(THREE_PEER_0), 'utf8');
    const i = await inspectStorage(await makeStorage({ state: text.slice(0, 300), wal: [10] }));
    expect(i.classification).to.equal('corrupt-state');
    expect(i.problem?.code).to.equal('syntax');
    expect(i.problem?.message).to.match(/position \d+/);
  });

  it('calls a BOM-prefixed file corrupt-state', async () => {
    const text = await fs.readFile(fixture(THREE_PEER_0));
    const i = await inspectStorage(await makeStorage({ state: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]) }));
    expect(i.classification).to.equal('corrupt-state');
    expect(i.problem?.code).to.equal('bom');
  });

  it('calls invalid UTF-8 corrupt-state', async () => {
    const i = await inspectStorage(await makeStorage({ state: Buffer.from([0x7b, 0xff, 0x7d]) }));
    expect(i.problem?.code).to.equal('invalid-utf8');
    expect(i.classification).to.equal('corrupt-state');
  });

  it('refuses a directory named raft_state.json', async () => {
    const d = await makeStorage({ wal: [10] });
    await fs.mkdir(path.join(d, 'raft_state.json'));
    const i = await inspectStorage(d);
    expect(i.classification).to.equal('corrupt-state');
    expect(i.problem).to.deep.include({ code: 'not-a-file', message: 'is a directory, not a regular file' });
  });

  it('refuses a FIFO named raft_state.json without blocking on it', async () => {
    const d = await makeStorage({});
    execFileSync('mkfifo', [path.join(d, 'raft_state.json')]);
    const i = await inspectStorage(d);
    expect(i.problem?.code).to.equal('not-a-file');
  });

  it('refuses a symlink to a valid state elsewhere and does not follow it', async () => {
    const elsewhere = await tempDir();
    await fs.copyFile(fixture(THREE_PEER_0), path.join(elsewhere, 'real.json'));
    const d = await makeStorage({ wal: [10] });
    await fs.symlink(path.join(elsewhere, 'real.json'), path.join(d, 'raft_state.json'));
    const i = await inspectStorage(d);
    expect(i.classification).to.equal('corrupt-state');
    expect(i.problem?.code).to.equal('symlink');
    expect(i.problem?.message).to.contain(path.join(elsewhere, 'real.json'));
    expect(i.state).to.equal(undefined);
  });

  it('refuses a 200 MB state file from its size, without reading it (sparse file)', async () => {
    const d = await makeStorage({ wal: [10] });
    const file = path.join(d, 'raft_state.json');
    await fs.writeFile(file, '');
    await fs.truncate(file, 200 * 1024 * 1024);
    const t0 = process.hrtime.bigint();
    const i = await inspectStorage(d);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(i.problem?.code).to.equal('oversized');
    expect(i.problem?.message).to.contain('209715200 bytes');
    expect(i.problem?.message).to.contain('not read');
    expect(ms).to.be.lessThan(1000);
  });

  it('honours a lower --max-state-bytes limit', async () => {
    const i = await inspectStorage(await makeStorage({ stateFixture: THREE_PEER_0 }), { maxStateBytes: 100 });
    expect(i.problem?.code).to.equal('oversized');
  });

  it('accepts unknown keys in the state and says so', async () => {
    const text = (await fs.readFile(fixture(THREE_PEER_0), 'utf8')).replace('{"state"', '{"future_key":{"x":[1]},"state"');
    const i = await inspectStorage(await makeStorage({ state: text }));
    expect(i.classification).to.equal('initialized');
    expect(i.notes.join(' ')).to.contain('future_key');
  });

  it('keeps ids above 2^53 exact in the summary', async () => {
    const i = await inspectStorage(await makeStorage({ stateFixture: LEGACY_BIGINT, wal: [10] }));
    expect(i.state?.thisPeerId).to.equal('11532566549086892528');
    expect(i.state?.firstVoter).to.equal('18446744073709551615');
  });

  describe('legacy CBOR raft_state', () => {
    const enc = new Encoder({ useRecords: false, mapsAsObjects: true });
    const legacyState = enc.encode({
      state: {
        hard_state: { term: 3, vote: 0, commit: 40 },
        conf_state: { voters: [42], learners: [], voters_outgoing: [], learners_next: [], auto_leave: false },
      },
      peer_address_by_id: {},
      this_peer_id: 42,
    });

    it('reads the legacy file when raft_state.json is absent (as Qdrant does)', async () => {
      const i = await inspectStorage(await makeStorage({ legacy: legacyState, wal: [10] }));
      expect(i.classification).to.equal('initialized');
      expect(i.state?.format).to.equal('cbor-legacy');
      expect(i.state?.thisPeerId).to.equal('42');
    });

    it('reports the legacy file beside raft_state.json and uses the JSON one', async () => {
      const i = await inspectStorage(await makeStorage({ stateFixture: THREE_PEER_0, legacy: legacyState }));
      expect(i.state?.format).to.equal('json');
      expect(i.evidence.legacyStatePresent).to.equal(true);
      expect(i.notes.join(' ')).to.contain('legacy raft_state');
    });

    it('calls an undecodable legacy file corrupt-state', async () => {
      const i = await inspectStorage(await makeStorage({ legacy: Buffer.from([0x1c, 0x00]), wal: [10] }));
      expect(i.classification).to.equal('corrupt-state');
      expect(i.problem?.file).to.equal('raft_state');
    });
  });

  it('is a usage error when the storage dir does not exist', async () => {
    const err = await inspectStorage('/nonexistent/qdrant/storage').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(GuardError);
    expect((err as GuardError).kind).to.equal('usage');
  });
});
