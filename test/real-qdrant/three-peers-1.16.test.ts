/**
 * Three real 1.16.3 peers: the guard's adapter and policies on the real answers (peer metadata in telemetry from
 * 1.16 on), a stopped peer, and qdrant/qdrant#6229 as 1.16 shows it: the peer that lost its state writes a stub,
 * the leader rejects its join, it panics on every start; restoring its archive brings it back.
 */
import { expect } from 'chai';
import { runDiagnoseLogs } from '../../hook/commands/diagnose-logs.js';
import { runRestore } from '../../hook/commands/restore.js';
import { runVolume } from '../../hook/commands/volume.js';
import { assessClusterHealth } from '../../hook/policy/cluster-health.js';
import { assessConvergence, type RecordedIdentity } from '../../hook/policy/convergence.js';
import type { PeerObservation } from '../../hook/qdrant/types.js';
import { RealQdrantCluster, requireQdrantVersions, stopCluster } from '../support/real-qdrant/index.js';
import { observeAll, settle } from '../support/real-qdrant/observe.js';

const failures = (checks: { status: string; id: string }[]) => checks.filter((c) => c.status === 'fail').map((c) => c.id);
const idOf = (o: PeerObservation) => (o.cluster?.status === 'enabled' ? o.cluster.peerId : undefined);

