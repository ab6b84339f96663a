// The restore-volume worker (inside the pod on the PVC) runs restore with the pod it serves, so restore's identity
// checks apply there too: another pod's archive never gives this volume its peer id.
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runRestoreVolumeWorker } from '../../../hook/commands/restore-volume.js';
import { writeArchive } from '../../../hook/archive/write.js';
import { inspectStorage } from '../../../hook/storage/inspect.js';
import { cleanupTempDirs, makeStorage, tempDir, THREE_PEER_0, THREE_PEER_1, treeDigest } from '../helpers/storage.js';

const NOW = new Date('2025-03-21T10:15:02Z');

async function archiveOf(storage: string, podName: string, archiveDir: string) {
  const inspection = await inspectStorage(storage);
  const ordinal = Number(podName.split('-').pop());
  return writeArchive({ inspection, archiveDir, pod: { statefulSet: 'qdrant', ordinal }, podName, from: '1.13.4', to: '1.13.5', now: NOW });
}

describe('restore-volume worker: restore with the pod it serves', () => {
  afterEach(cleanupTempDirs);

  it('refuses qdrant-0\'s archive on qdrant-1\'s lost-state volume, even with nothing else on the volume to compare', async () => {
    const snapshots = await tempDir();
    const storage = await makeStorage({ wal: [100] }); // used, raft_state.json gone, no own archive
    const foreign = await archiveOf(await makeStorage({ stateFixture: THREE_PEER_0, wal: [100] }), 'qdrant-0', snapshots);
    const before = await treeDigest(storage);
    const report = await runRestoreVolumeWorker({ storage, archiveDir: snapshots, pod: 'qdrant-1', archive: path.basename(foreign.path) });
    expect(report.verdict).to.equal('refuse');
    const identity = report.checks.find((c) => c.id === 'restore.identity')!;
    expect(identity.status).to.equal('fail');
    expect(identity.observed).to.contain('recorded for pod qdrant-0');
    expect(await treeDigest(storage)).to.deep.equal(before);
  });

  it('restores the pod\'s own archive from the snapshots volume with --latest', async () => {
    const snapshots = await tempDir();
    const storage = await makeStorage({ stateFixture: THREE_PEER_1, wal: [100] });
    await archiveOf(storage, 'qdrant-1', snapshots);
    await fs.rm(path.join(storage, 'raft_state.json'));
    const report = await runRestoreVolumeWorker({ storage, archiveDir: snapshots, pod: 'qdrant-1' });
    expect(report.verdict, JSON.stringify(report.checks, null, 1)).to.equal('pass');
    expect(report.checks.find((c) => c.id === 'restore.identity')!.status).to.equal('pass');
    const after = await inspectStorage(storage);
    expect(after.classification).to.equal('initialized');
    expect(after.state?.thisPeerId).to.equal('7820539312201337');
  });
});
