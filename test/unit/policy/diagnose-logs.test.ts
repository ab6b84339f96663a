/**
 * The #6229 diagnosis on logs the real Qdrant server wrote (test/fixtures/qdrant-logs), text and JSON formats:
 * every incident is found, in the log of the peer that lost its state and in the logs of the peers that saw it,
 * and a clean rolling upgrade raises nothing.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { diagnoseLogLines, diagnosisChecks, diagnosisRemedy, type LogRole, type SignatureKind } from '../../../hook/policy/diagnose-logs.js';
import { findingsToChecks, scanLogLines, splitLogText } from '../../../hook/policy/log-loop.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/qdrant-logs');
const lines = (file: string) => splitLogText(readFileSync(path.join(dir, file), 'utf8'));

describe('diagnose-logs on real Qdrant logs', () => {
  const rows: Array<{ file: string; role: LogRole; kinds: SignatureKind[]; minted?: string; previous?: string }> = [
    { file: 'v1.13.4-to-v1.13.5_1peer_state-lost_qdrant-0.text.log', role: 'lost-state', kinds: ['new-state-on-used-volume', 'replayed-operations'] },
    { file: 'v1.13.4-to-v1.13.5_1peer_state-lost_qdrant-0.json.log', role: 'lost-state', kinds: ['new-state-on-used-volume', 'replayed-operations'] },
    { file: 'v1.13.5_1peer_state-lost-again_replay_qdrant-0.text.log', role: 'lost-state', kinds: ['new-state-on-used-volume', 'metadata-loop', 'replayed-operations'] },
    { file: 'v1.13.5_1peer_state-lost-again_replay_qdrant-0.json.log', role: 'lost-state', kinds: ['new-state-on-used-volume', 'metadata-loop', 'replayed-operations'] },
    { file: 'v1.13.4-to-v1.13.5_3peer_state-lost_qdrant-1.text.log', role: 'lost-state', kinds: ['new-state-on-used-volume', 'replayed-operations'] },
    { file: 'v1.13.4_3peer_witness_qdrant-0.text.log', role: 'witness', kinds: ['replayed-operations'] },
    { file: 'v1.16.3_3peer_state-lost_qdrant-1_first-start.text.log', role: 'lost-state', kinds: ['new-state-on-used-volume', 'consensus-init-panic'] },
    { file: 'v1.16.3_3peer_state-lost_qdrant-1_first-start.json.log', role: 'lost-state', kinds: ['new-state-on-used-volume', 'consensus-init-panic'] },
    { file: 'v1.16.3_3peer_state-lost_qdrant-1_restart.text.log', role: 'lost-state', kinds: ['consensus-init-panic'] },
    { file: 'v1.16.3_3peer_state-lost_qdrant-1_restart.json.log', role: 'lost-state', kinds: ['consensus-init-panic'] },
    { file: 'v1.16.3_3peer_witness-rejects-join_qdrant-0.text.log', role: 'witness', kinds: ['duplicate-peer', 'join-rejected'], minted: '2663207545515842', previous: '3940247400810101' },
    { file: 'v1.16.3_3peer_witness-rejects-join_qdrant-0.json.log', role: 'witness', kinds: ['duplicate-peer', 'join-rejected'], minted: '8349698966006749', previous: '2932059534794568' },
  ];
  for (const r of rows) {
    it(`finds the signature in ${r.file} (${r.role}: ${r.kinds.join(', ')})`, () => {
      const d = diagnoseLogLines(lines(r.file), { pod: 'qdrant-1' });
      expect(d.signature).to.equal(true);
      expect(d.role).to.equal(r.role);
      expect(d.findings.map((f) => f.kind)).to.deep.equal(r.kinds);
      if (r.minted) expect([d.mintedPeerId, d.previousPeerId]).to.deep.equal([r.minted, r.previous]);
      for (const f of d.findings) {
        expect(f.count, f.kind).to.be.greaterThan(0);
        expect(f.firstAt, f.kind).to.match(/^2026-12-01T/);
        expect(f.firstLine).to.not.equal('');
      }
      const format = r.file.endsWith('.json.log') ? 'json' : 'text';
      expect(d.formats[format]).to.be.greaterThan(5);
      expect(d.formats[format === 'json' ? 'text' : 'json']).to.equal(0);
    });
  }

  const clean = readdirSync(dir).filter((f) => f.includes('clean-rolling-upgrade')).sort();
  it('has the six logs of the clean rolling upgrade to test', () => expect(clean).to.have.length(6));
  for (const file of clean) {
    it(`raises nothing on ${file}`, () => {
      const d = diagnoseLogLines(lines(file), { pod: 'qdrant-0' });
      expect(d.signature).to.equal(false);
      expect(d.role).to.equal('clean');
      expect(d.findings).to.deep.equal([]);
      const checks = diagnosisChecks(d);
      expect(checks.map((c) => [c.id, c.status])).to.deep.equal([['diagnose.signature', 'pass']]);
    });
  }

  it('says the normal metadata update of a clean upgrade in its notes', () => {
    const d = diagnoseLogLines(lines('v1.13.4-to-v1.13.5_3peer_clean-rolling-upgrade_qdrant-2_start2_v1.13.5.text.log'));
    expect(d.notes.join(' ')).to.contain('1.13.4 -> 1.13.5').and.contain('normal');
  });

  it('gives the evidence: the replay counted with its first and last line, and both versions equal', () => {
    const d = diagnoseLogLines(lines('v1.13.5_1peer_state-lost-again_replay_qdrant-0.text.log'));
    const loop = d.findings.find((f) => f.kind === 'metadata-loop')!;
    expect(loop.count).to.equal(2);
    expect(loop.firstLine).to.match(/Replaced metadata of peer \d+ from PeerMetadata \{ version: Version \{ major: 1, minor: 13, patch: 5 \} \} to PeerMetadata \{ version: Version \{ major: 1, minor: 13, patch: 5 \} \}/);
    const checks = diagnosisChecks(d, { storagePath: '/data/qdrant' });
    expect(checks[0]).to.include({ id: 'diagnose.signature', status: 'fail' });
    expect(checks.map((c) => c.id)).to.include.members(['diagnose.new-state', 'diagnose.metadata-loop', 'diagnose.replayed-operations']);
    expect(checks[0]!.remedy).to.contain('restore --archive <file> --storage /data/qdrant').and.contain('DELETE /cluster/peer/');
  });

  it('tells a 1.16 operator that the rejected id needs no removal', () => {
    const d = diagnoseLogLines(lines('v1.16.3_3peer_state-lost_qdrant-1_restart.text.log'), { pod: 'qdrant-1', recordedPeerId: '3940247400810101' });
    const remedy = diagnosisRemedy(d);
    expect(remedy).to.contain('it was peer 3940247400810101').and.contain('nothing else needs removing').and.not.contain('DELETE');
  });

  it('names the minted and the old id from the leader\'s rejection in a witness remedy', () => {
    const d = diagnoseLogLines(lines('v1.16.3_3peer_witness-rejects-join_qdrant-0.text.log'), { pod: 'qdrant-0' });
    expect(diagnosisRemedy(d)).to.contain("peer 3940247400810101's URI is now claimed by 2663207545515842");
  });

  it('does not call a moved address or a new peer on an empty volume a signature', () => {
    const d = diagnoseLogLines([
      '2026-12-01T06:02:40.707002Z  INFO storage::content_manager::consensus::persistent: Initializing new raft state at ./storage/raft_state.json    ',
      '2026-12-01T06:02:41.165816Z  INFO qdrant::tonic: Qdrant gRPC listening on 30801    ',
      '2026-12-01T06:03:41.000000Z  WARN storage::content_manager::consensus::persistent: Replaced address of peer 123 from http://10.0.0.1:6335/ to http://10.0.0.2:6335/',
    ]);
    expect(d.signature).to.equal(false);
    expect(d.notes).to.have.length(1);
  });

  it('calls a peer re-registered at its own address a replayed join', () => {
    const d = diagnoseLogLines(['WARN x: Replaced address of peer 123 from http://qdrant-1.h:6335/ to http://qdrant-1.h:6335/']);
    expect(d.findings.map((f) => f.kind)).to.deep.equal(['address-reregistered']);
    expect(d.role).to.equal('lost-state');
  });
});

describe('the post-upgrade loop detector on real Qdrant logs', () => {
  const ctx = { pod: 'qdrant-0', recordedInitialized: false };
  for (const file of ['v1.13.5_1peer_state-lost-again_replay_qdrant-0.text.log', 'v1.13.5_1peer_state-lost-again_replay_qdrant-0.json.log']) {
    it(`fails on the seed's replay, 1 or 2 self-replacing lines after a new state (${file})`, () => {
      const checks = findingsToChecks(scanLogLines(lines(file), ctx), 'qdrant-0');
      expect(checks.find((c) => c.id === 'peer.log-loop')?.status).to.equal('fail');
    });
  }
  for (const file of readdirSync(dir).filter((f) => f.includes('clean-rolling-upgrade')).sort()) {
    it(`passes the clean upgrade's ${file}`, () => {
      const checks = findingsToChecks(scanLogLines(lines(file), ctx), 'qdrant-0');
      expect(checks.filter((c) => c.status === 'fail')).to.deep.equal([]);
      expect(checks.find((c) => c.id === 'peer.log-loop')?.status).to.equal('pass');
    });
  }
  it('fails at once when the record says the volume held a state (the 1.13 and 1.16 lost peers)', () => {
    for (const file of ['v1.13.4-to-v1.13.5_3peer_state-lost_qdrant-1.text.log', 'v1.16.3_3peer_state-lost_qdrant-1_first-start.json.log']) {
      const checks = findingsToChecks(scanLogLines(lines(file), { ...ctx, recordedInitialized: true }), 'qdrant-1');
      expect(checks.find((c) => c.id === 'peer.identity-lost')?.status, file).to.equal('fail');
    }
  });
});

describe('the loop detector and a new peer on an empty volume', () => {
  it('does not call a self-replacing metadata line a loop when the new state found no collection (a joining peer catching up)', () => {
    const lines = [
      '2026-12-01T06:02:40.707002Z  INFO storage::content_manager::consensus::persistent: Initializing new raft state at ./storage/raft_state.json    ',
      '2026-12-01T06:02:48.854134Z  INFO storage::content_manager::toc::collection_meta_ops: Creating collection c1    ',
      '2026-12-01T06:02:49.041517Z  INFO storage::content_manager::consensus::persistent: Replaced metadata of peer 7037722680422581 from PeerMetadata { version: Version { major: 1, minor: 13, patch: 5 } } to PeerMetadata { version: Version { major: 1, minor: 13, patch: 5 } }    ',
    ];
    const checks = findingsToChecks(scanLogLines(lines, { pod: 'qdrant-2', recordedInitialized: false }), 'qdrant-2');
    expect(checks.find((c) => c.id === 'peer.log-loop')?.status).to.equal('pass');
  });
});
