/**
 * `volume` (pre-upgrade) and `volume --check-only` (the startup check) on volumes holding real states written by the
 * real Qdrant server after a lost raft_state.json (test/fixtures/real-storage).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runVolume } from '../../../hook/commands/volume.js';
import { cleanupTempDirs, makeStorage, repoRoot } from '../helpers/storage.js';

const real = (file: string) => readFileSync(path.join(repoRoot, 'test/fixtures/real-storage/raft-state', file));
const PHANTOM = 'v1.13.5_3peer_after-qdrant-1-lost-state_qdrant-0.json';
const STUB = 'v1.16.3_3peer_stub-after-lost-state_qdrant-1.json';

describe('volume on the traces of a lost raft state (real states)', () => {
  afterEach(cleanupTempDirs);

  it('pre-upgrade refuses a volume whose state holds a phantom voter, and writes no archive', async () => {
    const d = await makeStorage({ state: real(PHANTOM), wal: [4096], collections: ['c1'], aliases: true });
    const r = await runVolume({ storage: d, from: '1.13.5', to: '1.13.5', pod: 'qdrant-0', now: () => new Date('2026-12-01T06:00:00Z') });
    expect(r.verdict).to.equal('refuse');
    expect(r.checks.map((c) => `${c.id}:${c.status}`)).to.include('volume.phantom-voter:fail');
    expect(r.summary).to.match(/^volume\.phantom-voter refused on qdrant-0/);
    expect(r.details?.archive).to.equal(null);
  });

  it('the startup check lets Qdrant start on it but puts the warning and the remedy in the summary', async () => {
    const d = await makeStorage({ state: real(PHANTOM), wal: [4096], collections: ['c1'] });
    const r = await runVolume({ storage: d, checkOnly: true, pod: 'qdrant-0' });
    expect(r.verdict).to.equal('pass');
    expect(r.checks.find((c) => c.id === 'volume.phantom-voter')?.status).to.equal('warn');
    expect(r.summary).to.contain('WARNING volume.phantom-voter').and.contain('DELETE /cluster/peer/');
  });

  it('the startup check holds a pod whose volume holds collections under the 1.16 stub', async () => {
    const d = await makeStorage({ state: real(STUB), wal: [4096, 4096], collections: ['c1'] });
    const r = await runVolume({ storage: d, checkOnly: true, pod: 'qdrant-1' });
    expect(r.verdict).to.equal('refuse');
    expect(r.summary).to.match(/^volume\.stub-state refused on qdrant-1/);
  });
});
