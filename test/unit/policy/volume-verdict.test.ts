import { expect } from 'chai';
import { decideVolume, describeUsage, formatBytes } from '../../../hook/policy/volume-verdict.js';
import type { StateSummary, UsageEvidence, VolumeObservation } from '../../../hook/policy/volume.js';
import type { CheckStatus } from '../../../hook/report.js';

const NO_USE: UsageEvidence = {
  walDir: false,
  walSegments: 0,
  walBytes: 0,
  collections: [],
  aliases: false,
  stateJsonPresent: false,
  legacyStatePresent: false,
  unknownEntries: [],
};
const WAL: UsageEvidence = { ...NO_USE, walDir: true, walSegments: 3, walBytes: 3 * 32 * 1024 * 1024, collections: ['books', 'films'] };
const STATE: StateSummary = {
  format: 'json',
  thisPeerId: '11532566549086892528',
  term: '12',
  vote: '0',
  commit: '988',
  voters: ['11532566549086892528', '9834046559507417430'],
  learners: [],
  peers: {},
  formatHint: '>= 1.12.2',
};
const ARCHIVE = { name: 'raft-qdrant-1-1.13.4-to-1.13.5-20250321T101502Z.tar.gz', path: '/qdrant/storage/.upgrade-guard/raft-qdrant-1-1.13.4-to-1.13.5-20250321T101502Z.tar.gz' };
const vol = (o: Partial<VolumeObservation>): VolumeObservation => ({
  subject: 'qdrant-1',
  classification: 'fresh',
  evidence: NO_USE,
  notes: [],
  ...o,
});

describe('volume verdict (docs/storage-classification.md)', () => {
  const rows: Array<{ name: string; volume: VolumeObservation; archive?: boolean; running?: string; status: CheckStatus; observed?: string; remedy?: string[] }> = [
    { name: 'passes a fresh volume (a new replica)', volume: vol({}), status: 'pass', observed: 'fresh volume' },
    { name: 'passes an initialized volume and names peer, term, commit', volume: vol({ classification: 'initialized', evidence: { ...WAL, stateJsonPresent: true }, state: STATE }),
      status: 'pass', observed: 'raft_state.json: peer 11532566549086892528, term 12, commit 988, 2 voter(s)' },
    { name: 'refuses a lost state while the WAL remains and points at the newest archive',
      volume: vol({ classification: 'missing-state', evidence: WAL, problem: { code: 'absent', file: 'raft_state.json', message: 'is missing' } }),
      archive: true, status: 'fail',
      observed: 'raft_state.json and the legacy raft_state are missing while collections_meta_wal/ holds 3 segment(s) (96 MiB), collections/ holds 2 collection(s) (books, films)',
      remedy: ['https://github.com/qdrant/qdrant/issues/6229', `restore --archive ${ARCHIVE.path} --storage /qdrant/storage`, 'docs/runbooks.md#restore-an-archive'] },
    { name: 'refuses a lost state without an archive and explains the way out',
      volume: vol({ classification: 'missing-state', evidence: WAL, problem: { code: 'absent', file: 'raft_state.json', message: 'is missing' } }),
      status: 'fail', remedy: ['No raft-state archive of this volume was found', 'DELETE /cluster/peer/<old id>', 'docs/runbooks.md#no-archive-to-restore'] },
    { name: 'refuses an empty state file on a used volume',
      volume: vol({ classification: 'missing-state', evidence: WAL, problem: { code: 'empty', file: 'raft_state.json', message: 'is empty (0 bytes)' } }),
      status: 'fail', observed: 'raft_state.json is empty while' },
    { name: 'refuses a corrupt state with the parser detail',
      volume: vol({ classification: 'corrupt-state', evidence: WAL, problem: { code: 'schema', file: 'raft_state.json', message: 'is not a valid raft state: this_peer_id: expected ...' } }),
      archive: true, status: 'fail', observed: 'raft_state.json: is not a valid raft state: this_peer_id', remedy: [ARCHIVE.path] },
    { name: 'refuses a symlinked state with its own remedy',
      volume: vol({ classification: 'corrupt-state', problem: { code: 'symlink', file: 'raft_state.json', message: 'is a symbolic link to /x; not followed' } }),
      status: 'fail', remedy: ['symbolic link', 'Put the real file in its place'] },
    { name: 'refuses an unreadable state with a permissions remedy',
      volume: vol({ classification: 'corrupt-state', problem: { code: 'unreadable', file: 'raft_state.json', message: 'cannot be opened (EACCES)' } }),
      status: 'fail', remedy: ['uid 1000'] },
    { name: 'refuses an oversized state and mentions the limit flag',
      volume: vol({ classification: 'corrupt-state', problem: { code: 'oversized', file: 'raft_state.json', message: 'is 200 MiB' } }),
      status: 'fail', remedy: ['--max-state-bytes'] },
    { name: 'passes a volume holding only the legacy state when the running version is unknown',
      volume: vol({ classification: 'initialized', evidence: { ...WAL, legacyStatePresent: true }, state: { ...STATE, format: 'cbor-legacy' } }),
      status: 'pass', observed: 'legacy raft_state' },
    { name: 'refuses a volume holding only the legacy state while 1.4+ runs: the JSON file was lost',
      volume: vol({ classification: 'initialized', evidence: { ...WAL, legacyStatePresent: true }, state: { ...STATE, format: 'cbor-legacy' } }),
      running: '1.13.4', status: 'fail', observed: 'only the legacy raft_state' },
    { name: 'warns on a legacy state whose layout could not be validated',
      volume: vol({ classification: 'initialized', evidence: { ...WAL, legacyStatePresent: true } }), status: 'warn' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const checks = decideVolume({
        volume: r.volume,
        storagePath: '/qdrant/storage',
        ...(r.archive ? { newestArchive: ARCHIVE } : {}),
        ...(r.running ? { runningVersion: r.running } : {}),
      });
      expect(checks).to.have.length(1);
      const c = checks[0]!;
      expect(c.id).to.equal('volume.state');
      expect(c.subject).to.equal('qdrant-1');
      expect(c.status).to.equal(r.status);
      if (r.observed) expect(c.observed).to.contain(r.observed);
      for (const s of r.remedy ?? []) expect(c.remedy).to.contain(s);
      if (r.status === 'pass') expect(c.remedy).to.equal('');
    });
  }

  it('describes the usage evidence with numbers', () => {
    expect(describeUsage({ ...NO_USE, aliases: true, walDir: true, walSegments: 1, walBytes: 1536 })).to.equal(
      'collections_meta_wal/ holds 1 segment(s) (1.5 KiB), aliases/ exists',
    );
    expect(formatBytes(64 * 1024 * 1024)).to.equal('64 MiB');
    expect(formatBytes(12)).to.equal('12 B');
  });
});
