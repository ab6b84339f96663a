/**
 * The Qdrant emulator (a test double) behaves as docs/qdrant-facts.md says Qdrant does: storage
 * files (docs/qdrant-facts.md#storage-directory, docs/qdrant-facts.md#raft-state-file), cluster formation and upgrades (docs/qdrant-facts.md#http-api, docs/qdrant-facts.md#converged), the #6229 replay loop (docs/incident-6229.md), the fault
 * modes, and the process interface the kubelet stand-in uses.
 *
 * In-process peers run on a simulation (sim.ts): a seeded virtual clock and an in-memory p2p
 * network that only move when the test steps them, so counts and orders do not depend on the
 * machine's load. Only the process tests at the end use real timers, as the e2e tier does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { encode as encodeCbor } from 'cbor-x';
import {
  createSimulation,
  parseRaftState,
  startEmulatorCluster,
  startPeer,
  waitUntil,
  type EmulatorCluster,
  type EmulatedPeerHandle,
} from '../support/qdrant-emulator/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.resolve(repoRoot, 'test/fixtures/raft-state');
const FAST = { pollMs: 50, electionTimeoutMs: 300 };
const LOOP_LINE = /Replaced metadata of peer (\d+) from (PeerMetadata \{.*\}) to (PeerMetadata \{.*\})$/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seed = 0;
/** A fresh simulation per scenario, each with its own seed (the same on every run). */
const newSim = () => createSimulation({ seed: ++seed });

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

function fixture(rel: string): string {
  return fs.readFileSync(path.join(fixtures, rel), 'utf8').trim();
}

function replacedMetadata(p: EmulatedPeerHandle, sinceLastStart = true): Array<{ id: string; from: string; to: string; ts: number }> {
  return p
    .logs({ sinceLastStart })
    .filter((r) => r.message.startsWith('Replaced metadata of peer'))
    .map((r) => {
      const m = LOOP_LINE.exec(r.message)!;
      return { id: m[1]!, from: m[2]!, to: m[3]!, ts: Date.parse(r.timestamp) };
    });
}

