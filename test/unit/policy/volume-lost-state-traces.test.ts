/**
 * The volume verdict on the traces a lost raft state leaves, read from states the real Qdrant server wrote
 * (test/fixtures/real-storage): the phantom voter every 1.13 volume holds afterwards, and the 1.16 stub.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decideVolume, isStubState, sharedVoterAddresses } from '../../../hook/policy/volume-verdict.js';
import type { StateSummary, UsageEvidence, VolumeObservation } from '../../../hook/policy/volume.js';
import type { CheckStatus } from '../../../hook/report.js';
import { parseRaftStateJson, summarize } from '../../../hook/storage/raft-state.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/real-storage/raft-state');

function real(file: string): StateSummary {
  const parsed = parseRaftStateJson(readFileSync(path.join(dir, file)));
  if (!parsed.ok) throw new Error(`${file}: ${parsed.problem.message}`);
  return summarize(parsed.state);
}

const USED: UsageEvidence = {
  walDir: true,
  walSegments: 2,
  walBytes: 64 * 1024 * 1024,
  collections: ['c1'],
  aliases: true,
  stateJsonPresent: true,
  legacyStatePresent: false,
  unknownEntries: [],
};
// What a 1.16 peer that has not joined yet leaves on a new volume: two preallocated WAL segments, nothing else.
const NEW_PEER: UsageEvidence = { ...USED, collections: [], aliases: false };

const vol = (state: StateSummary, evidence = USED): VolumeObservation => ({
  subject: 'qdrant-1 (/qdrant/storage)',
  classification: 'initialized',
  evidence,
  state,
  notes: [],
});
const ARCHIVE = { name: 'raft-qdrant-1-1.13.4-to-1.13.5-20261201T060240Z.tar.gz', path: '/qdrant/storage/.upgrade-guard/raft-qdrant-1-1.13.4-to-1.13.5-20261201T060240Z.tar.gz' };

// Ids the real runs minted, read off the fixtures.
const OLD_1 = '8924778169157564';
const NEW_1 = '6978001002023824';
const ADDR_1 = 'http://127.0.0.1:30812/';

describe('volume verdict on the traces of a lost raft state (real 1.13.5 and 1.16.3 states)', () => {
  it('finds the two ids of qdrant-1 at one address on every volume after the 1.13 incident, and none before', () => {
    expect(sharedVoterAddresses(real('v1.13.4_3peer_healthy_qdrant-1.json'))).to.deep.equal([]);
    for (const n of [0, 1, 2]) {
      const shared = sharedVoterAddresses(real(`v1.13.5_3peer_after-qdrant-1-lost-state_qdrant-${n}.json`));
      expect(shared, `qdrant-${n}`).to.have.length(1);
      expect(shared[0]!.address).to.equal(ADDR_1);
      expect([...shared[0]!.peerIds].sort()).to.deep.equal([NEW_1, OLD_1].sort());
    }
  });

  it('tells the 1.16 stub from a healthy state, by shape alone', () => {
    expect(isStubState(real('v1.16.3_3peer_stub-after-lost-state_qdrant-1.json'))).to.equal(true);
    expect(isStubState(real('v1.16.3_3peer_healthy_qdrant-1.json'))).to.equal(false);
    expect(isStubState(real('v1.13.5_1peer_after-state-lost-twice_qdrant-0.json'))).to.equal(false);
  });

  it('treats http://a:1/ and HTTP://a:1 as one address', () => {
    const s: StateSummary = {
      ...real('v1.13.4_3peer_healthy_qdrant-1.json'),
      voters: ['1', '2'],
      learners: [],
      peers: { '1': 'http://qdrant-1.qdrant-headless:6335/', '2': 'HTTP://qdrant-1.qdrant-headless:6335' },
    };
    expect(sharedVoterAddresses(s)).to.deep.equal([{ address: 'http://qdrant-1.qdrant-headless:6335/', peerIds: ['1', '2'] }]);
  });

  const rows: Array<{
    name: string;
    file: string;
    evidence?: UsageEvidence;
    startup?: boolean;
    archive?: boolean;
    /** id -> status of every check returned, in order. */
    expected: Array<[string, CheckStatus]>;
    observed?: string[];
    remedy?: string[];
  }> = [
    { name: 'passes a healthy 1.13.4 volume', file: 'v1.13.4_3peer_healthy_qdrant-1.json', expected: [['volume.state', 'pass']] },
    {
      name: 'refuses the volume of a peer that was not restarted: it holds the phantom, and says how to remove it',
      file: 'v1.13.5_3peer_after-qdrant-1-lost-state_qdrant-0.json',
      expected: [['volume.state', 'pass'], ['volume.phantom-voter', 'fail']],
      observed: [`at ${ADDR_1}`, '4 voter(s) in all'],
      remedy: ['restore that peer', 'DELETE /cluster/peer/{peer_id}', 'qdrant/qdrant#6229', 'docs/runbooks.md#', 'api.qdrant.tech'],
    },
    {
      name: 'refuses the volume of the peer that lost its state, naming its old id, the archive and the id to remove',
      file: 'v1.13.5_3peer_after-qdrant-1-lost-state_qdrant-1.json',
      archive: true,
      expected: [['volume.state', 'pass'], ['volume.phantom-voter', 'fail']],
      remedy: [`runs as ${NEW_1}`, `old identity ${OLD_1}`, `restore --archive ${ARCHIVE.path} --storage /qdrant/storage --allow-peer-change`, `/cluster/peer/${NEW_1}`],
    },
    {
      name: 'without an archive at hand, says how to list them',
      file: 'v1.13.5_3peer_after-qdrant-1-lost-state_qdrant-1.json',
      expected: [['volume.state', 'pass'], ['volume.phantom-voter', 'fail']],
      remedy: ['qdrant-upgrade-guard archives --storage /qdrant/storage'],
    },
    {
      name: 'at Qdrant start, reports the phantom loudly without holding the pod',
      file: 'v1.13.5_3peer_after-qdrant-1-lost-state_qdrant-2.json',
      startup: true,
      expected: [['volume.state', 'pass'], ['volume.phantom-voter', 'warn']],
    },
    {
      name: 'refuses a lone peer that lost its state twice (two ids at its one address)',
      file: 'v1.13.5_1peer_after-state-lost-twice_qdrant-0.json',
      expected: [['volume.state', 'pass'], ['volume.phantom-voter', 'fail']],
    },
    {
      name: 'refuses the 1.16 stub on a volume that holds collections, before an upgrade',
      file: 'v1.16.3_3peer_stub-after-lost-state_qdrant-1.json',
      expected: [['volume.state', 'pass'], ['volume.stub-state', 'fail']],
      observed: ['term 0, no voters', 'collections/ holds 1 collection(s) (c1)'],
      remedy: ['panics on every start', 'qdrant/qdrant#6229'],
    },
    {
      name: 'holds the pod at start on the 1.16 stub too: Qdrant would panic there anyway',
      file: 'v1.16.3_3peer_stub-after-lost-state_qdrant-1.json',
      startup: true,
      archive: true,
      expected: [['volume.state', 'pass'], ['volume.stub-state', 'fail']],
      remedy: [ARCHIVE.path],
    },
    {
      name: 'passes the same stub on a volume without collections: a new peer that has not joined yet',
      file: 'v1.16.3_3peer_stub-after-lost-state_qdrant-1.json',
      evidence: NEW_PEER,
      expected: [['volume.state', 'pass']],
    },
    { name: 'passes a healthy 1.16.3 volume', file: 'v1.16.3_3peer_healthy_qdrant-1.json', expected: [['volume.state', 'pass']] },
    {
      name: 'passes the other 1.16.3 volumes during the incident: the stranger was rejected, their states are clean',
      file: 'v1.16.3_3peer_after-qdrant-1-lost-state_qdrant-0.json',
      expected: [['volume.state', 'pass']],
    },
  ];

  for (const r of rows) {
    it(r.name, () => {
      const checks = decideVolume({
        volume: vol(real(r.file), r.evidence),
        storagePath: '/qdrant/storage',
        ...(r.archive ? { newestArchive: ARCHIVE } : {}),
        ...(r.startup ? { startupCheck: true } : {}),
      });
      expect(checks.map((c) => [c.id, c.status])).to.deep.equal(r.expected);
      const last = checks[checks.length - 1]!;
      expect(last.subject).to.equal('qdrant-1 (/qdrant/storage)');
      for (const s of r.observed ?? []) expect(last.observed).to.contain(s);
      for (const s of (r.remedy ?? []).filter(Boolean)) expect(last.remedy).to.contain(s);
      if (last.status === 'pass') expect(last.remedy).to.equal('');
      else expect(last.remedy).to.match(/docs\/runbooks\.md#[a-z0-9-]+/);
    });
  }
});