describe('real Qdrant 1.16.3, three peers: observation, a stopped peer, and a lost raft state', function () {
  this.timeout(300_000);
  let c: RealQdrantCluster;
  let ids: string[];
  let archive: string;
  let record: Record<string, RecordedIdentity>;

  before(async function () {
    requireQdrantVersions(this, ['1.16.3']);
    c = new RealQdrantCluster({ size: 3, version: '1.16.3', portBase: 30100 });
    await c.start();
    await c.createCollection('c1', { shards: 3, replicas: 2 });
    await c.upsertPoints('c1', 30);
  });
  after(async function () {
    await stopCluster(this, c);
  });

  it('reads GET /, /readyz, /cluster, /collections, /collections/c1/cluster and telemetry peer metadata from every peer', async () => {
    const obs = await observeAll(c);
    ids = obs.map((o) => idOf(o)!);
    expect(new Set(ids).size).to.equal(3);
    for (const o of obs) {
      expect(o.reachable, o.endpoint.pod).to.equal(true);
      expect(o.version?.version).to.equal('1.16.3');
      expect(o.ready).to.equal(true);
      expect(o.cluster?.status === 'enabled' && Object.keys(o.cluster.peers).sort()).to.deep.equal([...ids].sort());
      expect(o.collections?.map((x) => [x.collection, x.replicas.length])).to.deep.equal([['c1', 6]]);
      expect(o.collections?.[0]?.replicas.every((r) => r.state === 'Active')).to.equal(true);
      // Real 1.16 telemetry: {"<id>": {"version": "1.16.3"}} for every peer, ids kept exact.
      expect(o.peerMetadata).to.deep.equal(Object.fromEntries(ids.map((id) => [id, { version: '1.16.3' }])));
    }
    record = Object.fromEntries(obs.map((o, i) => [String(i), { pod: o.endpoint.pod, peerId: ids[i]!, version: '1.16.3' }]));
  });

  it('passes health and convergence on the healthy cluster', async () => {
    const obs = await observeAll(c);
    expect(failures(assessClusterHealth(obs, { expectedPeers: 3 }))).to.deep.equal([]);
    const conv = assessConvergence({ targetVersion: '1.16.3', record, observations: obs, expectedReplicas: 3 });
    expect(failures(conv)).to.deep.equal([]);
    expect(conv.filter((x) => x.id === 'peer.metadata').map((x) => x.status)).to.deep.equal(['pass', 'pass', 'pass']);
  });

  it('fails health and convergence when a peer is stopped, naming it', async () => {
    await c.peer(2).stop();
    const obs = await observeAll(c);
    const health = assessClusterHealth(obs, { expectedPeers: 3 });
    expect(failures(health)).to.include('cluster.reachable');
    expect(health.find((x) => x.id === 'cluster.reachable' && x.status === 'fail')?.observed).to.contain('qdrant-2');
    expect(failures(assessConvergence({ targetVersion: '1.16.3', record, observations: obs, expectedReplicas: 3 }))).to.include('cluster.reachable');
    await c.peer(2).start();
    await c.peer(2).waitReady();
    await c.waitMembers(3);
    expect(failures(await settle(c, (o) => assessClusterHealth(o, { expectedPeers: 3 })))).to.deep.equal([]);
  });

  it('a frozen peer (SIGSTOP) is named unreachable within the request timeout, and passes again once resumed and caught up', async () => {
    const p = c.peer(2);
    p.signal('SIGSTOP');
    try {
      // The others still commit (2 of 3): qdrant-2 falls behind while frozen.
      const made = await c.peer(0).request('PUT', '/collections/while_frozen', { vectors: { size: 4, distance: 'Dot' } }, 30_000);
      expect(made.status, made.text).to.equal(200);
      const t = Date.now();
      const obs = await observeAll(c);
      expect(Date.now() - t).to.be.lessThan(20_000);
      const health = assessClusterHealth(obs, { expectedPeers: 3 });
      expect(health.find((x) => x.id === 'cluster.reachable' && x.status === 'fail')?.observed).to.contain('qdrant-2');
    } finally {
      p.signal('SIGCONT');
    }
    await p.waitFor('/collections', (a) => a.status === 200 && a.text.includes('while_frozen'), 60_000, 'the collection made while frozen');
    await p.waitReady(60_000);
    expect(failures(await settle(c, (o) => assessClusterHealth(o, { expectedPeers: 3 })))).to.deep.equal([]);
  });

  it('qdrant-1 without its state writes the stub, is rejected by the leader and panics on every start', async () => {
    const p = c.peer(1);
    await p.stop();
    const v = await runVolume({ storage: p.storage, from: '1.16.3', to: '1.16.3', pod: 'qdrant-1' });
    expect(v.verdict).to.equal('pass');
    archive = (v.details as { archive: { path: string } }).archive.path;
    p.deleteRaftState();
    await p.start();
    const code = await p.waitExit(90_000);
    expect(code, p.logTail()).to.be.a('number').and.not.equal(0);
    const stub = p.readRaftState();
    expect(stub).to.match(/"hard_state":\{"term":0,"vote":0,"commit":0\}/).and.contain('"voters":[]').and.contain('"apply_progress_queue":null');
    expect(stub).to.not.contain('first_voter');
    await p.start();
    expect(await p.waitExit(90_000)).to.be.a('number').and.not.equal(0);
  });

  it('the startup check holds the pod and pre-upgrade refuses the volume (volume.stub-state)', async () => {
    const start = await runVolume({ storage: c.peer(1).storage, checkOnly: true, pod: 'qdrant-1' });
    expect(start.verdict).to.equal('refuse');
    expect(failures(start.checks)).to.deep.equal(['volume.stub-state']);
    expect(start.checks.find((x) => x.id === 'volume.stub-state')?.remedy).to.contain('--allow-peer-change');
    const pre = await runVolume({ storage: c.peer(1).storage, from: '1.16.3', to: '1.16.3', pod: 'qdrant-1' });
    expect(pre.verdict).to.equal('refuse');
  });

  it('diagnose-logs finds the panic in the lost peer\'s log and the rejection in the leader\'s', async () => {
    const lost = await runDiagnoseLogs({ log: c.peer(1).logFile, pod: 'qdrant-1' });
    expect(lost.details).to.include({ signature: true, role: 'lost-state' });
    expect((lost.details as { findings: { kind: string }[] }).findings.map((f) => f.kind)).to.include('consensus-init-panic');
    const witnesses = [];
    for (const i of [0, 2]) witnesses.push(await runDiagnoseLogs({ log: c.peer(i).logFile, pod: `qdrant-${i}` }));
    const leader = witnesses.find((w) => (w.details as { signature: boolean }).signature);
    expect(leader, 'one of qdrant-0, qdrant-2 rejected the join').to.not.equal(undefined);
    expect(leader!.details).to.include({ role: 'witness', previousPeerId: ids[1] });
  });

  it('the others keep three members (the stranger never joined) and answer /readyz', async () => {
    const obs = await observeAll(c);
    for (const i of [0, 2]) {
      const o = obs[i]!;
      expect(o.cluster?.status === 'enabled' && Object.keys(o.cluster.peers).sort()).to.deep.equal([...ids].sort());
      // Every shard keeps an Active replica on qdrant-0 or qdrant-2 (replication factor 2), so /readyz stays 200.
      expect(o.ready, o.readyText).to.equal(true);
    }
  });

  it('restore of the pre-upgrade archive (with --allow-peer-change over the stub) brings qdrant-1 back with its points', async () => {
    const p = c.peer(1);
    const r = await runRestore({ archive, storage: p.storage, pod: 'qdrant-1', allowPeerChange: true });
    expect(r.verdict).to.equal('pass');
    await p.start();
    await p.waitReady(90_000);
    const obs = await observeAll(c);
    expect(idOf(obs[1]!)).to.equal(ids[1]);
    expect(failures(await settle(c, (o) => assessClusterHealth(o, { expectedPeers: 3 })))).to.deep.equal([]);
    for (const i of [0, 1, 2]) expect(await c.countPoints('c1', i)).to.equal(30);
  });
});
