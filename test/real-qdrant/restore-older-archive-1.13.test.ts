/**
 * Restore of an archive older than the cluster's commit, on real Qdrant 1.13.5 with three peers: the archive is
 * taken, the cluster commits more (new collections), then a follower loses raft_state.json. restore puts the archived
 * state back in front of the volume's own, newer WAL: the peer comes back under its id, ready, and the consensus
 * commits. (Putting the archived, older WAL back with it rolls the peer's log below the index the leader recorded for
 * it, and raft-rs panics on the next heartbeat: `to_commit N is out of range [last_index M]`.)
 */
import { expect } from 'chai';
import { runInspect } from '../../hook/commands/inspect.js';
import { runRestore } from '../../hook/commands/restore.js';
import { runVolume } from '../../hook/commands/volume.js';
import { assessClusterHealth } from '../../hook/policy/cluster-health.js';
import { RealQdrantCluster, requireQdrantVersions, stopCluster } from '../support/real-qdrant/index.js';
import { observeAll, settle } from '../support/real-qdrant/observe.js';

describe('real Qdrant 1.13.5, three peers: restoring an archive older than the cluster\'s commit', function () {
  this.timeout(300_000);
  let c: RealQdrantCluster;
  let id2: string;
  let archive: string;
  // A follower: the leader keeps what it recorded as replicated to it, which is what an older log falls behind.
  let victim = 2;

  before(async function () {
    requireQdrantVersions(this, ['1.13.5']);
    c = new RealQdrantCluster({ size: 3, version: '1.13.5', portBase: 30500 });
    await c.start();
    await c.createCollection('c1', { shards: 3, replicas: 2 });
    await c.upsertPoints('c1', 20);
  });
  after(async function () {
    await stopCluster(this, c);
  });

  it('archives a follower while it runs, then the cluster commits past the archive', async () => {
    const first = await observeAll(c);
    const leader = first[0]!.cluster!.status === 'enabled' ? first[0]!.cluster!.raft.leader : undefined;
    victim = [2, 1, 0].find((i) => { const cl = first[i]!.cluster!; return cl.status === 'enabled' && cl.peerId !== leader; })!;
    const v = await runVolume({ storage: c.peer(victim).storage, from: '1.13.5', to: '1.13.5', pod: `qdrant-${victim}` });
    expect(v.verdict).to.equal('pass');
    archive = (v.details as { archive: { path: string } }).archive.path;
    const at = v.details as { peerId: string; commit: string };
    expect(at.commit).to.match(/^\d+$/);
    id2 = at.peerId;
    expect(((await runInspect({ storage: c.peer(victim).storage })).details as { summary: { thisPeerId: string } }).summary.thisPeerId).to.equal(id2);
    const commitAtArchive = BigInt(at.commit);
    for (const name of ['later_1', 'later_2', 'later_3']) {
      const r = await c.peer(0).request('PUT', `/collections/${name}`, { vectors: { size: 4, distance: 'Dot' } }, 30_000);
      expect(r.status, r.text).to.equal(200);
    }
    await c.waitMembers(3);
    const obs = await observeAll(c);
    const cl = obs[victim]!.cluster!;
    const commit = cl.status === 'enabled' ? BigInt(cl.raft.commit) : 0n;
    expect(commit > commitAtArchive, `commit ${commit} past the archive's ${commitAtArchive}`).to.equal(true);
  });

  it('the follower loses raft_state.json; restore keeps its newer WAL and the peer comes back under its id, ready, with a working consensus', async () => {
    const p = c.peer(victim);
    await p.stop();
    p.deleteRaftState();
    const restored = await runRestore({ archive, storage: p.storage, pod: `qdrant-${victim}`, ...(process.env.RESTORE_WITH_WAL ? { withWal: true } : {}) });
    expect(restored.verdict, JSON.stringify(restored.checks, null, 1)).to.equal('pass');
    expect(restored.checks.find((x) => x.id === 'restore.wal')!.observed).to.contain("the volume's own WAL");
    await p.start({ version: '1.13.5' });
    const ready = await p.waitReady(90_000);
    expect(ready.status).to.equal(200);
    const health = await settle(c, (obs) => assessClusterHealth(obs, { expectedPeers: 3 }), 90_000);
    expect(health.filter((x) => x.status === 'fail')).to.deep.equal([]);
    const back = (await observeAll(c))[victim]!.cluster!;
    expect(back.status === 'enabled' && back.peerId).to.equal(id2);
    const created = await c.peer(victim).request('PUT', '/collections/after_restore', { vectors: { size: 4, distance: 'Dot' } }, 30_000);
    expect(created.status, created.text).to.equal(200);
    for (const i of [0, 1, 2]) expect(await c.countPoints('c1', i), `count via qdrant-${i}`).to.equal(20);
  });
});