describe('Qdrant emulator (test double for Qdrant, docs/qdrant-facts.md)', function () {
  this.timeout(30_000);

  describe('a new 3-peer cluster on 1.13.4', () => {
    let cluster: EmulatorCluster;
    before(async () => {
      cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST, sim: newSim() });
    });
    after(async () => {
      await cluster?.destroy();
    });

    it('has one leader at term 1 that every peer follows, on distinct loopback addresses with port 6333', () => {
      const st = cluster.peers.map((p) => p.status()!);
      expect(st.map((s) => s.leaderId)).to.deep.equal([st[0]!.peerId, st[0]!.peerId, st[0]!.peerId]);
      expect(st.map((s) => s.term)).to.deep.equal([1, 1, 1]);
      expect(new Set(cluster.peers.map((p) => p.host)).size).to.equal(3);
      for (const p of cluster.peers) expect(p.url).to.match(/^http:\/\/127\.2\.\d+\.\d+:6333$/);
    });

    it('records every peer under its headless-service URI and its version in raft_state.json (docs/qdrant-facts.md#raft-state-file)', () => {
      const st = parseRaftState(cluster.peer(2).readStateFile()!);
      expect(st.thisPeerId).to.equal(cluster.peer(2).peerId);
      expect([...st.peerAddressById.values()].sort()).to.deep.equal([
        'http://qdrant-0.qdrant-headless:6335/',
        'http://qdrant-1.qdrant-headless:6335/',
        'http://qdrant-2.qdrant-headless:6335/',
      ]);
      expect([...st.peerMetadataById!.values()].map((m) => m.version)).to.deep.equal(['1.13.4', '1.13.4', '1.13.4']);
      expect(st.firstVoter).to.equal(cluster.peer(0).peerId);
      expect(st.confState.voters).to.have.length(3);
      expect(st.applyProgressQueue).to.deep.equal([String(Number(st.hardState.commit) + 1), st.hardState.commit]);
    });

    it("writes raft_state.json compactly in Qdrant's key order, leaving no .atomicwrite dir behind", () => {
      const text = cluster.peer(1).readStateFile()!;
      const keys = [...text.matchAll(/"(state|latest_snapshot_meta|apply_progress_queue|first_voter|peer_address_by_id|peer_metadata_by_id|cluster_metadata|this_peer_id)":/g)].map((m) => m[1]);
      expect(keys).to.deep.equal(['state', 'latest_snapshot_meta', 'apply_progress_queue', 'first_voter', 'peer_address_by_id', 'peer_metadata_by_id', 'this_peer_id']);
      expect(text).to.not.match(/\s/);
      expect(fs.readdirSync(cluster.peer(1).storageDir).filter((f) => f.startsWith('.atomicwrite'))).to.deep.equal([]);
    });

    it('keeps the consensus WAL and the demo collection with a replica on every peer (docs/qdrant-facts.md#storage-directory)', () => {
      const storage = cluster.peer(1).storageDir;
      expect(fs.statSync(path.join(storage, 'collections_meta_wal', 'open-1')).size).to.be.greaterThan(100);
      const replica = JSON.parse(fs.readFileSync(path.join(storage, 'collections', 'demo', '0', 'replica_state.json'), 'utf8'));
      expect(replica.is_local).to.equal(true);
      expect(Object.values(replica.peers)).to.deep.equal(['Active', 'Active', 'Active']);
      expect(JSON.parse(fs.readFileSync(path.join(storage, 'collections', 'demo', 'config.json'), 'utf8')).params.replication_factor).to.equal(3);
    });

    it('creates a collection through consensus from a follower (PUT /collections/{name})', async () => {
      const res = await cluster.sim!.drive(
        fetch(`${cluster.peer(2).url}/collections/books`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ vectors: { size: 8, distance: 'Cosine' }, shard_number: 2, replication_factor: 2 }),
        }),
      );
      expect(res.status).to.equal(200);
      await cluster.waitForConvergence();
      const info = await getJson(`${cluster.peer(0).url}/collections/books/cluster`);
      expect(info.body.result.shard_count).to.equal(2);
      const placed = info.body.result.local_shards.length + info.body.result.remote_shards.length;
      expect(placed).to.equal(4);
    });
  });

  it('a rolling upgrade 1.13.4 -> 1.13.5 keeps every id and logs "Replaced metadata" once per peer, old -> new (docs/qdrant-facts.md#http-api)', async () => {
    const cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST, sim: newSim() });
    try {
      const ids = cluster.peers.map((p) => p.peerId);
      for (const i of [2, 1, 0]) {
        await cluster.restartPeer(i, { version: '1.13.5' });
        await cluster.waitForConvergence({ metadata: true });
      }
      expect(cluster.peers.map((p) => p.peerId)).to.deep.equal(ids);
      for (const p of cluster.peers) {
        const lines = replacedMetadata(p, false);
        expect(new Set(lines.map((l) => l.id)), p.name).to.deep.equal(new Set(ids.filter((id) => lines.some((l) => l.id === id))));
        for (const l of lines) {
          expect(l.from).to.equal('PeerMetadata { version: Version { major: 1, minor: 13, patch: 4 } }');
          expect(l.to).to.equal('PeerMetadata { version: Version { major: 1, minor: 13, patch: 5 } }');
        }
      }
      // The longest-running peer saw all three upgrades, each exactly once.
      const survivor = replacedMetadata(cluster.peer(2), false).map((l) => l.id).sort();
      expect(survivor).to.deep.equal([...ids].sort());
      const st = parseRaftState(cluster.peer(0).readStateFile()!);
      expect([...st.peerMetadataById!.values()].map((m) => m.version)).to.deep.equal(['1.13.5', '1.13.5', '1.13.5']);
    } finally {
      await cluster.destroy();
    }
  });

  it('replays the same events from the same seed: elections, log lines and their virtual times', async () => {
    async function scenario(): Promise<string[]> {
      const sim = createSimulation({ seed: 4242, start: Date.UTC(2026, 0, 1) });
      const cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST, sim });
      try {
        await cluster.restartPeer(0, { downMs: 800, version: '1.13.5' });
        await cluster.waitForConvergence({ metadata: true });
        await sim.run(2000);
        return cluster.peers.flatMap((p) => p.logLines().map((l) => `${p.name} ${l.replaceAll(p.rootDir, '<root>')}`));
      } finally {
        await cluster.destroy();
      }
    }
    const first = await scenario();
    const second = await scenario();
    expect(first.some((l) => /became leader at term [2-9]/.test(l)), 'a second election happened').to.equal(true);
    expect(second).to.deep.equal(first);
  });

  it('restarting the leader elects another leader in a higher term and the old leader follows it', async () => {
    const cluster = await startEmulatorCluster({ peers: 3, version: '1.16.0', timing: FAST, sim: newSim() });
    try {
      const oldLeader = cluster.peer(0).peerId;
      await cluster.restartPeer(0, { downMs: 800 });
      await cluster.waitForConvergence();
      const st = cluster.peers.map((p) => p.status()!);
      expect(st[0]!.term).to.be.greaterThan(1);
      expect(new Set(st.map((s) => s.leaderId)).size).to.equal(1);
      expect(st[0]!.leaderId).to.not.equal(oldLeader);
      expect(st[0]!.role).to.equal('Follower');
    } finally {
      await cluster.destroy();
    }
  });

  describe('#6229: a used volume that lost raft_state.json, as the real 1.13.5 did it (docs/incident-6229.md)', () => {
    let p: EmulatedPeerHandle;
    const oldId = '1439658109858024'; // the id of the issue's log line
    const sim = newSim();
    before(async () => {
      p = await startPeer({
        sim,
        version: '1.13.4',
        host: '127.0.0.1',
        port: 0,
        p2pPort: 0,
        uri: 'http://qdrant-0.qdrant-headless:6335',
        resolve: {},
        peerId: oldId,
        timing: FAST,
      });
      await p.waitFor('ready', () => p.status()?.ready === true);
      await p.restart({ version: '1.13.5', deleteStateFile: true });
      await sim.run(1500);
    });
    after(async () => {
      await p?.stop();
      fs.rmSync(p.rootDir, { recursive: true, force: true });
    });

    it('logs "Initializing new raft state" and mints a new id', () => {
      const lines = p.logLines({ sinceLastStart: true });
      expect(lines.some((l) => l.endsWith(`Initializing new raft state at ${p.storageDir}/raft_state.json`))).to.equal(true);
      expect(p.peerId).to.not.equal(oldId);
    });

    it('loads the collections still on the volume and applies the old log again, refusing what exists', () => {
      const lines = p.logLines({ sinceLastStart: true });
      expect(lines.some((l) => l.endsWith('INFO storage::content_manager::toc: Loading collection: demo'))).to.equal(true);
      expect(lines.filter((l) => / WARN storage::content_manager::consensus_manager: Failed to apply collection meta operation entry with user error: Wrong input: /.test(l))).to.deep.equal([
        lines.find((l) => l.endsWith('Wrong input: Collection `demo` already exists!'))!,
        lines.find((l) => l.endsWith(`Wrong input: Replica ${oldId} of shard 0 has state Some(Active), but expected Some(Initializing)`))!,
      ]);
      expect(replacedMetadata(p), 'no metadata loop').to.deep.equal([]);
    });

    it('elects itself at term 1 over the old log: the old id at the same URI, nothing pending, /readyz 200', async () => {
      const cluster = (await getJson(`${p.url}/cluster`)).body.result;
      expect(cluster.peers[oldId].uri).to.equal(cluster.peers[cluster.peer_id].uri);
      expect(cluster.raft_info).to.include({ role: 'Leader', term: 1, pending_operations: 0 });
      expect(String(cluster.raft_info.leader)).to.equal(p.peerId);
      const ready = await fetch(`${p.url}/readyz`);
      expect([ready.status, await ready.text()]).to.deep.equal([200, 'all shards are ready']);
    });

    it('keeps the old id as a voter, so nothing new commits (silently stuck)', async () => {
      const st = parseRaftState(p.readStateFile()!);
      expect(st.thisPeerId).to.equal(p.peerId);
      expect(st.confState.voters).to.include.members([p.peerId, oldId]);
      const before = p.status()!.commit;
      p.engine!.propose({ type: 'Empty' });
      await sim.run(3000);
      expect(p.status()!.lastIndex).to.equal(before + 1);
      expect(p.status()!.commit).to.equal(before);
    });

    it('counts a collections_meta_wal/ segment the emulator did not write as a used volume', async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'qdrant-foreign-wal-'));
      fs.mkdirSync(path.join(root, 'storage', 'collections_meta_wal'), { recursive: true });
      fs.writeFileSync(path.join(root, 'storage', 'collections_meta_wal', 'open-1'), Buffer.alloc(4096, 7));
      const qsim = newSim();
      const q = await startPeer({ version: '1.13.5', host: '127.0.0.1', port: 0, p2pPort: 0, rootDir: root, timing: FAST, sim: qsim });
      try {
        await qsim.run(400);
        expect(q.logLines().some((l) => l.endsWith(`Initializing new raft state at ${q.storageDir}/raft_state.json`))).to.equal(true);
        expect(q.status()!.role).to.equal('Leader');
        // A used volume: no demo collection is created on it.
        expect(q.status()!.collections).to.deep.equal({});
      } finally {
        await q.stop();
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  });

  describe('#6229 with three peers (docs/incident-6229.md)', () => {
    it('1.13: qdrant-1 joins again under a new id, every peer lists both ids at its URI, the cluster stays ready', async () => {
      const cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST, sim: newSim() });
      try {
        const oldId = cluster.peer(1).peerId;
        await cluster.restartPeer(1, { version: '1.13.5', deleteStateFile: true });
        const newId = cluster.peer(1).peerId;
        expect(newId).to.not.equal(oldId);
        await waitUntil('the new id known on qdrant-2', () => (cluster.peer(2).status()!.peers[newId] ? undefined : 'not yet'), { sim: cluster.sim! });
        await cluster.sim!.run(2000);
        for (const p of cluster.peers) {
          const peers = p.status()!.peers;
          expect(peers[oldId], p.name).to.equal('http://qdrant-1.qdrant-headless:6335/');
          expect(peers[newId], p.name).to.equal('http://qdrant-1.qdrant-headless:6335/');
          expect(p.status()!.ready, p.name).to.equal(true);
        }
        // The replaying peer proposes its collection again; the witnesses refuse it.
        expect(cluster.peer(1).logLines().some((l) => / WARN storage::dispatcher: Collection UUID \S+ explicitly specified, when proposing create collection demo operation/.test(l))).to.equal(true);
        expect(cluster.peer(0).logLines().some((l) => l.endsWith('Wrong input: Collection `demo` already exists!'))).to.equal(true);
      } finally {
        await cluster.destroy();
      }
    });

    it('1.16: the leader refuses the new id at a registered URI and the peer panics 10 s later', async () => {
      const cluster = await startEmulatorCluster({ peers: 3, version: '1.16.3', timing: FAST, sim: newSim() });
      try {
        const oldId = cluster.peer(1).peerId;
        await cluster.restartPeer(1, { deleteStateFile: true });
        const newId = cluster.peer(1).peerId;
        await cluster.sim!.run(9000);
        expect(cluster.peer(1).running, 'still waiting for its AddPeer').to.equal(true);
        expect(
          cluster.peer(0).logLines().some((l) =>
            l.endsWith(`WARN qdrant::consensus: Rejected peer ${newId} to join consensus, URI is already registered by peer ${oldId} (http://qdrant-1.qdrant-headless:6335/)`),
          ),
        ).to.equal(true);
        expect(cluster.peer(0).logLines().some((l) => l.endsWith(`WARN qdrant::consensus: peer URI http://qdrant-1.qdrant-headless:6335/ already used by peer ${oldId}, remove it first or use a different URI`))).to.equal(true);
        await cluster.sim!.run(3000);
        expect(cluster.peer(1).running).to.equal(false);
        expect(cluster.peer(1).engine!.panicked).to.equal(101);
        expect(cluster.peer(1).logLines().at(-1)).to.match(
          /ERROR qdrant::startup: Panic occurred in file src\/main\.rs at line 455: Can't initialize consensus: Failed to initialize Consensus for new Raft state: Failed to add peer to known: .*Timeout set at: 10 seconds"$/,
        );
        // It left a state with the new id behind: the next start loads it and fails the same way (a crash loop).
        expect(parseRaftState(cluster.peer(1).readStateFile()!).thisPeerId).to.equal(newId);
      } finally {
        await cluster.destroy();
      }
    });
  });

  describe('the metadata-loop fault (EMULATED: the log of the original report, not seen from the real binaries on demand)', () => {
    let p: EmulatedPeerHandle;
    const oldId = '1439658109858024';
    const sim = newSim();
    before(async () => {
      p = await startPeer({ sim, version: '1.13.4', host: '127.0.0.1', port: 0, p2pPort: 0, uri: 'http://qdrant-0.qdrant-headless:6335', resolve: {}, peerId: oldId, timing: { ...FAST, loopCap: 400 } });
      await p.waitFor('ready', () => p.status()?.ready === true);
      await p.restart({ version: '1.13.5', fault: 'metadata-loop' });
      await sim.run(1500);
    });
    after(async () => {
      await p?.stop();
      fs.rmSync(p.rootDir, { recursive: true, force: true });
    });

    it("repeats the issue's log line for the old id every 20-50 ms, from == to == 1.13.4", () => {
      const lines = replacedMetadata(p);
      // First line 20 ms after the start, then one every 20-50 ms: 1 + 1480/50 .. 1 + 1480/20 in 1.5 s.
      expect(lines.length).to.be.within(30, 75);
      const issue = fixture('public/issue-6229_v1.13.4-to-v1.13.5_replaced-metadata-logline.txt');
      const line = p.logLines({ sinceLastStart: true }).find((l) => l.includes('Replaced metadata'))!;
      expect(line.replace(/^\S+ +/, '')).to.equal(issue);
      const gaps = lines.slice(1).map((l, i) => l.ts - lines[i]!.ts);
      // Timestamps print whole microseconds; read back at millisecond precision a gap may gain or lose 1 ms.
      for (const g of gaps) expect(g).to.be.within(19, 51);
      expect(new Set(gaps).size, 'the period is jittered').to.be.greaterThan(5);
    });

    it('shows the phantom old peer under the same URI, no leader, pending operations, /readyz 503', async () => {
      const cluster = (await getJson(`${p.url}/cluster`)).body.result;
      expect(cluster.peers[oldId].uri).to.equal(cluster.peers[cluster.peer_id].uri);
      expect(cluster.raft_info.leader).to.equal(null);
      expect(cluster.raft_info.pending_operations).to.be.greaterThan(0);
      const ready = await fetch(`${p.url}/readyz`);
      expect(ready.status).to.equal(503);
      expect(await ready.text()).to.equal('some shards are not ready');
    });

    it('stops logging at the cap', async () => {
      const qsim = newSim();
      const q = await startPeer({ version: '1.13.5', host: '127.0.0.1', port: 0, p2pPort: 0, fault: 'metadata-loop', timing: { ...FAST, loopCap: 10 }, sim: qsim });
      try {
        // Ten lines take at most 20 + 9 * 50 = 470 ms; the next 430 ms add none.
        await qsim.run(900);
        expect(replacedMetadata(q)).to.have.length(10);
        expect((await fetch(`${q.url}/readyz`)).status).to.equal(503);
      } finally {
        await q.stop();
      }
    });
  });

  it('new-peer-id (#6348): the peer comes back under a new id and the others list both ids with one URI', async () => {
    const cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST, sim: newSim() });
    try {
      const oldId = cluster.peer(1).peerId;
      await cluster.peer(1).setMode('new-peer-id');
      const newId = cluster.peer(1).peerId;
      expect(newId).to.not.equal(oldId);
      await waitUntil('the duplicate to be known on qdrant-2', () => (cluster.peer(2).status()!.peers[newId] ? undefined : 'not yet'), { sim: cluster.sim! });
      const peers = (await getJson(`${cluster.peer(2).url}/cluster`)).body.result.peers;
      expect(peers[oldId].uri).to.equal('http://qdrant-1.qdrant-headless:6335/');
      expect(peers[newId].uri).to.equal('http://qdrant-1.qdrant-headless:6335/');
    } finally {
      await cluster.destroy();
    }
  });

  it('a peer restarted under another URI is re-addressed on every peer with a WARN "Replaced address" line', async () => {
    const cluster = await startEmulatorCluster({ peers: 2, version: '1.13.4', timing: FAST, hostnames: false, sim: newSim() });
    try {
      const p1 = cluster.peer(1);
      const oldUri = p1.p2pUri;
      await cluster.restartPeer(1, { uri: `http://${p1.host}:${p1.p2pPort}/renamed` });
      await waitUntil(
        'the new address',
        () => (cluster.peer(0).status()!.peers[p1.peerId] !== oldUri ? undefined : 'old address still recorded'),
        { sim: cluster.sim! },
      );
      const warn = cluster.peer(0).logs().find((r) => r.message.startsWith(`Replaced address of peer ${p1.peerId}`));
      expect(warn?.level).to.equal('WARN');
      expect(warn?.message).to.equal(`Replaced address of peer ${p1.peerId} from ${oldUri} to http://${p1.host}:${p1.p2pPort}/renamed`);
      expect(warn?.line).to.match(/^\S+Z  WARN storage::content_manager::consensus::persistent: Replaced address/);
    } finally {
      await cluster.destroy();
    }
  });

  it('a single peer on 1.13.4 upgraded to 1.13.5 keeps its stale self metadata; on 1.15.0 it refreshes it (docs/qdrant-facts.md#single-peer-stale-metadata)', async () => {
    const sim = newSim();
    const p = await startPeer({ version: '1.13.4', host: '127.0.0.1', port: 0, p2pPort: 0, timing: FAST, sim });
    try {
      await p.waitFor('ready', () => p.status()?.ready === true);
      await p.restart({ version: '1.13.5' });
      await p.waitFor('ready', () => p.status()?.ready === true);
      await sim.run(300);
      expect(p.status()!.metadata).to.deep.equal({ [p.peerId]: '1.13.4' });
      await p.restart({ version: '1.15.0' });
      await p.waitFor('metadata refreshed', () => p.status()?.metadata[p.peerId] === '1.15.0');
      expect(replacedMetadata(p).map((l) => l.to)).to.deep.equal(['PeerMetadata { version: Version { major: 1, minor: 15, patch: 0 } }']);
    } finally {
      await p.stop();
      fs.rmSync(p.rootDir, { recursive: true, force: true });
    }
  });

  it('cluster mode off: "Distributed mode disabled", a static raft_state.json, /cluster disabled (docs/qdrant-facts.md#storage-directory, docs/incident-6229.md)', async () => {
    const p = await startPeer({ version: '1.13.5', host: '127.0.0.1', port: 0, clusterEnabled: false });
    try {
      const first = p.readStateFile()!;
      expect(p.logLines().some((l) => l.endsWith('INFO qdrant: Distributed mode disabled'))).to.equal(true);
      const st = parseRaftState(first);
      expect(st.peerAddressById.size).to.equal(0);
      expect(st.confState.voters).to.deep.equal([p.peerId]);
      expect(st.hardState).to.deep.equal({ term: '0', vote: '0', commit: '0' });
      expect(st.applyProgressQueue).to.equal(null);
      expect(fs.existsSync(path.join(p.storageDir, 'collections_meta_wal'))).to.equal(false);
      expect((await getJson(`${p.url}/cluster`)).body.result).to.deep.equal({ status: 'disabled' });
      await p.restart({ version: '1.13.6' });
      expect(p.readStateFile()).to.equal(first);
      expect(p.logLines({ sinceLastStart: true }).some((l) => l.endsWith(`Loading raft state from ${p.storageDir}/raft_state.json`))).to.equal(true);
    } finally {
      await p.stop();
      fs.rmSync(p.rootDir, { recursive: true, force: true });
    }
  });

  it('peers whose raft_state.json holds ids above 2^53 and first_voter u64::MAX keep them exact (docs/qdrant-facts.md#peer-ids-are-u64)', async () => {
    const legacy = fixture('constructed/legacy-bigint_created-v1.1_running-v1.13.4_cluster-2peer.json');
    const other = legacy.replace('"this_peer_id":11532566549086892528', '"this_peer_id":9834046559507417430');
    const cluster = await startEmulatorCluster({ peers: 2, version: '1.13.4', timing: FAST, stateFiles: [legacy, other], sim: newSim() });
    try {
      const text = await (await fetch(`${cluster.peer(1).url}/cluster`)).text();
      expect(text).to.contain('"peer_id":9834046559507417430');
      expect(text).to.contain('"11532566549086892528":{"uri":"http://qdrant-0.qdrant-headless:6335/"}');
      expect(text).to.match(/"leader":(11532566549086892528|9834046559507417430)/);
      const st = parseRaftState(cluster.peer(0).readStateFile()!);
      expect(st.firstVoter).to.equal('18446744073709551615');
      expect(st.thisPeerId).to.equal('11532566549086892528');
      expect(Number(st.hardState.term)).to.be.greaterThan(12);
      expect(Number(st.hardState.commit)).to.be.greaterThan(988);
      expect(cluster.peer(0).logLines()[2]).to.match(/Loading raft state from .*raft_state\.json$/);
    } finally {
      await cluster.destroy();
    }
  });

  it('the constructed 3-peer fixture states (term 7, commit 1342) form one cluster again', async () => {
    const files = [0, 1, 2].map((i) => fixture(`constructed/v1.13.4_cluster-3peer_qdrant-${i}.json`));
    const cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST, stateFiles: files, sim: newSim() });
    try {
      expect(cluster.peers.map((p) => p.peerId)).to.deep.equal(['3134814695916598', '7820539312201337', '582271843760145']);
      const st = cluster.peer(2).status()!;
      expect(st.term).to.be.greaterThan(7);
      expect(st.commit).to.be.greaterThan(1342);
    } finally {
      await cluster.destroy();
    }
  });

  it('reads a legacy CBOR raft_state when no JSON exists, logs the legacy path and keeps the old file (docs/qdrant-facts.md#storage-directory)', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'qdrant-legacy-'));
    const storage = path.join(root, 'storage');
    fs.mkdirSync(storage, { recursive: true });
    fs.writeFileSync(
      path.join(storage, 'raft_state'),
      encodeCbor({ state: { hard_state: { term: 0, vote: 0, commit: 0 }, conf_state: { voters: [6634329931182203] } }, peer_address_by_id: {}, this_peer_id: 6634329931182203 }),
    );
    const p = await startPeer({ version: '1.13.5', host: '127.0.0.1', port: 0, clusterEnabled: false, rootDir: root });
    try {
      expect(p.logLines().some((l) => l.endsWith(`Loading raft state from ${storage}/raft_state`))).to.equal(true);
      expect(p.peerId).to.equal('6634329931182203');
      expect(fs.existsSync(path.join(storage, 'raft_state'))).to.equal(true);
      expect(parseRaftState(p.readStateFile()!).thisPeerId).to.equal('6634329931182203');
    } finally {
      await p.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses to start on a corrupt raft_state.json, naming the key (Qdrant panics)', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'qdrant-corrupt-'));
    fs.mkdirSync(path.join(root, 'storage'));
    const good = fixture('constructed/v1.13.4_cluster-1peer_qdrant-0.json');
    fs.writeFileSync(path.join(root, 'storage', 'raft_state.json'), good.replace('"vote":1439658109858024', '"vote":-1'));
    try {
      let error: Error | undefined;
      await startPeer({ version: '1.13.5', host: '127.0.0.1', port: 0, p2pPort: 0, rootDir: root }).catch((e: Error) => (error = e));
      expect(error?.message).to.match(/raft_state\.json: raft state: state\.hard_state\.vote is not a u64/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  describe('fault modes', () => {
    let cluster: EmulatorCluster;
    before(async () => {
      cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', timing: FAST, sim: newSim() });
    });
    after(async () => {
      await cluster?.destroy();
    });

    it('lagging: commit behind the leader and pending operations for the given time, then healthy', async () => {
      await cluster.peer(2).setMode({ mode: 'lagging', lagEntries: 2, durationMs: 600 });
      const lagging = (await getJson(`${cluster.peer(2).url}/cluster`)).body.result.raft_info;
      const leader = (await getJson(`${cluster.peer(0).url}/cluster`)).body.result.raft_info;
      expect(lagging.commit).to.be.at.most(leader.commit - 2);
      expect(lagging.pending_operations).to.equal(2);
      expect((await fetch(`${cluster.peer(2).url}/readyz`)).status).to.equal(503);
      await cluster.waitForConvergence({ timeoutMs: 3000 });
      expect((await getJson(`${cluster.peer(2).url}/cluster`)).body.result.raft_info.pending_operations).to.equal(0);
    });

    it('shards-dead: the replica turns Dead on every peer, /readyz 503, and Active again when healed', async () => {
      await cluster.peer(1).setMode('shards-dead');
      const id = cluster.peer(1).peerId;
      await waitUntil('Dead replica on qdrant-0', () => (cluster.peer(0).status()!.collections.demo![0]![id] === 'Dead' ? undefined : 'not yet'), {
        sim: cluster.sim!,
      });
      expect((await fetch(`${cluster.peer(1).url}/readyz`)).status).to.equal(503);
      const remote = (await getJson(`${cluster.peer(0).url}/collections/demo/cluster`)).body.result.remote_shards;
      expect(remote.find((r: { peer_id: number }) => String(r.peer_id) === id)?.state).to.equal('Dead');
      await cluster.peer(1).setMode('healthy');
      await cluster.waitForConvergence({ timeoutMs: 5000 });
    });

    it('not-ready: /readyz 503 for ever while /cluster looks healthy', async () => {
      await cluster.peer(0).setMode('not-ready');
      const r = await fetch(`${cluster.peer(0).url}/readyz`);
      expect([r.status, await r.text()]).to.deep.equal([503, 'some shards are not ready']);
      expect((await getJson(`${cluster.peer(0).url}/cluster`)).body.result.raft_info.role).to.equal('Leader');
      await cluster.peer(0).setMode('healthy');
    });

    it('consensus-stopped: stopped_with_err with the error text', async () => {
      await cluster.peer(2).setMode({ mode: 'consensus-stopped', err: 'disk full' });
      const cts = (await getJson(`${cluster.peer(2).url}/cluster`)).body.result.consensus_thread_status;
      expect(cts).to.deep.equal({ consensus_thread_status: 'stopped_with_err', err: 'disk full' });
      await cluster.peer(2).setMode('healthy');
      await cluster.waitForConvergence({ timeoutMs: 5000 });
    });

    it('unreachable: connection refused, then back with the same id', async () => {
      const id = cluster.peer(1).peerId;
      await cluster.peer(1).setMode('unreachable');
      // The first attempt may land on a pooled keep-alive socket that the stop closed.
      const codes: Array<string | undefined> = [];
      for (let i = 0; i < 2; i++) {
        await fetch(`${cluster.peer(1).url}/`).catch((e: Error & { cause?: { code?: string } }) => codes.push(e.cause?.code));
      }
      expect(codes[codes.length - 1]).to.equal('ECONNREFUSED');
      await cluster.peer(1).setMode('healthy');
      await cluster.waitForConvergence({ timeoutMs: 5000 });
      expect(cluster.peer(1).peerId).to.equal(id);
    });
  });

  describe('as a process (the kubelet stand-in runs it in place of the Qdrant container)', () => {
    const bin = path.join(repoRoot, 'test/support/qdrant-emulator/bin.mjs');
    const children: ChildProcess[] = [];
    let root: string;

    function run(args: string[], env: Record<string, string>, cwd: string): ChildProcess & { out: string[]; exited: Promise<number | null> } {
      const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: string[] = [];
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        out.push(...parts);
      });
      child.stderr!.on('data', (d: Buffer) => out.push(`stderr: ${d.toString()}`));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      children.push(child);
      return Object.assign(child, { out, exited });
    }

    before(() => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'qdrant-emulator-proc-'));
    });
    after(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      fs.rmSync(root, { recursive: true, force: true });
    });

    it('forms a 2-peer cluster through the resolve file, reads config/production.yaml, logs JSON, exits 0 on SIGTERM', async function () {
      this.timeout(40_000);
      const ips = ['127.2.250.11', '127.2.250.12'];
      const resolveFile = path.join(root, 'hosts.json');
      // qdrant-0 is not resolvable yet: qdrant-1 must re-read the file once it appears.
      fs.writeFileSync(resolveFile, JSON.stringify({ 'qdrant-1.qdrant-headless': ips[1] }));
      const pods = [0, 1].map((i) => {
        const dir = path.join(root, `qdrant-${i}`);
        fs.mkdirSync(path.join(dir, 'config'), { recursive: true });
        fs.writeFileSync(path.join(dir, 'config', 'production.yaml'), 'cluster:\n  enabled: true # as the chart sets it\n  p2p:\n    port: 6335\nservice:\n  api_key: "from-config"\n');
        return dir;
      });
      const env = {
        QDRANT__SERVICE__API_KEY: 's3cret',
        QDRANT__LOGGER__FORMAT: 'json',
        QDRANT_EMULATOR_RESOLVE_FILE: resolveFile,
        QDRANT_EMULATOR_TIMING: 'pollMs=50,electionTimeoutMs=300',
      };
      const p1 = run(['--host', ips[1]!, '--storage', path.join(pods[1]!, 'storage'), '--snapshots', path.join(pods[1]!, 'snapshots'), '--version', 'v1.13.5-unprivileged', '--bootstrap', 'http://qdrant-0.qdrant-headless:6335', '--uri', 'http://qdrant-1.qdrant-headless:6335'], { ...env, HOSTNAME: 'qdrant-1' }, pods[1]!);
      const p0 = run(['--host', ips[0]!, '--storage', path.join(pods[0]!, 'storage'), '--snapshots', path.join(pods[0]!, 'snapshots'), '--version', '1.13.5', '--uri', 'http://qdrant-0.qdrant-headless:6335'], { ...env, HOSTNAME: 'qdrant-0' }, pods[0]!);
      const auth = { 'api-key': 's3cret' };
      // Real timers here: a child process on a loaded machine may take seconds to listen, so wait for both.
      for (const [name, p] of [['qdrant-0', p0], ['qdrant-1', p1]] as const) {
        await waitUntil(`${name} to answer`, () => (p.out.some((l) => l.includes('listening on 6333')) ? undefined : p.out.join('\n')), { timeoutMs: 30_000 });
      }
      await sleep(500);
      // Without a name for qdrant-0, qdrant-1 cannot join yet.
      expect(Object.keys((await getJson(`http://${ips[0]}:6333/cluster`, auth)).body.result.peers)).to.have.length(1);
      fs.writeFileSync(resolveFile, JSON.stringify({ 'qdrant-0.qdrant-headless': ips[0], 'qdrant-1.qdrant-headless': ips[1] }));
      let peers: Record<string, unknown> = {};
      for (let i = 0; i < 150 && Object.keys(peers).length < 2; i++) {
        await sleep(100);
        peers = (await getJson(`http://${ips[1]}:6333/cluster`, auth).catch(() => undefined))?.body.result?.peers ?? {};
      }
      expect(Object.values(peers).map((p) => (p as { uri: string }).uri).sort()).to.deep.equal([
        'http://qdrant-0.qdrant-headless:6335/',
        'http://qdrant-1.qdrant-headless:6335/',
      ]);
      expect((await getJson(`http://${ips[1]}:6333/`)).body.version).to.equal('1.13.5');
      expect((await getJson(`http://${ips[1]}:6333/cluster`)).status).to.equal(401);
      const json = p0.out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      expect(json.length).to.be.greaterThan(3);
      expect(json[0]).to.have.keys('timestamp', 'level', 'fields', 'target');
      expect(json.some((j) => j.fields.message === `Initializing new raft state at ${path.join(pods[0]!, 'storage')}/raft_state.json`)).to.equal(true);
      p0.kill('SIGTERM');
      p1.kill('SIGTERM');
      expect(await p0.exited).to.equal(0);
      expect(await p1.exited).to.equal(0);
    });

    it('takes faults from QDRANT_EMULATOR_FAULT and prints text lines by default', async () => {
      const dir = path.join(root, 'faulty');
      fs.mkdirSync(dir, { recursive: true });
      const ip = '127.2.250.21';
      const initFile = path.join(dir, 'init', '.qdrant-initialized');
      const p = run(['--host', ip, '--storage', path.join(dir, 'storage'), '--version', '1.13.5'], { QDRANT_EMULATOR_FAULT: 'not-ready', QDRANT_INIT_FILE_PATH: initFile }, dir);
      await waitUntil('listening', () => (p.out.some((l) => l.includes('listening on 6333')) ? undefined : p.out.join('\n')), { timeoutMs: 15_000 });
      await waitUntil('the init file', () => (fs.existsSync(initFile) ? undefined : 'absent'));
      const r = await fetch(`http://${ip}:6333/readyz`);
      expect(r.status).to.equal(503);
      expect(p.out.some((l) => /^\S+Z  INFO qdrant: Distributed mode disabled$/.test(l))).to.equal(true);
      p.kill('SIGTERM');
      expect(await p.exited).to.equal(0);
    });

    it('exits 2 on a bad fault name or a missing --version', async () => {
      const a = run(['--host', '127.2.250.31', '--storage', path.join(root, 'x')], {}, root);
      expect(await a.exited).to.equal(2);
      const b = run(['--host', '127.2.250.31', '--storage', path.join(root, 'x'), '--version', '1.13.5'], { QDRANT_EMULATOR_FAULT: 'meltdown' }, root);
      expect(await b.exited).to.equal(2);
      expect(b.out.join('\n')).to.match(/unknown QDRANT_EMULATOR_FAULT "meltdown"/);
    });
  });
});
